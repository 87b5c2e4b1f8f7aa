"""Softmax, log-softmax and fused cross-entropy (work in progress)."""

__all__ = []

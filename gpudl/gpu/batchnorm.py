"""Batch normalisation (work in progress)."""

__all__ = []

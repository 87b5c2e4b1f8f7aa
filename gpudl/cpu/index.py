"""Gather and scatter-add along axis 0 (work in progress)."""

__all__ = []

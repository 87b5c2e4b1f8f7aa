"""Elementwise ops with NumPy broadcasting (work in progress)."""

__all__ = []

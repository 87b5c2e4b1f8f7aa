"""Reductions over any set of axes (work in progress)."""

__all__ = []

"""The counter-based (Philox-4x32-10) random generator (work in progress)."""

__all__ = []

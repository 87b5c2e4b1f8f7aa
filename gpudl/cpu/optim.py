"""Multi-tensor optimizer updates (work in progress)."""

__all__ = []

"""Matrix products (GEMM) with a fused bias + activation epilogue (work in progress)."""

__all__ = []

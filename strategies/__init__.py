"""Strategies: one file each, a params dataclass plus numba-compatible signal logic."""

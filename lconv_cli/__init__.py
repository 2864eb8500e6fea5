"""lconv: a Hydra-driven experiment runner for symmetry discovery and Lie-group equivariant networks."""

__version__ = "0.1.0"

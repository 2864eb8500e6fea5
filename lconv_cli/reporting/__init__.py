"""Reporting: figures, result tables and experiment tracking (W&B)."""

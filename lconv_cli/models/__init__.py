"""The shared model zoo: layers and models reused by every experiment."""

from lconv_cli.models.generator import ExpGenerator

__all__ = ["ExpGenerator"]

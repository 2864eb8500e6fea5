"""Reading config values that have a fixed set of valid choices."""

from __future__ import annotations

from collections.abc import Iterable

from lconv_cli.errors import UserError


def choose(value: object, allowed: Iterable[str], key: str) -> str:
    """Return ``value`` if it is one of ``allowed``; else a UserError naming ``key`` and the choices."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise UserError(f"{key} must be one of {', '.join(allowed)}; got {value!r}")
    return str(value)

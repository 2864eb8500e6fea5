"""Terminal output: one shared rich console on stderr, logging handler, progress and tables.

stdout stays clean for ``--cfg`` and results tables; logs and progress bars go to stderr.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping

from rich.console import Console
from rich.table import Table

console = Console(stderr=True)
# Off a terminal (logs, CI, pipes) rich would wrap tables at 80 columns; give them room.
stdout_console = Console() if Console().is_terminal else Console(width=200)


_progress_allowed = True


def allow_progress(allowed: bool) -> None:
    """The runner turns progress bars off for jobs of parallel sweeps (their outputs would interleave)."""
    global _progress_allowed
    _progress_allowed = allowed


def progress_allowed() -> bool:
    return _progress_allowed


def console_handler(level: str = "INFO") -> logging.Handler:
    """Logging handler for the terminal: rich on a TTY, plain lines otherwise (logs, CI)."""
    if console.is_terminal:
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(console=console, show_path=False, markup=False, rich_tracebacks=True)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[%(asctime)s][%(levelname)s] %(message)s", "%H:%M:%S"))
    handler.setLevel(level)
    return handler


def format_number(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) or (value == value and float(value).is_integer() and abs(value) < 1e15):
        return f"{int(value):,}"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.4e}"
    return f"{value:.6f}"


def metrics_table(title: str, metrics: Mapping[str, object]) -> Table:
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.items():
        table.add_row(name, format_number(value))
    return table

"""Where commands write their messages and how they fail."""

from __future__ import annotations

import typer
from rich.console import Console

# soft_wrap: never break a message (a file:line: problem) across lines.
err = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error to stderr and return the Exit to raise."""
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True, markup=True)
    return typer.Exit(code)

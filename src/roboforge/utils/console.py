"""Rich consoles for the command line: messages on stderr, tables and results on stdout.

Emoji codes are off: a user's value such as `loguniform:-1:1` holds `:-1:`, which rich would print as an
emoji inside the very error message that quotes it.

Piped output (a file, `less`, a CI log) is not a terminal; rich would wrap it at 80 columns and split
paths and summary lines, so both consoles soft-wrap messages and give tables a wide page there.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console

PIPED_WIDTH = 200
"""Table width when the output is not a terminal (COLUMNS overrides it)."""


def _width(stream) -> int | None:
    if os.environ.get("COLUMNS") or stream.isatty():
        return None  # rich's own choice: COLUMNS or the terminal's width
    return PIPED_WIDTH


def err_console() -> Console:
    """Messages, progress and errors on stderr."""
    return Console(stderr=True, soft_wrap=True, width=_width(sys.stderr), emoji=False)


def out_console() -> Console:
    """Tables and results on stdout."""
    return Console(width=_width(sys.stdout), emoji=False)


def count(n: int, noun: str) -> str:
    """`n` and `noun`, plural unless `n` is 1: '1 iteration', '3 iterations'."""
    return f"{n} {noun}{'' if n == 1 else 's'}"

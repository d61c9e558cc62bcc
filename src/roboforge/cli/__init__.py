"""`roboforge` command line: one module per command group, registered on one Typer app.

Logic lives in the layers below (rl, export, deploy, service); these modules parse, check and print.
Options that need no torch are checked before the heavy imports, and `run.py` maps every error to
one line and an exit code.
"""

from __future__ import annotations

import faulthandler
import sys

from roboforge.cli import bench, deploy, evaluate, export, plot, serve, sweep, tasks, train  # noqa: F401  (register commands)
from roboforge.cli.app import app
from roboforge.cli.run import parse_overrides

__all__ = ["app", "main", "parse_overrides"]


def main() -> None:
    """Console entry point. A fatal signal inside native code (a segmentation fault, an abort) prints the Python
    stack of every thread before the process dies, so a job's log says where it crashed."""
    faulthandler.enable()
    sys.exit(app())

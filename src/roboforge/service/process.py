"""Process identity and signals: a pid plus its start time names one process, even after pid reuse."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from roboforge.utils.processes import process_exists


def start_token(pid: int) -> str | None:
    """The kernel's start time of `pid` (Linux /proc), '' where /proc is missing; None if no such process."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        text = stat.read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return _exists_token(pid)
    # Fields after the command name (which may contain spaces): state is field 3, starttime field 22.
    fields = text[text.rfind(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None  # a zombie has exited
    return fields[19]


def _exists_token(pid: int) -> str | None:
    return "" if process_exists(pid) else None


def alive(pid: int | None, token: str | None) -> bool:
    """True while the process `pid` that had start token `token` runs."""
    if not pid:
        return False
    current = start_token(pid) if Path("/proc").is_dir() else _exists_token(pid)
    return current is not None and (token is None or current == token or current == "")


def send(pid: int | None, token: str | None, sig: int, group: bool = False) -> bool:
    """Signal the process (or its process group) if it is still the one we started; True if sent."""
    if not pid or not alive(pid, token):
        return False
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def signal_name(returncode: int) -> str:
    """'SIGKILL' for -9 and so on."""
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"

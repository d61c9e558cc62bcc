"""Whether a process id names a running process, for the layers below the job service (which also tells a
reused pid apart by its start time: `service/process.py`)."""

from __future__ import annotations

import os


def process_exists(pid: int) -> bool:
    """True while a process `pid` exists (one of another user counts; a zombie too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True

"""The error types whose message is written for the user, and how each ends a command.

Code that finds bad input raises `UserInputError` (or a subclass such as `ConfigError`) with a
message naming the field and the fix; the command line prints it as one line and exits 2. A run
that stops for a reason the user must act on (a diverged policy) is `TrainingStopped` (exit 1). Every
other exception is a bug: one line saying so, exit 1, `--debug` for the traceback (`roboforge/cli/run.py`).
"""

from __future__ import annotations


class RoboforgeError(Exception):
    """An error meant for the user; `exit_code` and `label` say how the command line reports it."""

    exit_code = 1
    label = "error"


class UserInputError(RoboforgeError, ValueError):
    """Bad input: an option, a config value, a file the user named (exit code 2)."""

    exit_code = 2


class NotFoundError(UserInputError, FileNotFoundError):
    """A file or folder the user named does not exist or holds nothing usable (exit code 2)."""


class TrainingStopped(RoboforgeError):
    """Training stopped and cannot go on without the user (exit code 1)."""

    label = "training stopped"


class GraphCaptureError(RoboforgeError, RuntimeError):
    """A CUDA graph could not be captured (a host sync in the captured code); the message names the switch
    that runs without graphs (exit code 1)."""

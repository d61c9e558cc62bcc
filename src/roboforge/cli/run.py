"""Running a command body: JSON on a clean stdout, and every error mapped to one line and an exit code.

The mapping lives here alone: a usage error of the command line (an unknown command or option, a value of
the wrong type, a missing option) prints click's words and the help to read (exit 2, also with `--debug`); a
`RoboforgeError` (bad input: exit 2; training stopped: exit 1) prints its message; an `OSError` (disk full,
permissions) prints the path and the system's words (exit 1), a failed allocation says what to lower (exit 1; on a CPU
machine an allocation past its free memory fails rather than meeting the OOM killer, host_memory.py); anything
else is a bug and says so (exit 1). `--debug` re-raises instead, for the traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import typer
from rich.markup import escape
from typer._click import Context  # typer 0.26-0.29 (pinned) raises and builds its own copy of click's classes
from typer._click.exceptions import NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from roboforge.utils.console import err_console
from roboforge.utils.errors import RoboforgeError
from roboforge.utils.files import dumps_json
from roboforge.utils.host_memory import memory_ceiling
from roboforge.utils.overrides import parse_items, split_scopes

console = err_console()


@dataclass
class GlobalOptions:
    """Options given before the command (`roboforge --debug train ...`)."""

    debug: bool = bool(os.environ.get("ROBOFORGE_DEBUG"))
    """Show tracebacks instead of one-line errors (also ROBOFORGE_DEBUG=1)."""


OPTIONS = GlobalOptions()


class OneLineUsageErrors(TyperGroup):
    """The app's command group: a usage error while parsing the command line is one `error:` line (exit 2),
    not click's usage text and a box; `--help` and `roboforge` alone print the help as before."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: Context | None = None, **extra: Any
    ) -> Context:
        with _usage_errors_as_one_line():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: Context) -> Any:
        with _usage_errors_as_one_line():  # the command's name, then its options and arguments
            return super().invoke(ctx)


@contextlib.contextmanager
def _usage_errors_as_one_line() -> Iterator[None]:
    """Report a click usage error with `usage_line` (exit 2); the help click prints for no arguments stays."""
    try:
        yield
    except NoArgsIsHelpError:
        raise
    except UsageError as err:
        fail(usage_line(err))


def usage_line(err: UsageError) -> str:
    """click's words for a usage error and the help to read, on one line: 'No such option: --num-env
    (Possible options: --no-resume, --num-envs); see roboforge train --help.'"""
    words = " ".join(err.format_message().split()).rstrip(".")
    command = err.ctx.command_path if err.ctx is not None else "roboforge"
    see = " See" if words.endswith("?") else "; see"  # "... Did you mean 'train'? See roboforge --help."
    return f"{words}{see} {command} --help."


def parse_overrides(items: list[str] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split 'env.x=1' / 'agent.y=2' items into env and agent override dicts (paths without scope)."""
    return split_scopes(parse_items(items))


def run_command(fn: Callable[[], Any], as_json: bool = False, bounded_memory: bool = True) -> Any:
    """Run a command body; with `as_json`, anything libraries print goes to stderr and the body's
    returned dict is the only thing on stdout (strict JSON: NaN becomes null). With `bounded_memory`, an
    allocation past the machine's free memory fails as one line (utils/host_memory.py)."""
    ceiling = memory_ceiling() if bounded_memory else contextlib.nullcontext()
    try:
        if not as_json:
            with ceiling:
                return fn()
        with _stdout_to_stderr(), ceiling:
            payload = fn()
        if payload is not None:  # e.g. the ranks of a distributed run other than rank 0
            print(dumps_json(payload), flush=True)
    except typer.Exit:
        raise
    except Exception as err:
        report(err)


OUT_OF_MEMORY_WORDS = ("can't allocate memory", "Cannot allocate memory", "Could not allocate memory",
                       "out of memory")  # fmt: skip
"""How torch's CPU allocator, CUDA and Warp (RuntimeError) and MuJoCo (mujoco.FatalError) say an allocation
failed."""


def out_of_memory(err: Exception) -> bool:
    """True when `err` is a failed allocation of host or device memory, not a bug."""
    if isinstance(err, MemoryError) or type(err).__name__ == "OutOfMemoryError":  # numpy; torch.cuda
        return True
    raised_by_allocators = isinstance(err, RuntimeError) or type(err).__name__ == "FatalError"
    return raised_by_allocators and any(w in str(err) for w in OUT_OF_MEMORY_WORDS)


def report(err: Exception) -> None:
    """Print `err` as one line and exit with its code (see the module docstring)."""
    if OPTIONS.debug:
        raise err
    if isinstance(err, RoboforgeError):
        fail(str(err), err.exit_code, err.label)
    if isinstance(err, OSError):
        fail(os_error_line(err), 1)
    if out_of_memory(err):
        fail(
            f"out of memory: {err}; use fewer worlds (--num-envs), a smaller scene (e.g. -o env.scene.terrain.*) or "
            "smaller agent sizes (-o agent.*: steps per rollout, replay buffer, network layers), or free memory, "
            "then run it again.",
            1,
        )
    fail(
        f"{type(err).__name__}: {err} (an internal error; run with --debug for the traceback and report it)",
        1,
    )


def os_error_line(err: OSError) -> str:
    """`PATH: reason; what to check` for a failed file operation (not Python's `[Errno 2] ...: 'PATH'`), the
    system's words for one without a path (a refused socket)."""
    if err.filename is None or not err.strerror:
        return str(err)
    path = str(err.filename) if err.filename2 is None else f"{err.filename} -> {err.filename2}"
    return f"{path}: {err.strerror}; check the path, its permissions and the free space, then run it again."


def fail(message: str, code: int = 2, label: str = "error") -> None:
    """Print `label: message` on stderr and exit with `code`."""
    console.print(f"[bold red]{label}:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code=code)


@contextlib.contextmanager
def _stdout_to_stderr():
    """Send everything written to stdout to stderr, Python prints and C-level writes to fd 1 alike
    (MuJoCo Warp's kernel printf warnings), so `--json` output stays parseable."""
    sys.stdout.flush()
    saved_fd = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_initialized():
            torch.cuda.synchronize()  # device printf buffers flush at a sync: let them land on stderr
        sys.stdout.flush()
        os.dup2(saved_fd, 1)
        os.close(saved_fd)

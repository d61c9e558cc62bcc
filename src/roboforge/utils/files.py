"""Crash-safe file writes (write to a temporary file in the same folder, fsync, then rename; a set of files
staged in a sibling folder, then moved in), and the one check that a path to write under is not blocked by
a file."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from roboforge.utils.errors import UserInputError
from roboforge.utils.processes import process_exists


def check_folder(option: str, path: Path, *, file: bool = False) -> None:
    """Raise UserInputError naming `option` when `path` (a folder, or with `file` the folder of a file to
    write), or the nearest part of it that exists, is a file: one line instead of mkdir's errno."""
    folder = path.parent if file else path
    for part in (folder, *folder.parents):
        if part.exists():
            if part.is_dir():
                return
            what = f"{option} {path}" + ("" if part == path else f": {part}")
            raise UserInputError(f"{what} is a file, not a folder; give another path (folders are created).")


def atomic_write(path: str | Path, write: Callable[[Any], None], binary: bool = True) -> Path:
    """Call `write(file)` on a temp file next to `path`, then atomically replace `path` with it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@contextlib.contextmanager
def staged_folder(folder: str | Path) -> Iterator[Path]:
    """A folder beside `folder` to write a set of files into. When the block ends without an error, each file
    replaces its namesake in `folder` (whole, by rename); after an error, Ctrl-C or SIGTERM the staged files
    are deleted and `folder` is as it was. Staging folders of killed processes are removed first."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    for stale in folder.parent.glob(f".{folder.name}.staging-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if not (pid.isdigit() and process_exists(int(pid))):
            shutil.rmtree(stale, ignore_errors=True)
    stage = folder.parent / f".{folder.name}.staging-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    try:
        stage.mkdir()
    except OSError as err:  # name the folder the user gave, not the hidden staging folder
        raise OSError(err.errno, err.strerror, str(folder)) from err
    try:
        yield stage
        for path in sorted(p for p in stage.rglob("*") if p.is_file()):
            target = folder / path.relative_to(stage)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def remove_stale_temp_files(folder: str | Path) -> list[Path]:
    """Delete temp files that `atomic_write` left in `folder` when its process was killed mid-write
    (the files they were meant to replace are intact). Call before a new writer starts there."""
    stale = sorted(Path(folder).glob(".*.tmp"))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def json_safe(data: Any) -> Any:
    """`data` with NaN and infinite floats replaced by None (JSON has no NaN), recursively."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: json_safe(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_safe(v) for v in data]
    return data


def dumps_json(data: Any, indent: int | None = 2) -> str:
    """Strict JSON text of `data`: NaN/infinity become null, other objects their `str`."""
    return json.dumps(json_safe(data), indent=indent, default=str, allow_nan=False)


def atomic_write_json(path: str | Path, data: Any) -> Path:
    """Write `data` as indented strict JSON (NaN as null) to `path` atomically."""
    return atomic_write(path, lambda f: f.write(dumps_json(data)), binary=False)

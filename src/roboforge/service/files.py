"""A job's folder: `jobs/<job_id>/` with `job.log`, `job.json` (the job's record), the launcher's
`launcher.json`/`exit.json` (and `export_launcher.json`/`export_exit.json` of exports), the service's
stop request `stop.json` (which the launcher polls, on any executor) and the run folder
`<task>/<timestamp>/`.

Everything that turns a name from a request into a path lives here, and nothing here returns a path
outside the job's folder (names are checked, symlinks resolved, the result must stay inside).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from roboforge.service.errors import disk_space
from roboforge.utils.files import atomic_write_json

JOB_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
LOG_NAME = "job.log"
EXIT_NAME = "exit.json"
PID_NAME = "launcher.json"
EXPORT_EXIT_NAME = "export_exit.json"
EXPORT_PID_NAME = "export_launcher.json"
STOP_NAME = "stop.json"
_CHECKPOINT_RE = re.compile(r"^model_(\d+)\.(pt|pth|zip)$")
"""Checkpoints of every library: `model_<n>.pt` (rsl_rl, skrl), `.pth` (rl_games), `.zip` (sb3)."""
_CLIP_RE = re.compile(r"^iter_(\d+)\.mp4$")
"""Training clips `<run>/videos/iter_<n>.mp4` (`train --video-interval`; `.part.mp4` while being written)."""
_TENSORBOARD_PREFIX = "events.out.tfevents."
_RUN_FILES = ("metrics.jsonl", "summary.json")


def new_job_id(task: str) -> str:
    """A fresh id such as `rl_cartpole_direct_5f2a9c1e` (letters, digits, `_`)."""
    slug = re.sub(r"[^a-z0-9]+", "_", task.lower()).strip("_")[:40] or "job"
    return f"rl_{slug}_{secrets.token_hex(4)}"


def valid_job_id(job_id: str) -> bool:
    return bool(JOB_ID_RE.match(job_id))


def job_folder(jobs_dir: Path, job_id: str) -> Path:
    """`jobs_dir/<job_id>`; an id that is not a plain name raises ValueError."""
    if not valid_job_id(job_id):
        raise ValueError(f"Invalid job id {job_id!r}.")
    return jobs_dir / job_id


def find_run_dir(job_dir: Path, task: str) -> Path | None:
    """The newest run folder `job_dir/<task>/<timestamp>/` the trainer created, or None."""
    root = job_dir / task
    if not root.is_dir():
        return None
    runs = sorted(p for p in root.iterdir() if p.is_dir() and (p / "params").is_dir())
    return runs[-1] if runs else None


def completed_iterations(run_dir: Path | None) -> int:
    """Iterations a resume starts after: n + 1 for the latest checkpoint `model_<n>.<pt|pth|zip>`, 0 without one."""
    if run_dir is None or not run_dir.is_dir():
        return 0
    found = [
        int(m.group(1)) for p in run_dir.iterdir() if (m := _CHECKPOINT_RE.match(p.name)) and p.is_file()
    ]
    return max(found) + 1 if found else 0


def write_json(path: Path, record: dict[str, Any]) -> None:
    """Write `record` to `path` atomically (`atomic_write_json`); a full disk is DiskFull."""
    with disk_space(path):
        atomic_write_json(path, record)


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in `path`, or None (missing, unreadable or not an object)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def read_exit(job_dir: Path, attempt: int, name: str = EXIT_NAME) -> dict[str, Any] | None:
    """The exit record the launcher wrote for `attempt`, or None (none yet, or an older attempt's)."""
    path = job_dir / name
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("attempt") != attempt:
        return None
    return record


def read_launcher(job_dir: Path, attempt: int, name: str = PID_NAME) -> tuple[int, str | None] | None:
    """(pid, start token) the launcher of `attempt` recorded for itself, or None."""
    try:
        record = json.loads((job_dir / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (
        not isinstance(record, dict)
        or record.get("attempt") != attempt
        or not isinstance(record.get("pid"), int)
    ):
        return None
    return record["pid"], record.get("token")


def write_stop(job_dir: Path, attempt: int, reason: str) -> None:
    """Ask the launcher of `attempt` to stop its job (it polls this file: the request reaches it on any
    executor, also on another machine that sees the job folder); written atomically."""
    stamp = datetime.now(timezone.utc).isoformat()
    write_json(job_dir / STOP_NAME, {"attempt": attempt, "reason": reason, "requested_at": stamp})


def read_stop(job_dir: Path, attempt: int) -> str | None:
    """The reason of a stop request for `attempt`, or None (none, or one for another attempt)."""
    record = read_json(job_dir / STOP_NAME)
    if record is None or record.get("attempt") != attempt:
        return None
    return str(record.get("reason") or "stop requested")


def append_log(job_dir: Path, line: str) -> None:
    """Append one line to the job's log (service messages such as 'queued', 'resumed')."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    with disk_space(job_dir / LOG_NAME):
        job_dir.mkdir(parents=True, exist_ok=True)
        with (job_dir / LOG_NAME).open("a", encoding="utf-8") as f:
            f.write(f"[roboforge-service {stamp} UTC] {line}\n")


def tail_bytes(path: Path, lines: int | None) -> bytes:
    """The last `lines` lines of a file (all of it when None); b'' when missing."""
    return read_tail(path, lines)[0]


def read_tail(path: Path, lines: int | None, block: int = 65536) -> tuple[bytes, int]:
    """(last `lines` lines, or all when None; the file size they end at); (b'', 0) when missing."""
    try:
        f = path.open("rb")
    except OSError:
        return b"", 0
    with f:
        if lines is None:
            data = f.read()
            return data, len(data)
        end = f.seek(0, 2)
        pos, data = end, b""
        while pos > 0 and data.count(b"\n") <= lines:
            pos = max(0, pos - block)
            f.seek(pos)
            data = f.read(end - pos)
        parts = data.split(b"\n")
        trailing = parts[-1] == b""
        keep = parts[-(lines + 1) :] if trailing else parts[-lines:]
        return b"\n".join(keep), end


def failure_summary(log_path: Path, returncode: int | None) -> str:
    """One line for a failed job: the last error line of its log, and the exit code."""
    text = tail_bytes(log_path, 60).decode("utf-8", "replace")
    error_line = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[roboforge-"):
            continue
        if re.match(r"^(error:|training stopped:|[A-Za-z_.]*(Error|Exception|Interrupt)\b)", stripped):
            error_line = stripped
    code = f"exit code {returncode}" if returncode is not None else "no exit code"
    return f"{error_line} ({code})" if error_line else f"the training process ended with {code}"


class MetricsTail:
    """Reads the complete lines appended to a run's `metrics.jsonl` since the last call."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0

    def skip_to_end(self) -> None:
        """Read only what is appended from now on."""
        try:
            self.offset = self.path.stat().st_size
        except OSError:
            self.offset = 0

    def read_new(self) -> list[dict[str, Any]]:
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        return _parse_lines(data[: end + 1])


def _parse_lines(data: bytes) -> list[dict[str, Any]]:
    records = []
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("iteration"), int):
            records.append(record)
    return records


def read_metric_records(run_dir: Path | None) -> list[dict[str, Any]]:
    """All records of a run, one per iteration (after a resume the newer record of an iteration wins)."""
    if run_dir is None:
        return []
    try:
        data = (run_dir / "metrics.jsonl").read_bytes()
    except OSError:
        return []
    by_iteration = {r["iteration"]: r for r in _parse_lines(data)}
    return [by_iteration[k] for k in sorted(by_iteration)]


def repair_metrics_tail(run_dir: Path) -> bool:
    """Cut a half-written last line (a process killed mid-write) so appended records stay readable."""
    path = run_dir / "metrics.jsonl"
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if not data or data.endswith(b"\n"):
        return False
    with path.open("r+b") as f:
        f.truncate(data.rfind(b"\n") + 1)
    return True


@dataclass
class Artifact:
    """A downloadable file of a job."""

    path: str
    """Path relative to the job folder (posix)."""
    kind: str
    """checkpoint, onnx, torchscript, export-metadata, metrics, summary, config, tensorboard, video or log."""
    size: int
    modified: datetime


def _artifact_kind(rel: Path) -> str | None:
    name = rel.name
    if _CHECKPOINT_RE.match(name):
        return "checkpoint"
    if name.endswith(".onnx"):
        return "onnx"
    if rel.parent.name == "exported" and name.endswith(".pt"):
        return "torchscript"  # `roboforge export --format jit` writes <run>/exported/policy.pt
    if rel.parts == (LOG_NAME,):
        return "log"
    if name.startswith(_TENSORBOARD_PREFIX):
        return "tensorboard"
    if rel.parent.name == "videos" and _CLIP_RE.match(name):
        return "video"
    if name in _RUN_FILES:
        return name.split(".")[0]
    if rel.parent.name == "params" and name.endswith(".json"):
        return "config"
    return None


def list_artifacts(job_dir: Path) -> list[Artifact]:
    """Checkpoints, ONNX exports (with JSON files beside them), metrics, tensorboard event files, configs
    and the log of a job."""
    root = job_dir.resolve()
    if not root.is_dir():
        return []
    found: list[Artifact] = []
    onnx_dirs = {p.parent for p in root.rglob("*.onnx") if _inside(p, root)}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_symlink() or not path.is_file() or any(part.startswith(".") for part in rel.parts):
            continue  # hidden: temp files of atomic writes, an export's staging folder
        kind = _artifact_kind(rel)
        if (
            kind is None
            and (path.parent in onnx_dirs or path.parent.name == "exported")
            and path.suffix == ".json"
        ):
            kind = "export-metadata"
        if kind is None:
            continue
        stat = path.stat()
        found.append(
            Artifact(rel.as_posix(), kind, stat.st_size, datetime.fromtimestamp(stat.st_mtime, timezone.utc))
        )
    return found


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root) and not path.is_symlink()
    except OSError:
        return False


def latest_clip(job_dir: Path, run_dir: Path) -> Path | None:
    """The training clip `run_dir/videos/iter_<n>.mp4` of the highest n (a plain file inside `job_dir`), or
    None."""
    folder = run_dir / "videos"
    if not folder.is_dir():
        return None
    clips = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _CLIP_RE.match(p.name))]
    for _, path in sorted(clips, reverse=True):
        if path.is_file() and _inside(path, job_dir.resolve()):
            return path
    return None


def resolve_artifact(job_dir: Path, name: str) -> Path | None:
    """The file `name` (relative to the job folder) if it is one of the job's artifacts, else None."""
    if not name or "\\" in name or "\x00" in name or name.startswith("/"):
        return None
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    allowed = {a.path for a in list_artifacts(job_dir)}
    if name not in allowed:
        return None
    path = (job_dir / name).resolve()
    return path if _inside(path, job_dir.resolve()) else None

"""scripts/carry.sh: files brought back from a GPU session survive a new checkout through git history only."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "carry.sh"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def _carry(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "scripts/carry.sh", *args], cwd=repo, capture_output=True, text=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository like the project's: runs/ ignored, one commit, the script tracked."""
    root = tmp_path / "project"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(SCRIPT, root / "scripts" / "carry.sh")
    (root / ".gitignore").write_text("runs/\n")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.email", "test@example.com")
    _git(root, "config", "user.name", "test")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "start")
    return root


def _write(repo: Path, rel: str, data: bytes) -> Path:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_saved_files_leave_the_tree_and_a_fresh_clone_restores_the_newest(repo: Path, tmp_path: Path) -> None:
    run = "runs/carry/s1/stack/2026-12-06_06-07-58"
    _write(repo, f"{run}/model_10.pt", b"\x00weights-10")
    _write(repo, f"{run}/params/env.json", b"{}")
    assert _carry(repo, "save", run).returncode == 0
    assert _git(repo, "ls-files", "runs") == ""  # nothing in the tree travels with a device call
    assert _git(repo, "status", "--porcelain") == ""
    assert (repo / run / "model_10.pt").exists()  # and the local copy stays

    _write(repo, f"{run}/params/env.json", b'{"new": 1}')  # saved again: the newer version wins
    _write(repo, "runs/carry/warp-cache.tgz", b"cache")
    assert _carry(repo, "save", f"{run}/params/env.json", "runs/carry/warp-cache.tgz").returncode == 0

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    assert not (clone / "runs").exists()
    done = _carry(clone, "restore")
    assert done.returncode == 0, done.stderr
    assert "restored 3 files" in done.stdout
    assert (clone / run / "model_10.pt").read_bytes() == b"\x00weights-10"
    assert (clone / run / "params/env.json").read_bytes() == b'{"new": 1}'
    assert (clone / "runs/carry/warp-cache.tgz").read_bytes() == b"cache"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["save"], "name the files or folders under runs/carry/"),
        (["save", "README.md"], "README.md is not under runs/carry/"),
        (["save", "runs/carry/missing"], "runs/carry/missing does not exist"),
        (["push"], "unknown command 'push'"),
    ],
)
def test_bad_input_is_one_line_and_commits_nothing(repo: Path, args: list[str], message: str) -> None:
    head = _git(repo, "rev-parse", "HEAD")
    done = _carry(repo, *args)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}")
    assert _git(repo, "rev-parse", "HEAD") == head

"""Shared helpers of the command-line tests: an in-process runner and one short cartpole run."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from roboforge.cli import app

runner = CliRunner()
ENV = {"COLUMNS": "200", "NO_COLOR": "1"}


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], env=ENV)


def one_line_error(result, *needles: str, code: int = 2) -> None:
    """Exit `code` (2: bad input), one line starting with 'error:' naming every needle, no traceback."""
    assert result.exit_code == code, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    for needle in needles:
        assert needle in lines[0], lines[0]


def flat(text: str) -> str:
    """Output with line wraps undone (rich wraps long messages)."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory) -> Path:
    """`roboforge train cartpole` for 3 iterations; returns the run folder."""
    root = tmp_path_factory.mktemp("runs")
    result = invoke(
        "train",
        "cartpole",
        "--num-envs",
        64,
        "--max-iterations",
        3,
        "--run-dir",
        root,
        "--device",
        "cpu",
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    runs = list((root / "cartpole").iterdir())
    assert len(runs) == 1
    return runs[0]

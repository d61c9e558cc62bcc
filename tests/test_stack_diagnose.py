"""`scripts/stack_diagnose.py` (the measurements of docs/stack-release.md) runs on a stack checkpoint."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from export_util import run_folder

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "stack_diagnose.py"


def test_stack_diagnose_prints_every_measurement(tmp_path):
    _, checkpoint = run_folder("stack-cube-panda", tmp_path)
    out = subprocess.run(
        [sys.executable, str(SCRIPT), str(checkpoint), "--num-envs", "2", "--open-at", "5", "--smooth-arm"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    values = dict(line.rsplit(None, 1) for line in out.stdout.strip().splitlines())
    values = {name.strip(): value for name, value in values.items()}
    assert {
        "stacked share of world-steps",
        "stacked at step 5",
        "still stacked 60 steps after opening",
        "policy's arm: still stacked 60 steps after opening",
        "policy's arm: palm touched A after opening",
    } <= set(values), values
    assert 0.0 <= float(values["stacked share of world-steps"]) <= 1.0
    assert float(values["still stacked 60 steps after opening"]) <= float(values["stacked at step 5"]) <= 2.0
    stacked = float(values["policy's arm: stacked at step 5"])
    assert float(values["policy's arm: still stacked 60 steps after opening"]) <= stacked
    assert float(values["policy's arm: palm touched A after opening"]) <= stacked

"""`roboforge sweep --parallel K`: trials train at the same time, and SIGTERM stops every running one with
its checkpoint and leaves no process behind. (Trials as Ray jobs: tests/test_service_ray.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cli_util import flat, invoke
from roboforge.rl.checkpoints import latest_checkpoint
from service_util import JOB_ENV, children, wait_for

LR = "agent.algorithm.learning_rate=loguniform:1e-4:1e-2"


@pytest.mark.parametrize("parallel", ["0", "65"])
def test_parallel_out_of_range_is_one_line(parallel):
    result = invoke("sweep", "cartpole", "--param", LR, "--device", "cpu", "--parallel", parallel)
    assert result.exit_code == 2, result.output
    assert f"--parallel {parallel}: run 1 to 64 trials at a time" in flat(result.output)


def test_ray_address_without_a_cluster_is_one_line(tmp_path):
    result = invoke(
        "sweep", "cartpole", "--param", LR, "--device", "cpu", "--num-envs", "8", "--max-iterations", "1",
        "--ray-address", "http://127.0.0.1:9", "--run-dir", str(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "Cannot reach the Ray cluster's Jobs API at http://127.0.0.1:9" in flat(result.output)
    assert "Traceback" not in result.output


def _trial_runs(sweep_root: Path) -> list[Path]:
    return sorted(p.parent for p in sweep_root.glob("sweeps/cartpole/*/trial_*/*/*/metrics.jsonl"))


def _with_records(sweep_root: Path) -> list[Path]:
    return [run for run in _trial_runs(sweep_root) if (run / "metrics.jsonl").read_text().strip()]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_parallel_trials_run_at_once_and_sigterm_stops_each_with_a_checkpoint(tmp_path):
    cmd = [sys.executable, "-m", "roboforge", "sweep", "cartpole", "--param", LR, "--trials", "4",
           "--parallel", "2", "--device", "cpu", "--num-envs", "32", "--max-iterations", "2000",
           "-o", "agent.save_interval=1000", "--run-dir", str(tmp_path), "--json"]  # fmt: skip
    sweep = subprocess.Popen(
        cmd, env={**os.environ, **JOB_ENV}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        # two trials log iterations at the same time: they run in parallel, not one after the other
        wait_for(lambda: len(_with_records(tmp_path)) == 2, 150, "two trials training at once", interval=0.5)
        trial_pids = children(sweep.pid)
        assert len(trial_pids) == 2, trial_pids
        sweep.send_signal(signal.SIGTERM)
        out, err = sweep.communicate(timeout=150)
    finally:
        if sweep.poll() is None:
            sweep.kill()
            sweep.wait()
    assert sweep.returncode == 130 and "Traceback" not in err, err[-2000:]
    assert "stopped by Ctrl-C or SIGTERM" in err and "KeyboardInterrupt" not in err, err[-2000:]
    reported = json.loads(out)  # the trials so far are reported, as eval reports the episodes so far
    assert reported["interrupted"] and [t["state"] for t in reported["trials"]] == ["fail", "fail"], reported
    for pid in trial_pids:  # no trial left behind
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
    runs = _trial_runs(tmp_path)
    assert len(runs) == 2, runs  # the other two trials never started
    for run in runs:  # each stopped trial saved a checkpoint on the way out (save_interval is 1000)
        assert latest_checkpoint(run) is not None, run
        assert json.loads((run / "summary.json").read_text())["iterations"] < 2000
    record = json.loads(next(tmp_path.glob("sweeps/cartpole/*/sweep.json")).read_text())
    assert len(record["trials"]) == 2 and record["best"] is None and record["interrupted"]


class _SilentHead:
    """A Jobs API client whose cluster went away: every request is refused."""

    def get_job_status(self, submission_id):
        raise ConnectionRefusedError(111, "Connection refused")

    stop_job = get_job_status


def test_a_ray_cluster_that_stops_answering_mid_sweep_is_one_line():
    pytest.importorskip("ray")
    from roboforge.rl.sweep_trials import RayTrial
    from roboforge.utils.errors import UserInputError

    trial = RayTrial(_SilentHead(), "http://head:8265", "sweep-cartpole-x-trial-0")
    for call in (trial.poll, trial.kill):
        with pytest.raises(
            UserInputError, match=r"Cannot reach the Ray cluster's Jobs API at http://head:8265"
        ):
            call()

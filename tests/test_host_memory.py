"""Running out of host memory: the ceiling of a command (utils/host_memory.py, a real RLIMIT_AS on this process
with the machine's free memory read from a stand-in /proc/meminfo), which failures count as out of memory, and
the one line a command prints for one."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import mujoco
import numpy as np
import pytest

from roboforge.cli.run import out_of_memory
from roboforge.utils import host_memory
from roboforge.utils.host_memory import ceiling_bytes, memory_ceiling

GIB = 1 << 30


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """A CPU machine (no NVIDIA driver) whose free memory the test sets: `machine(bytes)`."""
    monkeypatch.setattr(host_memory, "NVIDIA_DRIVER", tmp_path / "no-driver")

    def with_available(available: int) -> None:
        meminfo = tmp_path / "meminfo"
        meminfo.write_text(f"MemTotal:       99999999 kB\nMemAvailable:   {available // 1024} kB\n")
        monkeypatch.setattr(host_memory, "MEMINFO", meminfo)

    return with_available


def test_an_allocation_past_the_free_memory_fails_with_memory_error_and_the_limit_is_restored(machine):
    machine(GIB // 2)
    before = resource.getrlimit(resource.RLIMIT_AS)
    with memory_ceiling():
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        assert soft == ceiling_bytes()
        small = np.ones(GIB // 16, dtype=np.uint8)  # 64 MB of the 460 MB allowed
        assert small.sum() == GIB // 16
        with pytest.raises(MemoryError):
            np.ones(4 * GIB, dtype=np.uint8)
    assert resource.getrlimit(resource.RLIMIT_AS) == before
    assert np.empty(4 * GIB, dtype=np.uint8).nbytes == 4 * GIB  # mapped, not filled: fine without the ceiling


def test_the_ceiling_is_what_is_mapped_plus_most_of_the_free_memory(machine):
    machine(10 * GIB)
    mapped = host_memory._kib_field(host_memory.STATUS, "VmSize")
    assert mapped is not None
    ceiling = ceiling_bytes()
    assert ceiling is not None
    assert mapped + 8.9 * GIB < ceiling < mapped + 9.1 * GIB


def test_a_tighter_limit_already_set_stays(machine):
    machine(100 * GIB)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    tighter = host_memory._kib_field(host_memory.STATUS, "VmSize") + 2 * GIB
    resource.setrlimit(resource.RLIMIT_AS, (tighter, hard))
    try:
        with memory_ceiling():
            assert resource.getrlimit(resource.RLIMIT_AS)[0] == tighter
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def test_no_ceiling_where_an_nvidia_driver_is_loaded_or_proc_is_missing(machine, monkeypatch, tmp_path):
    machine(GIB)
    driver = tmp_path / "driver"
    driver.mkdir()
    monkeypatch.setattr(host_memory, "NVIDIA_DRIVER", driver)  # CUDA maps far more than it fills
    assert ceiling_bytes() is None
    monkeypatch.setattr(host_memory, "NVIDIA_DRIVER", tmp_path / "no-driver")
    monkeypatch.setattr(host_memory, "MEMINFO", tmp_path / "missing")  # not Linux
    assert ceiling_bytes() is None
    before = resource.getrlimit(resource.RLIMIT_AS)
    with memory_ceiling():
        assert resource.getrlimit(resource.RLIMIT_AS) == before


def test_running_out_of_memory_is_one_line_that_says_what_to_lower(tmp_path):
    def limit_memory():  # a machine with 2 GB: enough to start, not for a 6.5 GB rollout storage
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    cmd = [sys.executable, "-m", "roboforge", "train", "cartpole", "--device", "cpu", "--num-envs", "4096",
           "-o", "agent.num_steps_per_env=100000",
           "--max-iterations", "1", "--run-dir", str(tmp_path)]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, preexec_fn=limit_memory, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "error: out of memory: " in done.stderr and "--num-envs" in done.stderr
    assert (
        "steps per rollout" in done.stderr
    )  # what this run raised (agent.num_steps_per_env), not only worlds
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr


def test_a_failed_allocation_of_any_library_is_out_of_memory_and_nothing_else_is():
    failed = [
        MemoryError("Unable to allocate 19.4 GiB for an array"),  # numpy
        RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 6553600000 bytes"),
        RuntimeError("Warp CUDA error 2: out of memory"),
        mujoco.FatalError("Could not allocate memory"),  # MuJoCo's MjData of a million Go1 worlds
    ]
    assert all(out_of_memory(err) for err in failed)
    bugs = [
        ValueError("out of memory"),
        RuntimeError("index 7 is out of range"),
        mujoco.FatalError("bad model"),
    ]
    assert not any(out_of_memory(err) for err in bugs)


def test_a_share_of_the_machine_scales_the_headroom_and_passes_on_to_children(machine, monkeypatch):
    """Trainings side by side (sweep trials, service jobs) each get their part of the free memory."""
    machine(8 * GIB)
    whole = ceiling_bytes()
    monkeypatch.setenv(host_memory.MEMORY_SHARE_ENV, "0.25")
    quarter = ceiling_bytes()
    assert whole is not None and quarter is not None
    assert abs((whole - quarter) - 0.9 * 0.75 * 8 * GIB) < 64 << 20  # VmSize moves a little between reads
    assert host_memory.shared_by(4) == {host_memory.MEMORY_SHARE_ENV: "0.0625"}  # 0.25 shared four ways
    monkeypatch.delenv(host_memory.MEMORY_SHARE_ENV)
    assert host_memory.shared_by(2) == {host_memory.MEMORY_SHARE_ENV: "0.5"}


@pytest.mark.parametrize("value", ["abc", "0", "1.5", "-0.5", "nan"])
def test_a_share_out_of_range_is_one_line_naming_the_variable(machine, monkeypatch, value):
    from roboforge.utils.errors import UserInputError

    machine(GIB)
    monkeypatch.setenv(host_memory.MEMORY_SHARE_ENV, value)
    with pytest.raises(UserInputError, match=rf"ROBOFORGE_MEMORY_SHARE='{value}': give a number above 0"):
        ceiling_bytes()


def test_parallel_sweep_trials_each_start_with_their_part_of_the_memory(tmp_path, monkeypatch):
    """A real child process of `LocalTrials(3)` under a sweep holding half the machine sees 1/6."""
    from roboforge.rl.sweep_trials import LocalTrials

    monkeypatch.setenv(host_memory.MEMORY_SHARE_ENV, "0.5")
    log = tmp_path / "trial.log"
    command = [sys.executable, "-c", f"import os; print(os.environ['{host_memory.MEMORY_SHARE_ENV}'])"]
    trial = LocalTrials(3)(command, tmp_path, log, 0)
    try:
        trial.proc.wait(timeout=30)
    finally:
        trial.kill()
    assert float(log.read_text()) == pytest.approx(1 / 6)

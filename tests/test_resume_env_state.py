"""A resumed run continues the env where its checkpoint left it: terrain levels and the step count that
reward-weight schedules read (`env_<n>.pt` beside `model_<n>.pt`)."""

from __future__ import annotations

import pytest
import torch

from cli_util import flat, invoke
from roboforge.rl.checkpoints import env_state_path, latest_checkpoint, read_env_state
from roboforge.rl.session import build_session
from roboforge.rl.trainer import Trainer
from roboforge.utils.errors import UserInputError

TASK = "velocity-rough-go1"
STEPS = 4
"""Env steps per iteration in these runs (the task's 24 would only make them slower)."""


def _session(num_envs: int = 4, env_state: dict | None = None):
    return build_session(
        TASK,
        num_envs=num_envs,
        device="cpu",
        agent_overrides={"num_steps_per_env": STEPS},
        env_state=env_state,
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Two iterations of a run whose worlds had climbed to levels 5-8: its folder and final terrain levels."""
    run_dir = tmp_path_factory.mktemp("rough_run")
    s = _session()
    s.env.scene.terrain.terrain_levels[:] = torch.tensor([5, 6, 7, 8])
    Trainer(s, run_dir, max_iterations=2, quiet=True).train()
    return run_dir, s.env.scene.terrain.terrain_levels.clone()


def test_each_checkpoint_has_the_env_state_of_its_iteration(run):
    run_dir, levels = run
    checkpoint = latest_checkpoint(run_dir)
    assert checkpoint is not None and checkpoint.name == "model_1.pt"
    state = read_env_state(checkpoint)
    assert state is not None and env_state_path(checkpoint).name == "env_1.pt"
    assert state["step_count"] == 2 * STEPS
    assert state["terrain"]["terrain_levels"].tolist() == levels.tolist()
    assert (run_dir / "env_1.pt").is_file() and not list(run_dir.glob(".*.tmp"))


def test_a_resumed_env_stands_on_its_saved_levels_with_its_step_count(run):
    run_dir, levels = run
    state = read_env_state(run_dir / "model_1.pt")
    env = _session(env_state=state).env
    terrain = env.scene.terrain
    assert terrain.terrain_levels.tolist() == levels.tolist()
    assert terrain.terrain_types.tolist() == state["terrain"]["terrain_types"].tolist()
    torch.testing.assert_close(terrain.env_origins, terrain.terrain_origins[levels, terrain.terrain_types])
    assert env.common_step_counter == 2 * STEPS and int(env.step_count) == 2 * STEPS
    # every robot was reset onto its restored patch (the curriculum measures the distance from there)
    offset = env.scene["robot"].data.root_pos_w[:, :2] - terrain.env_origins[:, :2]
    assert float(offset.norm(dim=1).max()) < 1.0
    fresh = _session().env.scene.terrain
    assert fresh.terrain_levels.tolist() != levels.tolist()  # what a resume without the state got


def test_another_world_count_is_a_clear_error(run):
    run_dir, _ = run
    with pytest.raises(UserInputError, match=r"holds 4 worlds, this env has 8.*--num-envs"):
        _session(num_envs=8, env_state=read_env_state(run_dir / "model_1.pt"))


def test_cli_resume_says_whether_the_env_state_came_back(run, tmp_path):
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(run[0], run_dir)

    def resume(total: int) -> str:
        args = (
            "--run-dir",
            run_dir,
            "--max-iterations",
            total,
            "--num-envs",
            4,
            "--device",
            "cpu",
            "--quiet",
        )
        result = invoke("train", TASK, "--resume", "-o", f"agent.num_steps_per_env={STEPS}", *args)
        assert result.exit_code == 0, result.output
        return flat(result.output)

    assert "from iteration 2 with its terrain levels and step count" in resume(3)
    assert read_env_state(run_dir / "model_2.pt")["step_count"] == 3 * STEPS
    for path in run_dir.glob("env_*.pt"):  # a run of a roboforge before env states
        path.unlink()
    assert "no env_<n>.pt beside the checkpoint: curricula start over" in resume(4)


def test_a_file_that_is_not_an_env_state_reads_as_none(tmp_path):
    for name, content in {"env_3.pt": b"not a torch file", "env_4.pt": None}.items():
        path = tmp_path / name
        if content is None:
            torch.save({"something": 1}, path)
        else:
            path.write_bytes(content)
    assert read_env_state(tmp_path / "model_3.pt") is None
    assert read_env_state(tmp_path / "model_4.pt") is None
    assert read_env_state(tmp_path / "model_5.pt") is None  # no file at all

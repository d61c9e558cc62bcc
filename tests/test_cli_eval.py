"""`roboforge eval`, `play` and `bench` on a trained cartpole."""

# ruff: noqa: F811  (`cli_run` is a pytest fixture imported from cli_util)
from __future__ import annotations

import json

import pytest

from cli_util import ENV, cli_run, flat, invoke, runner  # noqa: F401  (cli_run is a fixture)


@pytest.mark.slow
def test_eval_json(cli_run):
    result = invoke(
        "eval",
        "cartpole",
        "--checkpoint",
        cli_run,
        "--episodes",
        16,
        "--num-envs",
        16,
        "--device",
        "cpu",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["task"] == "cartpole" and data["checkpoint"].endswith("model_2.pt")
    assert data["episodes"] >= 16
    assert isinstance(data["mean_return"], float)
    assert 0 < data["mean_episode_length"] <= data["max_episode_length"] == 300
    assert "Episode_Reward/alive" in data["metrics"]


def test_eval_missing_checkpoint(tmp_path):
    result = invoke("eval", "cartpole", "--checkpoint", tmp_path / "model_9.pt", "--device", "cpu")
    assert result.exit_code == 2
    assert "Checkpoint not found" in flat(result.output) and "model_9.pt" in flat(result.output)


def test_eval_and_play_use_the_runs_agent_config(tmp_path):
    """A run trained with -o agent.* network overrides evaluates and plays without repeating them."""
    overrides = ["agent.actor.obs_normalization=true", "agent.critic.obs_normalization=true"]
    overrides += ["agent.actor.hidden_dims=[16]", "agent.critic.hidden_dims=[16]"]
    result = invoke(
        "train", "cartpole", "--num-envs", 8, "--max-iterations", 1, "--run-dir", tmp_path, "--device", "cpu",
        "--quiet", *[a for o in overrides for a in ("-o", o)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    run = next((tmp_path / "cartpole").iterdir())
    common = ("--checkpoint", run, "--num-envs", 4, "--device", "cpu")
    result = invoke("eval", "cartpole", *common, "--episodes", 4, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["episodes"] >= 4
    assert invoke("play", "cartpole", *common, "--steps", 5).exit_code == 0
    (run / "params" / "agent.json").write_text("{not json")
    result = invoke("eval", "cartpole", *common, "--episodes", 4)
    assert result.exit_code == 2 and "is not a saved agent config" in flat(result.output)
    (run / "params" / "agent.json").unlink()  # the task's default networks do not fit the weights
    result = invoke("eval", "cartpole", *common, "--episodes", 4)
    assert result.exit_code == 2
    assert "does not fit the task's rsl_rl networks" in flat(result.output)
    assert "params/agent.json" in flat(result.output)


def test_a_network_of_other_sizes_is_described_in_words():
    """A checkpoint of other layer sizes: was torch's 'size mismatch for ...: copying a param with shape
    torch.Size([2, 9]) from checkpoint, the shape in current model is torch.Size([2, 4])'."""
    from torch import nn

    from roboforge.rl.libraries.base import load_error_detail

    with pytest.raises(RuntimeError) as info:
        nn.Linear(4, 2).load_state_dict(nn.Linear(9, 2).state_dict())
    assert load_error_detail(info.value) == (
        "its layer weight is 2x9 where this task's network has 2x4: the network was built for other "
        "observation or action sizes, or other hidden layers"
    )


def test_a_checkpoint_of_another_task_is_refused_naming_both(cli_run, tmp_path):
    """Was torch's 'size mismatch for distribution.std_param ... torch.Size([1]) ... torch.Size([6])'."""
    for command in (
        ("eval", "reach-ur5e", "--checkpoint", cli_run, "--device", "cpu", "--num-envs", 4),
        ("play", "reach-ur5e", "--checkpoint", cli_run.parent, "--device", "cpu", "--num-envs", 4),
        ("export", "reach-ur5e", "--checkpoint", cli_run / "model_2.pt", "--output", tmp_path),
        ("train", "reach-ur5e", "--resume", "--run-dir", cli_run, "--device", "cpu"),
    ):
        result = invoke(*command)
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), result.output
        assert "was trained on task 'cartpole', not 'reach-ur5e'" in lines[0]
        assert lines[0].endswith("pass cartpole as the task.")


@pytest.mark.slow
def test_play_runs_checkpoint(cli_run):
    result = invoke(
        "play",
        "cartpole",
        "--checkpoint",
        cli_run / "model_2.pt",
        "--steps",
        20,
        "--num-envs",
        4,
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    assert "played" in result.output and "20 steps" in result.output


@pytest.mark.slow
def test_bench_json():
    result = invoke(
        "bench",
        "cartpole",
        "--num-envs",
        64,
        "--steps",
        10,
        "--train-iterations",
        1,
        "--json",
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["env_steps_per_s"] > 0 and data["physics_steps_per_s"] > 0
    assert data["train_env_steps_per_s"] is not None and data["train_env_steps_per_s"] > 0
    assert data["backend"] == "mujoco" and data["num_envs"] == 64 and data["decimation"] == 2
    assert data["physics_only_env_steps_per_s"] == pytest.approx(data["physics_steps_per_s"] / 2)


def test_json_stdout_stays_clean_on_mjwarp():
    """Warp's build messages must not end up in the JSON on stdout."""
    result = invoke(
        "bench", "cartpole", "--sim", "mjwarp", "--num-envs", 4, "--steps", 2, "--train-iterations", 0,
        "--json", "--device", "cpu",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["backend"] == "mjwarp" and data["train_env_steps_per_s"] is None

"""`roboforge eval`, `play` and `bench` on a trained cartpole."""

# ruff: noqa: F811  (`cli_run` is a pytest fixture imported from cli_util)
from __future__ import annotations

import json
import os
import signal

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


@pytest.mark.parametrize("as_json", [True, False])
def test_eval_stopped_by_sigterm_reports_the_episodes_ended_so_far(cli_run, monkeypatch, as_json):
    """A long eval stopped by SIGTERM (or Ctrl-C) ended with exit 130 and nothing printed."""
    from roboforge.envs.manager_based_rl_env import ManagerBasedRLEnv

    step, calls = ManagerBasedRLEnv.step, []

    def step_then_stop(self, actions):
        calls.append(1)
        if len(calls) == 400:  # inside the second round of 300 steps
            os.kill(os.getpid(), signal.SIGTERM)
        return step(self, actions)

    monkeypatch.setattr(ManagerBasedRLEnv, "step", step_then_stop)
    args = ("--episodes", 10**9, "--num-envs", 16, "--device", "cpu") + (("--json",) if as_json else ())
    result = invoke("eval", "cartpole", "--checkpoint", cli_run, *args)
    assert result.exit_code == 130, result.output
    assert len(calls) == 400, "the stop came at once"
    if as_json:
        data = json.loads(result.stdout)
        assert data["interrupted"] is True and 16 <= data["episodes"] < 10**9
        assert 0 < data["mean_episode_length"] <= 300 and "Episode_Reward/alive" in data["metrics"]
    else:
        assert "of 1000000000 episodes ended)" in flat(result.output) and "mean return" in result.output


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


def test_a_checkpoint_runs_on_another_task_whose_networks_it_fits(cli_run):
    """eval/play/export refuse a checkpoint of another task only when it does not load: a variant task with the
    same observations and actions (here the direct-env cart-pole) evaluates it."""
    result = invoke("eval", "cartpole-direct", "--checkpoint", cli_run, "--device", "cpu", "--num-envs", 4,
                    "--episodes", 4, "--json")  # fmt: skip
    assert result.exit_code == 0, result.output


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


@pytest.mark.slow
def test_bench_times_a_trained_policy_and_trains_on_from_it(cli_run):
    common = (
        "bench",
        "cartpole",
        "--checkpoint",
        cli_run,
        "--num-envs",
        16,
        "--steps",
        10,
        "--device",
        "cpu",
    )
    result = invoke(*common, "--train-iterations", 1, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["policy_env_steps_per_s"] > 0 and data["train_env_steps_per_s"] > 0
    result = invoke(*common, "--library", "skrl")
    assert result.exit_code == 2
    assert "--library and --algorithm come from the checkpoint's run" in flat(result.output)


def test_bench_policy_rate_steps_the_checkpoints_policy(cli_run):
    """Half an episode of the loaded policy before the timed steps; the learner keeps its weights."""
    import io

    import torch

    from roboforge.cli.session import open_policy_session
    from roboforge.rl.bench import _policy_rate

    path, s, _ = open_policy_session("cartpole", cli_run, 8, "cpu", "auto", None, None, play=False)
    calls, step = [], s.env.step
    s.env.step = lambda actions: (calls.append(1), step(actions))[1]
    assert _policy_rate(s, path, 4) > 0
    assert len(calls) >= int(s.env.max_episode_length) // 2 + 4
    saved, held = torch.load(path, weights_only=False), io.BytesIO()
    s.learner.save(held)
    held.seek(0)
    actor = torch.load(held, weights_only=False)["actor_state_dict"]
    assert actor.keys() == saved["actor_state_dict"].keys()
    assert all(torch.equal(actor[k], saved["actor_state_dict"][k]) for k in actor)


def test_json_stdout_stays_clean_on_mjwarp():
    """Warp's build messages must not end up in the JSON on stdout."""
    result = invoke(
        "bench", "cartpole", "--sim", "mjwarp", "--num-envs", 4, "--steps", 2, "--train-iterations", 0,
        "--json", "--device", "cpu",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["backend"] == "mjwarp" and data["train_env_steps_per_s"] is None


def test_bench_refuses_a_negative_train_iterations():
    """0 skips the training figure; -1 was accepted silently as 0."""
    result = invoke("bench", "cartpole", "--train-iterations", -1, "--device", "cpu")
    assert result.exit_code == 2
    assert flat(result.output) == "error: --train-iterations must be >= 0 (0 skips training), got -1."


def test_bench_rate_is_not_decided_by_one_stalled_step():
    """20 steps timed at once made one stall (another process on the 2-core machine) the figure: env.step
    came out at 440% of physics alone, which it contains."""
    import time

    from roboforge.rl.bench import _rate

    calls = []

    def step():
        calls.append(None)
        time.sleep(0.5 if len(calls) == 5 else 0.002)

    rate = _rate(step, 20, 1, "cpu")
    assert 100 < rate <= 500, f"{rate:.0f} steps/s for 2 ms steps"  # all 20 at once: 37 steps/s


def test_bench_prints_no_negative_share_of_an_iteration():
    """A rollout faster than its env steps timed alone printed 'policy + storage (ms) -352.5'."""
    import io
    from types import SimpleNamespace

    from rich.console import Console

    from roboforge.cli.bench import _bench_table
    from roboforge.rl.bench import BenchResult, _iteration_breakdown

    class Learner:
        steps_per_iteration = 24
        recorder = SimpleNamespace(pop_finite=lambda: None)

        def time_phases(self):
            self.phase_times = {}

        def iterate(self):
            self.phase_times["rollout"] = self.phase_times.get("rollout", 0.0) + 0.178
            self.phase_times["update"] = self.phase_times.get("update", 0.0) + 0.067

    session = SimpleNamespace(learner=Learner(), env=SimpleNamespace(num_envs=16))
    split = _iteration_breakdown(session, 2, env_rate=724.0)  # env steps at that rate: 530 ms
    assert split == pytest.approx(
        {"env_steps": None, "policy_and_storage": None, "update": 0.067, "total": 0.245}
    )
    result = BenchResult(
        task="go1", num_envs=16, backend="mujoco", device="cpu", physics_steps_per_s=1e4, decimation=4,
        physics_only_env_steps_per_s=2.5e3, env_steps_per_s=2e3, noisy_env_steps_per_s=724.0, physics_share=0.8,
        train_env_steps_per_s=1e3, library="rsl_rl", algorithm="ppo", device_memory_gib=None, iteration_s=split,
    )  # fmt: skip
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(_bench_table("go1", result))
    lines = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in console.export_text().splitlines()
             if line.count("│") == 3}  # fmt: skip
    assert lines["one iteration: policy + storage (ms)"].startswith("n/a: the rollout took less")
    assert lines["one iteration: env steps of the rollout (ms)"].startswith("n/a")
    assert lines["one iteration: total (ms)"] == "245.0"

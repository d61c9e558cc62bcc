"""`roboforge sweep`: Optuna trials as real `roboforge train` processes, pruning, and input checks."""

from __future__ import annotations

import json
import threading

import pytest

from cli_util import flat, invoke, one_line_error
from roboforge.rl import sweep as sweeps

LR = "agent.algorithm.learning_rate=loguniform:1e-4:1e-2"
SMALL = ("--device", "cpu", "--num-envs", "64", "--max-iterations", "12")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (LR, sweeps.ParamSpec("agent.algorithm.learning_rate", "loguniform", 1e-4, 1e-2)),
        ("env.episode_length_s=int:5:20", sweeps.ParamSpec("env.episode_length_s", "int", 5.0, 20.0)),
        (
            "agent.actor.activation=choice:elu,tanh",
            sweeps.ParamSpec("agent.actor.activation", "choice", choices=("elu", "tanh")),
        ),
    ],
)
def test_param_specs_parse(text, expected):
    assert sweeps.parse_param(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("agent.algorithm.learning_rate=gauss:0:1", "unknown distribution 'gauss'"),
        ("agent.algorithm.learning_rate=loguniform:0:1", "above 0"),
        ("agent.algorithm.learning_rate=uniform:1:0", "LOW < HIGH"),
        ("agent.algorithm.learning_rate=uniform:nan:1", "finite"),
        ("learning_rate=uniform:0:1", "starting with agent. or env."),
        ("agent.actor.activation=choice:elu", "at least two"),
        # rich read ':-1:' as an emoji code and printed a thumbs-down in place of the bounds
        ("agent.algorithm.learning_rate=loguniform:-1:1", "'agent.algorithm.learning_rate=loguniform:-1:1'"),
    ],
)
def test_bad_param_specs_are_one_line(text, says):
    result = invoke("sweep", "cartpole", "--param", text, "--device", "cpu")
    assert result.exit_code == 2, result.output
    assert says in flat(result.output) and "Traceback" not in result.output


def test_a_field_swept_twice_is_one_line(tmp_path):
    """Was Optuna's traceback from the first trial and 'ValueError: Cannot set different log configuration to
    the same parameter name. (an internal error ...)'."""
    other = "agent.algorithm.learning_rate=uniform:1e-4:1e-3"
    result = invoke("sweep", "cartpole", "--param", LR, "--param", other, *SMALL, "--run-dir", str(tmp_path))
    one_line_error(result, "--param agent.algorithm.learning_rate is given twice")
    assert not (tmp_path / "sweeps").exists()


def test_unknown_field_and_unlogged_metric_fail_before_any_trial(tmp_path):
    result = invoke(
        "sweep",
        "cartpole",
        "--param",
        "agent.algorithm.learnin_rate=uniform:0:1",
        *SMALL,
        "--run-dir",
        str(tmp_path),
    )
    assert result.exit_code == 2 and "learnin_rate" in flat(result.output), result.output
    result = invoke(
        "sweep", "cartpole", "--param", LR, "--metric", "Metrics/nothing", *SMALL, "--run-dir", str(tmp_path)
    )
    assert result.exit_code == 2, result.output
    assert "--metric 'Metrics/nothing': the task does not log it" in flat(result.output)
    assert "Episode_Reward/alive" in flat(result.output)  # the task's own metrics are listed
    result = invoke("sweep", "cartpole", "--param", LR, "--seed", "-5", *SMALL, "--run-dir", str(tmp_path))
    assert result.exit_code == 2 and "--seed must be 0 to 2147483647, got -5" in flat(result.output)
    assert not (tmp_path / "sweeps").exists()


@pytest.mark.parametrize(
    ("param", "says"),
    [
        (
            "agent.algorithm.gamma=uniform:0.9:1.5",
            "override agent.algorithm.gamma: 1.5 is above the maximum 1.",
        ),
        (
            "agent.algorithm.clip_param=choice:0.2,0",
            "override agent.algorithm.clip_param: 0 must be greater than 0.",
        ),
        (  # 64 worlds x 16 steps: each trial of 2000 failed alone with this line
            "agent.algorithm.num_mini_batches=choice:4,2000",
            "agent.algorithm.num_mini_batches: 2000 mini-batches of one rollout of 1024 samples (num_envs 64 x "
            "num_steps_per_env 16) would leave some empty; give at most 1024.",
        ),
    ],
)
def test_a_range_end_its_field_refuses_fails_before_any_trial(param, says, tmp_path):
    """Only the low end was checked: trials sampling gamma above 1 trained on (or failed one by one)."""
    result = invoke("sweep", "cartpole", "--param", param, *SMALL, "--run-dir", str(tmp_path))
    assert result.exit_code == 2, result.output
    assert says in flat(result.output) and "Traceback" not in result.output
    assert not (tmp_path / "sweeps").exists()


def test_swept_rollout_lengths_whose_mini_batches_all_fit_pass_the_check(tmp_path):
    """4 mini-batches (the default) of 64 worlds x 1 step still fit: the sweep is refused only later, for
    its unlogged metric."""
    param = "agent.num_steps_per_env=int:1:16"
    result = invoke(
        "sweep", "cartpole", "--param", param, *SMALL, "--metric", "nope", "--run-dir", str(tmp_path)
    )
    assert result.exit_code == 2 and "--metric" in flat(result.output) and "mini-batches" not in result.output


def test_command_metrics_count_as_logged_before_any_episode_ends():
    """A sweep checks its metric against the names the env logs before any episode has ended: the command
    terms' metrics (the reach error a user sweeps against) are among them."""
    from roboforge.rl.session import build_session

    names = build_session("reach-ur5e", num_envs=1, device="cpu").env.episode_stat_names()
    assert {"Metrics/ee_pose/position_error", "Metrics/ee_pose/orientation_error"} <= set(names)


@pytest.mark.slow
def test_sweep_runs_trials_and_records_the_best(tmp_path):
    result = invoke(
        "sweep", "cartpole", "--param", LR, "--param", "agent.algorithm.entropy_coef=uniform:0:0.02",
        "--trials", "3", "--metric", "Train/mean_episode_length", *SMALL, "--run-dir", str(tmp_path), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert len(out["trials"]) == 3
    values = [t["value"] for t in out["trials"] if t["state"] == "complete"]
    assert values and out["best"]["value"] == max(values)
    assert set(out["best"]["params"]) == {"agent.algorithm.learning_rate", "agent.algorithm.entropy_coef"}
    run = out["best"]["run_dir"]
    args = json.loads((tmp_path.joinpath(run) / "params" / "args.json").read_text())
    applied = args["overrides"]
    assert applied["agent.algorithm.learning_rate"] == pytest.approx(
        out["best"]["params"]["agent.algorithm.learning_rate"]
    )
    sweep_dir = tmp_path / out["sweep_dir"]
    assert json.loads((sweep_dir / "sweep.json").read_text())["best"]["number"] == out["best"]["number"]
    assert (sweep_dir / "study.db").is_file()


class _PruneAtOnce:
    """An Optuna trial that asks to prune as soon as a value was reported."""

    number = 0

    def __init__(self):
        self.reports: list[tuple[float, int]] = []
        self.attrs: dict = {}

    def suggest_float(self, name, low, high, log=False):
        return low

    def report(self, value, step):
        self.reports.append((value, step))

    def should_prune(self):
        return bool(self.reports)

    def set_user_attr(self, key, value):
        self.attrs[key] = value


@pytest.mark.slow
def test_a_pruned_trial_is_stopped_and_keeps_its_checkpoint(tmp_path):
    import optuna

    from roboforge.rl.checkpoints import latest_checkpoint

    spec = sweeps.SweepSpec(
        "cartpole", [sweeps.parse_param(LR)], "Train/mean_reward", "max",
        ["--device", "cpu", "--num-envs", "64", "--max-iterations", "400"], tmp_path,
    )  # fmt: skip
    trial = _PruneAtOnce()
    with pytest.raises(optuna.TrialPruned):
        sweeps._run_trial(spec, trial, threading.Event())
    assert trial.reports, "the trial's metrics were streamed"
    run = trial.attrs["run_dir"]
    assert run is not None and latest_checkpoint(run) is not None  # SIGINT: the trial saved its checkpoint
    assert json.loads((tmp_path.joinpath(run) / "summary.json").read_text())["iterations"] < 400

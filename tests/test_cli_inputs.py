"""Bad input, saved overrides, resume edges and output of the command line (issue: no traceback,
nothing lost): every user error is one line with exit code 2, eval/play/export run in the env the
policy was trained in, and nothing written is NaN or an untrained checkpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_util import ENV, invoke, one_line_error, runner
from roboforge.cli import app
from roboforge.rl.checkpoints import resolve_checkpoint
from roboforge.rl.session import build_session, default_num_envs
from roboforge.rl.trainer import Trainer

SHORT = "env.episode_length_s=0.5"  # 30 steps at 60 Hz
CPU = ("--device", "cpu")


def strict_json(text: str):
    """Parse JSON that must not hold NaN or Infinity."""

    def refuse(token):
        raise AssertionError(f"{token} in JSON output")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def short_run(tmp_path_factory) -> Path:
    """cartpole trained 2 iterations with a 0.5 s episode override; the run folder."""
    root = tmp_path_factory.mktemp("runs")
    result = invoke("train", "cartpole", "--num-envs", 32, "--max-iterations", 2, "--run-dir", root, *CPU,
                    "--quiet", "-o", SHORT, "-o", "agent.num_steps_per_env=8")  # fmt: skip
    assert result.exit_code == 0, result.output
    return next((root / "cartpole").iterdir())


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("-o", "agent.algorithm.learning_rate=abc"), ("agent.algorithm.learning_rate", "float")),
        (("-o", "env.episode_length_s=abc"), ("env.episode_length_s", "float")),
        (("-o", "env.episode_length_s=NaN"), ("env.episode_length_s", "finite")),
        (("-o", "env.episode_length_s=nan"), ("env.episode_length_s", "finite")),  # was 'not a valid float'
        (("-o", "env.episode_length_s=inf"), ("env.episode_length_s", "finite")),
        (("-o", 'agent.actor.hidden_dims=[64, "x"]'), ("agent.actor.hidden_dims", "list[int]")),
        (("-o", "env.rewards.alive.weight=true"), ("env.rewards.alive.weight", "float")),
        (("--device", "gpu"), ("--device", "cpu, cuda or cuda:N")),
        (("--sim", "physx"), ("--sim", "mjwarp")),
        (("-o", "env.decimation=0"), ("decimation must be >= 1",)),  # found while building the env
        (
            ("-o", "env.decimation=1000000000"),
            ("env.decimation 1000000000", "give at most 600"),
        ),  # hours a step
        (("-o", "env.episode_length_s=0"), ("env.episode_length_s must be > 0",)),  # was torch's random_
        (("-o", "env.episode_length_s=1e308"), ("env.episode_length_s 1e+308", "at most")),  # was an overflow
        (("-o", "env.sim.timestep=0"), ("env.sim.timestep must be > 0",)),  # was a ZeroDivisionError
        (("-o", "env.max_joint_vel=-1"), ("env.max_joint_vel must be > 0",)),  # every world "exploded"
        (("-o", "env.sim.iterations=-3"), ("env.sim.iterations must be >= 1",)),  # ran, silently
        (("-o", "env.sim.njmax=-1"), ("env.sim.njmax must be >= 1",)),  # was MuJoCo Warp's ValueError
        (("-o", "env.sim.nconmax=0"), ("env.sim.nconmax must be >= 1",)),  # every contact dropped
        (
            ("-o", "env.sim.num_threads=100000"),
            ("env.sim.num_threads must be 1 to 1024",),
        ),  # a thread a world
        (
            ("-o", "env.sim.num_threads=-2"),
            ("env.sim.num_threads must be 1 to 1024",),
        ),  # was 0 threads, silently
        (
            ("-o", 'env.actions.cart_force.scale={"*": 2}'),
            ("JointEffortActionCfg.scale: '*' is not a regex",),
        ),
        (
            ("-o", 'env.actions.cart_force.scale={".*": "x"}'),
            ("JointEffortActionCfg.scale must be a number",),
        ),
        (("--seed", "-5"), ("--seed must be 0 to 2147483647, got -5",)),  # numpy (sb3, skrl) refused it
        (("--seed", "99999999999999999999"), ("--seed must be 0 to",)),  # beyond torch's manual_seed
        (("-o", "env.seed=4294967296"), ("-o env.seed must be 0 to",)),
    ],
)
def test_bad_options_are_one_line_with_exit_code_2(args, needles):
    one_line_error(invoke("train", "cartpole", "--num-envs", 4, *args), *needles)


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (
            ("train", "cartpole", "--num-env", "16"),
            (
                "error: No such option: --num-env (Possible options: --no-resume, --num-envs); see ",
                " train --help.",
            ),
        ),
        (("train", "cartpole", "--num-envs", "abc"), ("Invalid value for '--num-envs'", " train --help.")),
        (("eval", "cartpole"), ("Missing option '--checkpoint'; see ", " eval --help.")),
        (("trian",), ("No such command 'trian'. Did you mean 'train'? See ", " --help.")),
        (("sweep", "cartpole"), ("Missing option '--param'; see ", " sweep --help.")),
    ],
)
def test_usage_errors_are_one_line_naming_the_help(args, needles):
    """click's own words for the mistake on one line, not its usage text and a box (was 5 lines)."""
    one_line_error(invoke(*args), *needles)


def test_help_is_still_clicks_help():
    result = invoke("train", "--help")
    assert result.exit_code == 0 and "Usage:" in result.output and "--num-envs" in result.output
    assert "error:" not in result.output


def test_debug_shows_the_traceback():
    result = runner.invoke(
        app, ["--debug", "train", "cartpole", *CPU, "-o", "env.episode_length_s=abc"], env=ENV
    )
    assert result.exit_code != 0 and not isinstance(result.exception, SystemExit)
    assert "env.episode_length_s" in str(result.exception)


def test_an_unexpected_error_is_one_line_with_exit_code_1(monkeypatch):
    import roboforge.rl.session as session

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(session, "build_session", broken)
    result = invoke("train", "cartpole", *CPU, "--num-envs", 4)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "RuntimeError: boom" in result.output and "--debug" in result.output


@pytest.mark.slow
def test_eval_play_and_export_use_the_runs_env_overrides(short_run, tmp_path):
    result = invoke(
        "eval", "cartpole", "--checkpoint", short_run, *CPU, "--num-envs", 8, "--episodes", 8, "--json"
    )
    assert result.exit_code == 0, result.output
    data = strict_json(result.stdout)
    assert data["max_episode_length"] == 30 and data["overrides"]["env.episode_length_s"] == 0.5
    assert "env overrides of the run: env.episode_length_s=0.5" in result.output
    on_top = invoke("eval", "cartpole", "--checkpoint", short_run, *CPU, "--num-envs", 8, "--episodes", 8,
                    "--json", "-o", "env.episode_length_s=1.0")  # fmt: skip
    assert strict_json(on_top.stdout)["max_episode_length"] == 60
    played = invoke("play", "cartpole", "--checkpoint", short_run, *CPU, "--steps", 40, "--json")
    assert played.exit_code == 0, played.output
    assert strict_json(played.stdout)["max_episode_length"] == 30
    exported = invoke("export", "cartpole", "--checkpoint", short_run, "--output", tmp_path, "--json")
    assert exported.exit_code == 0, exported.output
    meta = json.loads((tmp_path / "policy.json").read_text())
    assert meta["training"]["env_overrides"] == {"episode_length_s": 0.5}


@pytest.mark.slow
def test_checkpoint_may_be_a_task_folder_or_the_runs_root(short_run):
    latest = resolve_checkpoint(short_run)
    assert resolve_checkpoint(short_run.parent) == latest
    assert resolve_checkpoint(short_run.parent.parent, "cartpole") == latest
    result = invoke(
        "eval", "cartpole", "--checkpoint", short_run.parent, *CPU, "--num-envs", 4, "--episodes", 4
    )
    assert result.exit_code == 0, result.output


@pytest.mark.slow
def test_resume_to_a_total_already_reached_changes_nothing(short_run):
    summary = (short_run / "summary.json").read_text()
    result = invoke("train", "cartpole", "--resume", "--run-dir", short_run, "--max-iterations", 2, *CPU)
    one_line_error(result, "already has 2 iterations", "--max-iterations")
    assert (short_run / "summary.json").read_text() == summary


@pytest.mark.slow
def test_resume_keeps_the_runs_overrides(short_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(short_run, run)
    result = invoke("train", "cartpole", "--resume", "--run-dir", run, "--max-iterations", 3, *CPU, "--json")
    assert result.exit_code == 0, result.output
    data = strict_json(result.stdout)
    assert data["max_episode_length"] == 30 and data["iterations"] == 3
    args = json.loads((run / "params" / "args.json").read_text())
    assert args["overrides"]["env.episode_length_s"] == 0.5 and args["num_envs"] == 32


@pytest.mark.slow
def test_no_episode_ended_is_null_not_nan(tmp_path):
    result = invoke("train", "cartpole", "--num-envs", 4, "--max-iterations", 1, "--run-dir", tmp_path, *CPU,
                    "--json", "-o", "agent.num_steps_per_env=4")  # fmt: skip
    assert result.exit_code == 0, result.output
    data = strict_json(result.stdout)
    assert data["mean_return"] is None and data["mean_episode_length"] is None
    summary = strict_json((Path(data["run_dir"]) / "summary.json").read_text())
    assert summary["mean_return"] is None
    assert "1 iteration, " in result.output and "no episode ended in the last iteration" in result.output


def test_interrupt_before_the_first_iteration_saves_no_untrained_checkpoint(tmp_path, monkeypatch):
    s = build_session("cartpole", num_envs=4, device="cpu")
    trainer = Trainer(s, tmp_path, 5, quiet=True)

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(s.learner, "iterate", interrupted)
    result = trainer.train()
    assert result.interrupted and result.checkpoint is None and result.iterations == 0
    assert not list(tmp_path.glob("model_*.pt"))


def test_a_diverged_policy_is_the_nan_stop(tmp_path):
    result = invoke("train", "cartpole", "--num-envs", 16, "--max-iterations", 3, "--run-dir", tmp_path, *CPU,
                    "--quiet", "-o", "agent.algorithm.learning_rate=1e30", "-o", "agent.num_steps_per_env=8")  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "training stopped:" in result.output and "Lower the learning rate" in result.output
    assert "Traceback" not in result.output


def test_slow_iterations_print_a_hint(tmp_path, monkeypatch):
    import roboforge.rl.trainer as trainer_module

    monkeypatch.setattr(trainer_module, "SLOW_ITERATION_S", 0.0)
    result = invoke("train", "cartpole", "--num-envs", 4, "--max-iterations", 3, "--run-dir", tmp_path, *CPU,
                    "-o", "agent.num_steps_per_env=2")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "note: one iteration took" in result.output and "--num-envs" in result.output


def test_heavy_tasks_get_cpu_sized_defaults():
    assert default_num_envs("velocity-flat-go1", "cpu") == 256
    assert default_num_envs("velocity-flat-go1", "cuda") is None
    assert default_num_envs("cartpole", "cpu") is None  # its default (1024) trains in a minute on a CPU


def test_help_and_list_load_no_torch_and_print_unwrapped_when_piped():
    code = (
        "import sys; from typer.testing import CliRunner; from roboforge.cli import app;"
        "r = CliRunner().invoke(app, ['list']); assert r.exit_code == 0, r.output;"
        "assert 'torch' not in sys.modules and 'mujoco' not in sys.modules, 'heavy import'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    out = subprocess.run([sys.executable, "-m", "roboforge", "list"], capture_output=True, text=True, env=env,
                         timeout=60, check=True).stdout  # fmt: skip
    assert "Balance a pole on a cart by pushing the cart (manager-based env)." in out


def test_export_refuses_an_unknown_format_before_loading_torch(tmp_path):
    code = (
        "import sys; from typer.testing import CliRunner; from roboforge.cli import app;"
        f"r = CliRunner().invoke(app, ['export', 'cartpole', '--checkpoint', {str(tmp_path)!r}, '--format', 'tflite']);"
        "assert r.exit_code == 2 and '--format must be one of onnx, jit' in r.output, r.output;"
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize("command", ["train", "eval", "play", "bench", "export", "deploy", "list"])
def test_help_has_examples(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0 and "Example" in result.output


def test_deploy_rejects_a_command_the_policy_does_not_observe():
    from roboforge.cli.deploy import check_commands

    check_commands({"base_velocity": [0.5, 0.0, 0.0]}, {"base_velocity": 3})
    with pytest.raises(ValueError, match=r"no command 'speed'.*base_velocity \(3 values\)"):
        check_commands({"speed": [1.0]}, {"base_velocity": 3})
    with pytest.raises(ValueError, match="3 values expected"):
        check_commands({"base_velocity": [1.0]}, {"base_velocity": 3})


def test_cpu_sessions_use_one_torch_thread_unless_told():
    import torch

    from roboforge.cli.session import set_torch_threads

    try:
        torch.set_num_threads(2)
        set_torch_threads(None, "cpu")
        assert torch.get_num_threads() == 1
        set_torch_threads(2, "cpu")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)
    one_line_error(invoke("train", "cartpole", *CPU, "--threads", 0), "--threads must be >= 1")
    one_line_error(invoke("train", "cartpole", *CPU, "--threads", 100_000), "--threads 100000", "at most")


@pytest.mark.parametrize(
    ("db", "needles"),
    [
        ("foo", ("db_url (--db) 'foo' is not a database URL", "sqlite:///", "postgresql+psycopg://")),
        (
            "mysql://u:secret@x/jobs",
            ("(--db) 'mysql://u:***@x/jobs' is a mysql database", "SQLite or PostgreSQL"),
        ),
        (
            "postgresql+nope://x/jobs",
            ("(--db) 'postgresql+nope://x/jobs'", "no driver", "postgresql+psycopg://"),
        ),
    ],
)
def test_serve_db_that_is_no_sqlite_or_postgresql_url_is_one_line(tmp_path, db, needles):
    """Was 'ArgumentError: Could not parse SQLAlchemy URL' and 'ModuleNotFoundError: No module named
    'MySQLdb' (an internal error ...)' with exit code 1."""
    one_line_error(invoke("serve", "--data-dir", tmp_path, "--db", db), *needles)
    assert not list(tmp_path.iterdir())  # refused before anything was created


def test_serve_db_whose_driver_is_missing_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # `import psycopg` fails as where it is not installed
    result = invoke("serve", "--data-dir", tmp_path, "--db", "postgresql+psycopg://u:pw@localhost/jobs")
    one_line_error(result, "(--db) 'postgresql+psycopg://u:***@localhost/jobs' needs the psycopg package",
                   "pip install roboforge[postgres]")  # fmt: skip


@pytest.mark.parametrize(
    "args, needle",
    [
        (("--num-envs", "100000000"), "--num-envs must be at most 1,048,576, got 100,000,000."),
        (("-o", "env.scene.num_envs=2000000"), "scene.num_envs must be 1 to 1,048,576, got 2,000,000."),
    ],
)
def test_more_worlds_than_a_scene_may_have_is_refused_before_anything_is_built(tmp_path, args, needle):
    """Was: `--num-envs 100000000` filled the 24 GB machine for half a minute and died from the OOM killer's
    SIGKILL without a word."""
    result = invoke("train", "cartpole", *CPU, *args, "--max-iterations", "1", "--run-dir", tmp_path)
    one_line_error(result, needle)
    assert not list(tmp_path.iterdir())


def test_the_build_spinner_says_that_mujoco_warp_compiles_on_a_first_run():
    from roboforge.cli.session import building_status

    assert "compiles MuJoCo Warp's kernels" in building_status("cartpole", 8, "cpu", "mjwarp")
    assert building_status("cartpole", 8, "cpu", "mujoco") == "building cartpole (8 worlds)..."
    assert building_status("cartpole", None, "cpu", "auto") == "building cartpole (default worlds)..."

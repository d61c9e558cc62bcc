"""`roboforge` command line: list, train, play, eval, bench. Logic lives in roboforge.rl; this file parses and prints."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Train robot policies in parallel MuJoCo worlds."
)
console = Console(stderr=True)

Task = Annotated[str, typer.Argument(help="Task id (see `roboforge list`).")]
NumEnvs = Annotated[int | None, typer.Option("--num-envs", help="Parallel worlds (default: the task's).")]
Device = Annotated[
    str | None, typer.Option("--device", help="cpu, cuda or cuda:N (default: cuda if available).")
]
Sim = Annotated[
    str, typer.Option("--sim", help="Physics backend: auto (mjwarp on CUDA, mujoco on CPU), mjwarp, mujoco.")
]
Seed = Annotated[int | None, typer.Option("--seed", help="Random seed (default: the task's).")]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
Override = Annotated[
    list[str] | None,
    typer.Option(
        "--override", "-o", help="Config override 'env.a.b=VALUE' or 'agent.a.b=VALUE' (VALUE as JSON)."
    ),
]


def parse_overrides(items: list[str] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split 'env.x=1' / 'agent.y=2' items into env and agent override dicts."""
    env: dict[str, Any] = {}
    agent: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        scope, _, path = key.partition(".")
        if not sep or scope not in ("env", "agent") or not path:
            raise ValueError(f"Bad override {item!r}: use env.<path>=<value> or agent.<path>=<value>.")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        (env if scope == "env" else agent)[path] = value
    return env, agent


def _fail(err: BaseException) -> None:
    console.print(f"[bold red]error:[/] {err}")
    raise typer.Exit(code=2)


def _run(fn, as_json: bool = False):
    """Run a command body, turning expected errors into one clear line and exit code 2.

    With `as_json`, anything libraries print goes to stderr and the body's returned dict is the only
    thing on stdout. Error types are imported only when something fails, so commands that do not
    need torch (deploy) never load it.
    """
    try:
        if not as_json:
            return fn()
        with _stdout_to_stderr():
            payload = fn()
        print(json.dumps(payload, indent=2, default=str), flush=True)
    except typer.Exit:
        raise
    except Exception as err:
        _report(err)


@contextlib.contextmanager
def _stdout_to_stderr():
    """Send everything written to stdout to stderr, Python prints and C-level writes to fd 1 alike
    (MuJoCo Warp's kernel printf warnings), so `--json` output stays parseable."""
    sys.stdout.flush()
    saved_fd = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_initialized():
            torch.cuda.synchronize()  # device printf buffers flush at a sync: let them land on stderr
        sys.stdout.flush()
        os.dup2(saved_fd, 1)
        os.close(saved_fd)


def _report(err: Exception) -> None:
    """Print an expected error as one line and exit (1: training stopped, 2: bad input); re-raise others."""
    from roboforge.assets.sources import AssetError
    from roboforge.utils.config import ConfigError

    if type(err).__name__ == "PolicyNaNError":
        console.print(f"[bold red]training stopped:[/] {err}")
        raise typer.Exit(code=1) from err
    expected = (ConfigError, AssetError, FileNotFoundError, ValueError, KeyError)
    if isinstance(err, expected) or type(err).__name__ == "UnknownTaskError":
        _fail(err)
    raise err


def _session(task, num_envs, device, sim, seed, overrides=None, play=False, checkpoint=None):
    """Build the task's session; with `checkpoint`, the agent config is the one its run was trained with
    (e.g. observation normalization turned on with -o), so its weights fit."""
    from roboforge.rl.run_dir import saved_agent_overrides
    from roboforge.rl.session import build_session

    env_o, agent_o = parse_overrides(overrides)
    if checkpoint is not None:
        agent_o = {**saved_agent_overrides(checkpoint), **agent_o}
    with console.status(f"building {task} ({num_envs or 'default'} worlds)..."):
        return build_session(task, num_envs, device, sim, seed, play, env_o, agent_o)


@app.command("list")
def list_cmd(as_json: Json = False) -> None:
    """List the registered tasks."""
    from roboforge.envs.registry import list_tasks

    tasks = list_tasks()
    if as_json:
        print(json.dumps(tasks, indent=2))
        return
    table = Table("task", "description")
    for name, desc in sorted(tasks.items()):
        table.add_row(name, desc)
    Console().print(table)


@app.command()
def train(
    task: Task,
    num_envs: NumEnvs = None,
    max_iterations: Annotated[
        int | None, typer.Option(help="Total PPO iterations (default: the task's).")
    ] = None,
    device: Device = None,
    sim: Sim = "auto",
    seed: Seed = None,
    run_dir: Annotated[
        Path, typer.Option(help="Root folder of runs, or one run folder with --resume.")
    ] = Path("runs"),
    resume: Annotated[
        bool, typer.Option(help="Continue the latest run of TASK from its last checkpoint.")
    ] = False,
    override: Override = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    as_json: Json = False,
) -> None:
    """Train TASK with PPO; writes runs/<task>/<timestamp>/ with configs, logs and checkpoints."""

    def body():
        from roboforge.rl.run_dir import latest_run_dir, new_run_dir, save_configs
        from roboforge.rl.trainer import Trainer

        resume_dir = None
        if resume:
            resume_dir = run_dir if any(run_dir.glob("model_*.pt")) else latest_run_dir(run_dir, task)
            if resume_dir is None:
                raise FileNotFoundError(f"--resume: no run of {task!r} with a checkpoint under {run_dir}.")
        s = _session(task, num_envs, device, sim, seed, override)
        iterations = max_iterations if max_iterations is not None else s.agent_cfg.max_iterations
        if iterations < 1:
            raise ValueError(f"--max-iterations must be >= 1, got {iterations}.")
        out = resume_dir or new_run_dir(run_dir, task)
        trainer = Trainer(s, out, iterations, quiet=quiet or as_json)
        if resume_dir is not None:
            console.print(f"resuming {out} from iteration {trainer.resume()}")
        save_configs(
            out,
            task,
            s.env_cfg,
            s.agent_cfg,
            {"num_envs": s.env.num_envs, "device": s.device, "sim": sim, "max_iterations": iterations},
        )
        console.print(
            f"training [bold]{task}[/] on {s.device} ({type(s.env.sim).__name__}, "
            f"{s.env.num_envs} worlds) -> {out}"
        )
        result = trainer.train()
        state = "interrupted" if result.interrupted else "done"
        console.print(
            f"[bold green]{state}:[/] {result.iterations} iterations, {result.env_steps_per_s:,.0f} env-steps/s, "
            f"mean episode length {result.mean_episode_length:.1f}/{result.max_episode_length}, "
            f"mean return {result.mean_return:.2f}, {result.wall_s:.0f} s\ncheckpoint: {result.checkpoint}"
        )
        interrupted.append(result.interrupted)
        return asdict(result)

    interrupted: list[bool] = []
    _run(body, as_json)
    if any(interrupted):  # after the summary (and the JSON) are out
        raise typer.Exit(code=130)


@app.command("eval")
def eval_cmd(
    task: Task,
    checkpoint: Annotated[
        Path, typer.Option(help="model_*.pt file, or a run folder (its latest checkpoint).")
    ],
    episodes: Annotated[int, typer.Option(help="Episodes to evaluate (at least).")] = 100,
    num_envs: NumEnvs = None,
    device: Device = None,
    sim: Sim = "auto",
    seed: Seed = None,
    as_json: Json = False,
) -> None:
    """Evaluate a checkpoint: mean return, mean episode length and the task's metrics."""

    def body():
        from roboforge.rl.checkpoints import resolve_checkpoint
        from roboforge.rl.evaluate import evaluate

        path = resolve_checkpoint(checkpoint)
        s = _session(task, num_envs, device, sim, seed, play=True, checkpoint=path)
        result = evaluate(s, path, episodes, quiet=as_json)
        if as_json:
            return {"task": task, "checkpoint": str(path), **asdict(result)}
        table = Table("metric", "value", title=f"{task} - {path}")
        table.add_row("episodes", str(result.episodes))
        table.add_row("mean return", f"{result.mean_return:.3f}")
        table.add_row(
            "mean episode length", f"{result.mean_episode_length:.1f} / {result.max_episode_length}"
        )
        for key, value in sorted(result.metrics.items()):
            table.add_row(key, f"{value:.4f}")
        Console().print(table)

    _run(body, as_json)


@app.command()
def play(
    task: Task,
    checkpoint: Annotated[
        Path, typer.Option(help="model_*.pt file, or a run folder (its latest checkpoint).")
    ],
    steps: Annotated[int, typer.Option(help="Env steps to run.")] = 1000,
    num_envs: NumEnvs = None,
    device: Device = None,
    sim: Sim = "auto",
    viewer: Annotated[
        bool, typer.Option(help="Show world 0 in the MuJoCo viewer (needs a display).")
    ] = False,
) -> None:
    """Run the trained policy (deterministic) in the task's play config, optionally in the viewer."""

    def body():
        from roboforge.rl.checkpoints import resolve_checkpoint
        from roboforge.rl.play import play_policy

        path = resolve_checkpoint(checkpoint)
        overrides = ["env.scene.visual_geoms=true"] if viewer else None  # show the robot's meshes
        s = _session(task, num_envs, device, sim, None, overrides, play=True, checkpoint=path)
        summary = play_policy(s, path, steps, viewer)
        console.print(f"[bold green]played[/] {steps} steps: {summary}")

    _run(body)


@app.command("bench")
def bench_cmd(
    task: Task,
    num_envs: Annotated[int, typer.Option(help="Parallel worlds.")] = 4096,
    steps: Annotated[int, typer.Option(help="Steps to time.")] = 200,
    sim: Sim = "auto",
    device: Device = None,
    train_iterations: Annotated[int, typer.Option(help="PPO iterations to time (0 to skip).")] = 5,
    override: Override = None,
    as_json: Json = False,
) -> None:
    """Measure physics-only, env.step and PPO training throughput in env-steps/s."""

    def body():
        from roboforge.rl.bench import bench

        s = _session(task, num_envs, device, sim, None, override)
        with console.status("benchmarking..."):
            result = bench(s, steps, train_iterations)
        if as_json:
            return asdict(result)
        table = Table(
            "measure", "value", title=f"{task}: {result.num_envs} worlds, {result.backend} on {result.device}"
        )
        table.add_row("physics steps/s (one physics step x worlds)", f"{result.physics_steps_per_s:,.0f}")
        table.add_row(
            f"physics-only env-steps/s (decimation {result.decimation})",
            f"{result.physics_only_env_steps_per_s:,.0f}",
        )
        table.add_row("env.step env-steps/s", f"{result.env_steps_per_s:,.0f}")
        table.add_row("env.step / physics-only", f"{result.physics_share:.0%}")
        if result.ppo_env_steps_per_s is not None:
            table.add_row("PPO training env-steps/s", f"{result.ppo_env_steps_per_s:,.0f}")
        Console().print(table)

    _run(body, as_json)


# Layers that add their own commands: each module defines `register(app, run)` where `run` is `_run`.
LAYER_COMMANDS: tuple[str, ...] = (
    "roboforge.service.commands",
    "roboforge.export.commands",
    "roboforge.deploy.commands",
)


def _register_layer_commands() -> None:
    import importlib

    for module in LAYER_COMMANDS:
        importlib.import_module(module).register(app, _run)


_register_layer_commands()


def main() -> None:
    """Console entry point."""
    sys.exit(app())

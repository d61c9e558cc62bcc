"""`roboforge` command line: list, train, play, eval, bench (export, deploy and serve come from their layers).

Logic lives in roboforge.rl; this file parses, checks and prints. Options that need no torch are checked
before the heavy imports, and every error a user can cause is one line and exit code 2 (`--debug`
shows the traceback).
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from roboforge.utils.console import err_console, out_console
from roboforge.utils.files import dumps_json
from roboforge.utils.overrides import parse_items, split_scopes

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Train robot policies in parallel MuJoCo worlds.",
    epilog="Examples: roboforge list | roboforge train cartpole --device cpu | "
    "roboforge eval cartpole --checkpoint runs/cartpole | roboforge <command> --help",
)
console = err_console()

Task = Annotated[str, typer.Argument(help="Task id (see `roboforge list`).")]
NumEnvs = Annotated[
    int | None,
    typer.Option(
        "--num-envs", help="Parallel worlds (default: the task's; smaller on a CPU for heavy tasks)."
    ),
]
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
Checkpoint = Annotated[
    Path,
    typer.Option(
        help="model_*.pt file, a run folder (its latest checkpoint) or a task folder (its newest run)."
    ),
]


@dataclass
class _Options:
    debug: bool = bool(os.environ.get("ROBOFORGE_DEBUG"))


OPTIONS = _Options()


@app.callback()
def _global_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show the full traceback of an error.")] = False,
) -> None:
    OPTIONS.debug = debug or bool(os.environ.get("ROBOFORGE_DEBUG"))


def parse_overrides(items: list[str] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split 'env.x=1' / 'agent.y=2' items into env and agent override dicts (paths without scope)."""
    return split_scopes(parse_items(items))


def _fail(err: BaseException | str, code: int = 2, label: str = "error") -> None:
    console.print(f"[bold red]{label}:[/] {escape(str(err))}", highlight=False)
    raise typer.Exit(code=code)


def _run(fn, as_json: bool = False):
    """Run a command body, turning errors into one clear line (exit 2: bad input, 1: anything else).

    With `as_json`, anything libraries print goes to stderr and the body's returned dict is the only
    thing on stdout (strict JSON: NaN becomes null). Error types are imported only when something
    fails, so commands that do not need torch (deploy) never load it.
    """
    try:
        if not as_json:
            return fn()
        with _stdout_to_stderr():
            payload = fn()
        print(dumps_json(payload), flush=True)
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
    """Print an error as one line and exit: 1 when training stopped or something unexpected broke,
    2 for bad input. With --debug the traceback is shown instead."""
    if OPTIONS.debug:
        raise err
    from roboforge.assets.sources import AssetError
    from roboforge.utils.config import ConfigError

    if type(err).__name__ == "PolicyNaNError":
        _fail(err, 1, "training stopped")
    expected = (ConfigError, AssetError, FileNotFoundError, NotADirectoryError, ValueError, KeyError)
    if isinstance(err, expected) or type(err).__name__ == "UnknownTaskError":
        _fail(err)
    if isinstance(err, OSError):  # disk full, permissions: the system's words are the message
        _fail(err, 1)
    _fail(
        f"{type(err).__name__}: {err} (an internal error; run with --debug for the traceback and report it)",
        1,
    )


def _check_options(task: str, device: str | None = None, sim: str = "auto", **positive: int | None) -> None:
    """The checks that need no torch: task id, device name, backend, positive counts."""
    from roboforge.envs.registry import task_spec
    from roboforge.rl.options import check_device_name, check_positive, check_sim

    task_spec(task)
    check_device_name(device)
    check_sim(sim)
    for name, value in positive.items():
        check_positive(f"--{name.replace('_', '-')}", value)


def _session(task, num_envs, device, sim, seed, overrides=None, play=False, checkpoint=None, saved=None):
    """Build the task's session. With `checkpoint`, the run's agent config and env overrides apply
    first (its weights fit, its env is the one it was trained in), then `overrides`; `saved` is a run
    folder whose overrides apply likewise (resume). Returns the session and the env/agent overrides
    applied, as dotted keys."""
    from roboforge.rl.run_dir import saved_agent_overrides, saved_env_overrides
    from roboforge.rl.session import build_session

    env_o, agent_o = parse_overrides(overrides)
    source = Path(checkpoint).parent if checkpoint is not None else saved
    run_env: dict[str, Any] = {}
    if source is not None:
        run_env = {k.removeprefix("env."): v for k, v in saved_env_overrides(source).items()}
        agent_o = {**saved_agent_overrides(source), **agent_o}
    env_o = {**run_env, **env_o}
    with console.status(f"building {task} ({num_envs or 'default'} worlds)..."):
        s = build_session(task, num_envs, device, sim, seed, play, env_o, agent_o)
    if run_env:
        shown = " ".join(f"env.{k}={dumps_json(v, None)}" for k, v in run_env.items())
        console.print(f"env overrides of the run: {shown}", highlight=False, markup=False)
    return s, {**{f"env.{k}": v for k, v in env_o.items()}, **parse_items(overrides)}


@app.command("list", epilog="Example: roboforge list --json")
def list_cmd(as_json: Json = False) -> None:
    """List the registered tasks."""
    from roboforge.envs.registry import list_tasks

    tasks = list_tasks()
    if as_json:
        print(dumps_json(tasks), flush=True)
        return
    table = Table("task", "description")
    for name, desc in sorted(tasks.items()):
        table.add_row(name, desc)
    out_console().print(table)


@app.command(
    epilog="Examples: roboforge train cartpole --device cpu | roboforge train velocity-flat-go1 --num-envs 4096 "
    "-o agent.algorithm.learning_rate=5e-4 | roboforge train cartpole --resume --max-iterations 300"
)
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
        bool,
        typer.Option(help="Continue the latest run of TASK from its last checkpoint, with its overrides."),
    ] = False,
    override: Override = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    as_json: Json = False,
) -> None:
    """Train TASK with PPO; writes runs/<task>/<timestamp>/ with configs, logs and checkpoints."""
    interrupted: list[bool] = []

    def body():
        from roboforge.rl.options import check_run_root

        parse_overrides(override)
        _check_options(task, device, sim, num_envs=num_envs, max_iterations=max_iterations)
        check_run_root(run_dir)
        result = _train(
            task, num_envs, max_iterations, device, sim, seed, run_dir, resume, override, quiet or as_json
        )
        interrupted.append(result.interrupted)
        return asdict(result)

    _run(body, as_json)
    if any(interrupted):  # after the summary (and the JSON) are out
        raise typer.Exit(code=130)


def _train(task, num_envs, max_iterations, device, sim, seed, run_dir, resume, override, quiet):
    from roboforge.rl.run_dir import new_run_dir, save_configs, saved_args
    from roboforge.rl.trainer import Trainer

    resume_dir = _resume_dir(task, run_dir) if resume else None
    if resume_dir is not None:
        saved = saved_args(resume_dir)
        num_envs = num_envs if num_envs is not None else saved.get("num_envs")
        max_iterations = max_iterations if max_iterations is not None else saved.get("max_iterations")
        _check_not_finished(resume_dir, max_iterations)
    s, applied = _session(task, num_envs, device, sim, seed, override, saved=resume_dir)
    iterations = max_iterations if max_iterations is not None else s.agent_cfg.max_iterations
    out = resume_dir or new_run_dir(run_dir, task)
    trainer = Trainer(s, out, iterations, quiet=quiet)
    if resume_dir is not None:
        console.print(f"resuming {out} from iteration {trainer.resume()}", highlight=False, markup=False)
    args = {"num_envs": s.env.num_envs, "device": s.device, "sim": sim, "max_iterations": iterations}
    save_configs(out, task, s.env_cfg, s.agent_cfg, {**args, "seed": seed, "overrides": applied})
    console.print(
        f"training [bold]{task}[/] on {s.device} ({type(s.env.sim).__name__}, {s.env.num_envs} worlds) -> {out}",
        highlight=False,
    )
    result = trainer.train()
    console.print(_summary_line(result), highlight=False)
    return result


def _resume_dir(task: str, run_dir: Path) -> Path:
    from roboforge.rl.run_dir import latest_run_dir

    found = run_dir if any(run_dir.glob("model_*.pt")) else latest_run_dir(run_dir, task)
    if found is None:
        raise FileNotFoundError(f"--resume: no run of {task!r} with a checkpoint under {run_dir}.")
    return found


def _check_not_finished(run: Path, total: int | None) -> None:
    """Refuse to resume a run whose latest checkpoint already reached `total` iterations."""
    from roboforge.rl.checkpoints import checkpoint_iteration, latest_checkpoint

    latest = latest_checkpoint(run)
    done = checkpoint_iteration(latest) + 1 if latest is not None else 0
    if total is not None and done >= total:
        raise ValueError(
            f"--resume: {run} already has {done} iterations, and --max-iterations is {total}; "
            "pass a larger --max-iterations (the total) to train further."
        )


def _summary_line(result) -> str:
    state = "interrupted" if result.interrupted else "done"
    length = "n/a" if result.mean_episode_length is None else f"{result.mean_episode_length:.1f}"
    ret = "n/a (no episode ended)" if result.mean_return is None else f"{result.mean_return:.2f}"
    checkpoint = result.checkpoint or "none (stopped before the first iteration ended)"
    return (
        f"[bold green]{state}:[/] {result.iterations} iterations, {result.env_steps_per_s:,.0f} env-steps/s, "
        f"mean episode length {length}/{result.max_episode_length}, mean return {ret}, "
        f"{result.wall_s:.0f} s\ncheckpoint: {checkpoint}"
    )


@app.command(
    "eval",
    epilog="Examples: roboforge eval cartpole --checkpoint runs/cartpole | roboforge eval reach-ur5e "
    "--checkpoint runs/reach-ur5e/<run> --episodes 1000 --json",
)
def eval_cmd(
    task: Task,
    checkpoint: Checkpoint,
    episodes: Annotated[int, typer.Option(help="Episodes to evaluate (at least).")] = 100,
    num_envs: NumEnvs = None,
    device: Device = None,
    sim: Sim = "auto",
    seed: Seed = None,
    override: Override = None,
    as_json: Json = False,
) -> None:
    """Evaluate a checkpoint in its run's env (the run's overrides, then -o): return, length, task metrics."""

    def body():
        from roboforge.rl.checkpoints import resolve_checkpoint
        from roboforge.rl.evaluate import evaluate

        parse_overrides(override)
        _check_options(task, device, sim, num_envs=num_envs, episodes=episodes)
        path = resolve_checkpoint(checkpoint, task)
        s, applied = _session(task, num_envs, device, sim, seed, override, play=True, checkpoint=path)
        result = evaluate(s, path, episodes, quiet=as_json)
        if as_json:
            return {"task": task, "checkpoint": str(path), "overrides": applied, **asdict(result)}
        table = Table("metric", "value", title=f"{task} - {path}")
        table.add_row("episodes", str(result.episodes))
        table.add_row("mean return", f"{result.mean_return:.3f}")
        table.add_row(
            "mean episode length", f"{result.mean_episode_length:.1f} / {result.max_episode_length}"
        )
        for key, value in sorted(result.metrics.items()):
            table.add_row(key, f"{value:.4f}")
        out_console().print(table)

    _run(body, as_json)


@app.command(epilog="Examples: roboforge play cartpole --checkpoint runs/cartpole --steps 600 | --viewer")
def play(
    task: Task,
    checkpoint: Checkpoint,
    steps: Annotated[int, typer.Option(help="Env steps to run.")] = 1000,
    num_envs: NumEnvs = None,
    device: Device = None,
    sim: Sim = "auto",
    viewer: Annotated[
        bool, typer.Option(help="Show world 0 in the MuJoCo viewer (needs a display).")
    ] = False,
    override: Override = None,
    as_json: Json = False,
) -> None:
    """Run the trained policy (deterministic) in the task's play config, optionally in the viewer."""

    def body():
        from roboforge.rl.checkpoints import resolve_checkpoint
        from roboforge.rl.play import play_policy

        parse_overrides(override)
        _check_options(task, device, sim, num_envs=num_envs, steps=steps)
        path = resolve_checkpoint(checkpoint, task)
        shown = ["env.scene.visual_geoms=true"] if viewer else []  # show the robot's meshes
        s, applied = _session(task, num_envs, device, sim, None, shown + list(override or []), True, path)
        summary = play_policy(s, path, steps, viewer)
        if as_json:
            return {
                "task": task,
                "checkpoint": str(path),
                "steps": steps,
                "overrides": applied,
                **asdict(summary),
            }
        console.print(f"[bold green]played[/] {steps} steps: {summary.line()}", highlight=False)

    _run(body, as_json)


@app.command(
    "bench", epilog="Example: roboforge bench velocity-flat-go1 --num-envs 4096 --device cuda --json"
)
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

        parse_overrides(override)
        _check_options(task, device, sim, num_envs=num_envs, steps=steps)
        s, _ = _session(task, num_envs, device, sim, None, override)
        with console.status("benchmarking..."):
            result = bench(s, steps, train_iterations)
        if as_json:
            return asdict(result)
        out_console().print(_bench_table(task, result))

    _run(body, as_json)


def _bench_table(task: str, result) -> Table:
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
    return table


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

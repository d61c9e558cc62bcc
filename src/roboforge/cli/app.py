"""The `roboforge` Typer app, its global options and the option types the commands share."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from roboforge.cli.run import OPTIONS, OneLineUsageErrors

app = typer.Typer(
    cls=OneLineUsageErrors,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Train robot policies in parallel MuJoCo worlds.",
    epilog="Examples: roboforge list | roboforge train cartpole --device cpu | "
    "roboforge eval cartpole --checkpoint runs/cartpole | roboforge <command> --help",
)


@app.callback()
def _global_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show the full traceback of an error.")] = False,
) -> None:
    OPTIONS.debug = debug or bool(os.environ.get("ROBOFORGE_DEBUG"))


Task = Annotated[str, typer.Argument(metavar="TASK", help="Task id (see `roboforge list`).")]
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
Threads = Annotated[
    int | None,
    typer.Option(
        "--threads",
        help="torch CPU threads (default on a CPU device: 1, measured fastest on 2 cores idle and busy; "
        "C MuJoCo's threads are -o env.sim.num_threads).",
    ),
]
Library = Annotated[
    str | None,
    typer.Option(
        "--library",
        help="RL library: rsl_rl (default), skrl, rl_games or sb3; the agent config is the task's file for it.",
    ),
]
Algorithm = Annotated[str | None, typer.Option("--algorithm", help="ppo (default), or sac (skrl and sb3).")]
Checkpoint = Annotated[
    Path,
    typer.Option(
        help="A model_<n> checkpoint file, a run folder (its latest checkpoint) or a task folder (its newest "
        "run); the run's params/ say which library wrote it."
    ),
]
Imports = Annotated[
    list[str] | None,
    typer.Option(
        "--import",
        help="Import this module first, so the tasks it registers exist (repeat for more), e.g. "
        "--import my_robots.tasks; found in the current folder or on PYTHONPATH.",
    ),
]

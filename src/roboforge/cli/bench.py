"""`roboforge bench`: physics-only, env.step and training throughput of one RL library."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from roboforge.cli.app import Algorithm, Device, Imports, Json, Library, Override, Sim, Task, Threads, app
from roboforge.cli.imports import import_modules
from roboforge.cli.run import console, run_command
from roboforge.cli.session import (
    check_library_options,
    check_options,
    open_policy_session,
    open_session,
    set_torch_threads,
)
from roboforge.utils.console import out_console
from roboforge.utils.errors import UserInputError


@app.command(
    "bench", epilog="Example: roboforge bench velocity-flat-go1 --num-envs 4096 --device cuda --json"
)
def bench_cmd(
    task: Task,
    num_envs: Annotated[int, typer.Option(help="Parallel worlds.")] = 4096,
    steps: Annotated[
        int,
        typer.Option(help="Steps to time for each rate (at least: each is timed for at least 0.5 s)."),
    ] = 200,
    sim: Sim = "auto",
    device: Device = None,
    train_iterations: Annotated[int, typer.Option(help="Training iterations to time (0 to skip).")] = 5,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            help="A trained policy (checkpoint file, run or task folder): env.step is also timed with its "
            "actions, after it has acted for half an episode (grasps and gaits can cost more than random "
            "actions), then physics and training from there. Its run's library and overrides apply."
        ),
    ] = None,
    library: Library = None,
    algorithm: Algorithm = None,
    override: Override = None,
    threads: Threads = None,
    imports: Imports = None,
    as_json: Json = False,
) -> None:
    """Measure physics-only, env.step and training throughput (of --library, default rsl_rl) in env-steps/s."""

    def body():
        from roboforge.rl.bench import bench
        from roboforge.rl.options import check_not_negative

        import_modules(imports)
        check_not_negative("--train-iterations", train_iterations, "0 skips training")
        path = None
        if checkpoint is not None:
            if library or algorithm:
                raise UserInputError(
                    "--library and --algorithm come from the checkpoint's run with --checkpoint; leave them out."
                )
            path, s, _ = open_policy_session(
                task, checkpoint, num_envs, device, sim, None, override, threads, play=False, steps=steps
            )
        else:
            check_options(task, device, sim, override, num_envs=num_envs, steps=steps, threads=threads)
            library_, algorithm_ = library or "rsl_rl", algorithm or "ppo"
            check_library_options(task, library_, algorithm_)
            set_torch_threads(threads, device)
            s, _ = open_session(
                task, num_envs, device, sim, None, override, library=library_, algorithm=algorithm_,
                training=train_iterations > 0,
            )  # fmt: skip
        with console.status("benchmarking..."):
            result = bench(s, steps, train_iterations, path)
        if as_json:
            return asdict(result)
        out_console().print(_bench_table(task, result))

    run_command(body, as_json)


def _bench_table(task: str, result) -> Table:
    title = f"{task}: {result.num_envs} worlds, {result.backend} on {result.device}"
    table = Table("measure", "value", title=title)
    table.add_row("physics steps/s (one physics step x worlds)", f"{result.physics_steps_per_s:,.0f}")
    table.add_row(
        f"physics-only env-steps/s (decimation {result.decimation})",
        f"{result.physics_only_env_steps_per_s:,.0f}",
    )
    table.add_row("env.step env-steps/s", f"{result.env_steps_per_s:,.0f}")
    table.add_row("env.step env-steps/s, actions ~ N(0, 1)", f"{result.noisy_env_steps_per_s:,.0f}")
    if result.policy_env_steps_per_s is not None:
        table.add_row(
            "policy + env.step env-steps/s, the trained policy acting",
            f"{result.policy_env_steps_per_s:,.0f}",
        )
    shared = "the policy's env.step" if result.policy_env_steps_per_s is not None else "env.step"
    table.add_row(f"{shared} / physics-only", f"{result.physics_share:.0%}")
    if result.train_env_steps_per_s is not None:
        table.add_row(
            f"training env-steps/s ({result.library} {result.algorithm.upper()})",
            f"{result.train_env_steps_per_s:,.0f}",
        )
    if result.device_memory_gib is not None:
        per_world_mib = 1024 * result.device_memory_gib / result.num_envs
        table.add_row(
            "GPU memory in use, whole device (GiB; MiB per world)",
            f"{result.device_memory_gib:.2f} ({per_world_mib:.2f})",
        )
    for phase, seconds in (result.iteration_s or {}).items():
        shown = UNSPLIT if seconds is None else f"{1000 * seconds:,.1f}"
        table.add_row(f"one iteration: {PHASE_LABELS[phase]} (ms)", shown)
    return table


UNSPLIT = "n/a: the rollout took less than its env steps timed alone"
"""The rollout's split when its env steps at the env.step rate would leave a negative rest."""


PHASE_LABELS = {
    "env_steps": "env steps of the rollout",
    "policy_and_storage": "policy + storage",
    "update": "update",
    "total": "total",
}

"""`roboforge sweep`: an Optuna hyperparameter study whose trials are `roboforge train` runs."""

from __future__ import annotations

import importlib.util
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from roboforge.cli.app import (
    Algorithm,
    Device,
    Imports,
    Json,
    Library,
    NumEnvs,
    Override,
    Seed,
    Sim,
    Task,
    app,
)
from roboforge.cli.imports import import_modules
from roboforge.cli.run import console, parse_overrides, run_command
from roboforge.cli.session import check_library_options, check_options
from roboforge.utils.console import out_console
from roboforge.utils.errors import UserInputError
from roboforge.utils.overrides import apply_checked


@app.command(
    epilog="Example: roboforge sweep cartpole --device cpu --trials 8 --max-iterations 60 "
    "--param agent.algorithm.learning_rate=loguniform:1e-4:1e-2 --param agent.algorithm.entropy_coef=uniform:0:0.02 "
    "--metric Train/mean_reward --direction max"
)
def sweep(
    task: Task,
    param: Annotated[
        list[str],
        typer.Option(
            help="A swept field: PATH=uniform:LOW:HIGH, loguniform:LOW:HIGH, int:LOW:HIGH or choice:A,B (repeat)."
        ),
    ],
    trials: Annotated[int, typer.Option(help="Trials to run (each one `roboforge train`).")] = 8,
    metric: Annotated[
        str, typer.Option(help="What a trial scores: the last logged value.")
    ] = "Train/mean_reward",
    direction: Annotated[str, typer.Option(help="max or min.")] = "max",
    parallel: Annotated[
        int, typer.Option(help="Trials that train at the same time (each its own process or Ray job).")
    ] = 1,
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="Run each trial as a job of this Ray cluster (its dashboard URL, http://HEAD:8265); the "
            "--run-dir must be on storage every Ray node sees at the same path."
        ),
    ] = None,
    library: Library = None,
    algorithm: Algorithm = None,
    num_envs: NumEnvs = None,
    max_iterations: Annotated[int | None, typer.Option(help="Iterations of each trial.")] = None,
    device: Device = None,
    sim: Sim = "auto",
    seed: Seed = None,
    run_dir: Annotated[
        Path, typer.Option(help="Root folder: the sweep goes to DIR/sweeps/TASK/<time>/.")
    ] = Path("runs"),
    override: Override = None,
    imports: Imports = None,
    as_json: Json = False,
) -> None:
    """Search hyperparameters of TASK with Optuna: trials train in their own processes, pruned when they trail."""

    def body():
        from roboforge.rl import sweep as sweeps
        from roboforge.rl.options import check_seed

        import_modules(imports)
        check_options(
            task, device, sim, override, num_envs=num_envs, max_iterations=max_iterations, trials=trials
        )
        check_seed("--seed", seed)  # the trials' build_session checks it too, each one failing alone
        lib, algo = library or "rsl_rl", algorithm or "ppo"
        check_library_options(task, lib, algo)
        if direction not in ("max", "min"):
            raise UserInputError(f"--direction {direction!r}: use max or min.")
        if not 1 <= parallel <= MAX_PARALLEL:
            raise UserInputError(f"--parallel {parallel}: run 1 to {MAX_PARALLEL} trials at a time.")
        specs = sweeps.parse_params(param)
        _check_optuna()
        env_metrics = _check_trial_config(task, specs, override, lib, algo)
        _check_trial_batches(
            task, specs, override, lib, algo, _trial_worlds(task, num_envs, device, override)
        )
        sweeps.check_metric(metric, env_metrics)
        from roboforge.rl.run_dir import new_run_dir

        sweep_dir = new_run_dir(run_dir / "sweeps", task)
        spec = sweeps.SweepSpec(
            task, specs, metric, direction, _train_args(lib, algo, num_envs, max_iterations, device, sim, seed, override),
            sweep_dir, parallel, _launcher(ray_address, sweep_dir, device, parallel),
        )  # fmt: skip
        console.print(
            f"sweeping {task}: {trials} trials, {metric} ({direction}) -> {spec.sweep_dir}", highlight=False
        )
        result = sweeps.run_sweep(spec, trials, on_trial=_print_trial)
        interrupted.append(result.interrupted)
        if not as_json:
            out_console().print(_table(result, trials))
        return asdict(result)

    interrupted: list[bool] = []
    run_command(body, as_json)
    if any(interrupted):  # after the trials so far (and the JSON) are out
        raise typer.Exit(code=130)


MAX_PARALLEL = 64
"""Most trials at a time (each one a training process with its own worlds)."""


def _launcher(ray_address: str | None, sweep_dir: Path, device: str | None, parallel: int):
    """Local processes sharing this one's memory `parallel` ways, or Ray jobs asking for one GPU each when
    the trials train on CUDA."""
    from roboforge.rl import sweep_trials

    if ray_address is None:
        return sweep_trials.LocalTrials(parallel)
    if importlib.util.find_spec("ray") is None:
        raise UserInputError('--ray-address needs the ray package. Install it with: pip install -e ".[ray]"')
    gpus = 1.0 if (device or "").startswith("cuda") else 0.0
    return sweep_trials.RayTrials(ray_address, f"sweep-{sweep_dir.parent.name}-{sweep_dir.name}", gpus)


def _check_optuna() -> None:
    if importlib.util.find_spec("optuna") is None:
        raise UserInputError(
            'the optuna package is not installed. Install it with: pip install -e ".[sweep]"'
        )


def _check_trial_config(task, specs, override, library, algorithm) -> list[str]:
    """Build the task once with one world on the CPU, every swept field at a value of its distribution
    (unknown paths and wrong types fail here); returns the episode statistics its env logs."""
    from roboforge.rl.session import build_session

    env_o, agent_o = parse_overrides(override)
    for spec in specs:
        scope, _, path = spec.path.partition(".")
        (env_o if scope == "env" else agent_o)[path] = spec.first_value()
    with console.status(f"checking {task} with the swept fields..."):
        s = build_session(task, 1, "cpu", "auto", None, False, env_o, agent_o, library, algorithm)
        _check_other_values(task, specs, library, algorithm)
        return s.env.episode_stat_names()


def _check_other_values(task, specs, library, algorithm) -> None:
    """The other end of each swept range, and every other choice, against its field's type and limits, as
    `-o` checks them (the session above was built with the first)."""
    from roboforge.envs.registry import load_cfg
    from roboforge.rl.libraries import learner_class

    for spec in specs:
        scope, _, path = spec.path.partition(".")
        for value in spec.values_to_check()[1:]:
            cfg = load_cfg(task) if scope == "env" else learner_class(library).load_cfg(task, algorithm)
            apply_checked(cfg, scope, {path: value})


def _trial_worlds(task, num_envs, device, override) -> int | None:
    """The world count of every trial where it is known here: `-o env.scene.num_envs`, `--num-envs`, or the
    task's default for `--device` (None without one: a Ray worker with a GPU uses the GPU default)."""
    from roboforge.envs.registry import load_cfg
    from roboforge.rl.session import default_num_envs

    env_o, _ = parse_overrides(override)
    if "scene.num_envs" in env_o:
        return int(env_o["scene.num_envs"])
    if num_envs is not None or device is None:
        return num_envs
    return default_num_envs(task, "cpu" if device == "cpu" else "cuda") or load_cfg(task).scene.num_envs


def _check_trial_batches(task, specs, override, library, algorithm, worlds: int | None) -> None:
    """Every value of each swept agent field, with the other overrides, against the trials' world count as
    `roboforge train` checks it (`Learner.check_cfg`: mini-batches that cannot split a rollout), so that no
    trial fails on a value the sweep could have refused."""
    from roboforge.rl.libraries import learner_class

    if worlds is None:
        return
    learner = learner_class(library)
    _, agent_o = parse_overrides(override)
    swept = {s.path.removeprefix("agent."): s for s in specs if s.path.startswith("agent.")}
    firsts = {path: spec.first_value() for path, spec in swept.items()}
    cases = [{path: value} for path, spec in swept.items() for value in spec.values_to_check()]
    for case in cases or [{}]:  # without a swept agent field: the -o overrides alone
        cfg = learner.load_cfg(task, algorithm)
        apply_checked(cfg, "agent", {**agent_o, **firsts, **case})
        learner.check_cfg(cfg, algorithm, worlds)


def _train_args(library, algorithm, num_envs, max_iterations, device, sim, seed, override) -> list[str]:
    from roboforge.envs.registry import import_args, imported_task_modules

    args = ["--library", library, "--algorithm", algorithm, "--sim", sim]
    for flag, value in (("--num-envs", num_envs), ("--max-iterations", max_iterations), ("--device", device)):
        if value is not None:
            args += [flag, str(value)]
    if seed is not None:
        args += ["--seed", str(seed)]
    for item in override or []:
        args += ["-o", item]
    return args + import_args(imported_task_modules())  # each trial imports the same task modules


def _print_trial(trial) -> None:
    value = "n/a" if trial.value is None else f"{trial.value:.4g}"
    params = ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items()
    )
    console.print(
        f"trial {trial.number}: {trial.state.name.lower()}, value {value} ({params})", highlight=False
    )


def _table(result, trials: int) -> Table:
    """One row per trial; the swept fields as columns (those of any trial: with no trial complete there is no
    best to take them from)."""
    title = f"interrupted: {len(result.trials)} of {trials} trials started" if result.interrupted else None
    columns = list(dict.fromkeys(k for t in result.trials for k in t.params))
    table = Table("trial", "state", result.metric, *columns, title=title)
    for t in result.trials:
        marker = " (best)" if result.best is not None and t.number == result.best.number else ""
        value = "" if t.value is None else f"{t.value:.4g}"
        params = [t.params.get(k, "") for k in columns]
        table.add_row(
            f"{t.number}{marker}",
            t.state,
            value,
            *[f"{v:.4g}" if isinstance(v, float) else str(v) for v in params],
        )
    return table

"""`roboforge train`: PPO training into a run folder, or `--resume` of one."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

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
    Threads,
    app,
)
from roboforge.cli.imports import import_modules, import_run_modules
from roboforge.cli.run import console, run_command
from roboforge.cli.session import check_library_options, check_options, open_session, set_torch_threads
from roboforge.utils.console import count
from roboforge.utils.errors import NotFoundError, UserInputError


@app.command(
    epilog="Examples: roboforge train cartpole --device cpu | roboforge train cartpole --library skrl | "
    "roboforge train cartpole --library sb3 --algorithm sac | roboforge train velocity-flat-go1 --num-envs 4096 "
    "-o agent.algorithm.learning_rate=5e-4 | roboforge train cartpole --resume --max-iterations 300 | "
    "roboforge train my-task --import my_robots.tasks"
)
def train(
    task: Task,
    library: Library = None,
    algorithm: Algorithm = None,
    num_envs: NumEnvs = None,
    max_iterations: Annotated[
        int | None, typer.Option(help="Total training iterations (default: the agent config's).")
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
    agent_cfg: Annotated[
        Path | None,
        typer.Option(
            "--agent-cfg",
            help="An agent config file in the library's own YAML format (e.g. an Isaac Lab skrl_ppo_cfg.yaml) "
            "instead of the task's.",
        ),
    ] = None,
    override: Override = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    threads: Threads = None,
    distributed: Annotated[
        bool,
        typer.Option(
            help="Data-parallel training under torchrun (PPO of rsl_rl, skrl or rl_games): one process per GPU "
            "(NCCL) or CPU process (gloo); --num-envs counts the worlds of each process; rank 0 writes the run."
        ),
    ] = False,
    gpus: Annotated[
        str | None,
        typer.Option(
            help="Train on these GPUs of this machine ('all' or '0,1'): starts torchrun with --distributed."
        ),
    ] = None,
    video_interval: Annotated[
        int | None,
        typer.Option(
            help="Every N iterations record a clip of the training env into the run's videos/iter_<n>.mp4 "
            "(and tensorboard; off screen, extra 'video')."
        ),
    ] = None,
    video_length: Annotated[
        int | None, typer.Option(help="Env steps in each --video-interval clip (default 200).")
    ] = None,
    video_worlds: Annotated[
        int | None,
        typer.Option(help="Worlds in each --video-interval clip, tiled in a grid (1-16; default 1)."),
    ] = None,
    imports: Imports = None,
    as_json: Json = False,
) -> None:
    """Train TASK with an RL library; writes runs/<task>/<timestamp>/ with configs, logs and checkpoints."""
    interrupted: list[bool] = []
    launched: list[int] = []

    def body():
        from roboforge.rl.options import check_run_root
        from roboforge.rl.train_video_cfg import train_video_cfg

        import_modules(imports)
        if resume:  # a run of a task of the user's own names the modules it was trained with
            import_run_modules(task, lambda: _resume_dir(task, run_dir))
        check_options(
            task, device, sim, override, num_envs=num_envs, max_iterations=max_iterations, threads=threads
        )
        check_library_options(task, library or "rsl_rl", algorithm or "ppo")
        set_torch_threads(threads, device)
        check_run_root(run_dir)
        video = train_video_cfg(video_interval, video_length, video_worlds)
        if agent_cfg is not None and resume:
            raise UserInputError(
                "--agent-cfg starts a new run; --resume continues with the run's own config."
            )
        if agent_cfg is not None and not agent_cfg.is_file():
            raise UserInputError(f"--agent-cfg {agent_cfg}: no such file.")
        if (
            gpus is not None
        ):  # checked here first: each rank would otherwise fail alone, under torchrun's trace
            launched.append(
                _launch_on_gpus(gpus, distributed, library or "rsl_rl", algorithm or "ppo", device)
            )
            return None  # rank 0 prints the summary
        result = _train(
            task, (library, algorithm), num_envs, max_iterations, device, sim, seed, run_dir, resume, override,
            quiet or as_json, agent_cfg, distributed, video,
        )  # fmt: skip
        interrupted.append(result.interrupted)
        if distributed and os.environ.get("RANK", "0") != "0":
            return None  # rank 0 prints the run's summary
        return asdict(result)

    run_command(body, as_json)
    if launched:
        raise typer.Exit(code=launched[0])
    if any(interrupted):  # after the summary (and the JSON) are out
        raise typer.Exit(code=130)


def _launch_on_gpus(gpus: str, distributed: bool, library: str, algorithm: str, device: str | None) -> int:
    """`--gpus`: run this same command through torchrun, one process per GPU; returns torchrun's exit code."""
    import sys

    from roboforge.rl import distributed as dist_run

    if distributed:
        raise UserInputError(
            "--gpus starts torchrun itself; leave out --distributed (or --gpus under torchrun)."
        )
    if device == "cpu":
        raise UserInputError(
            "--gpus trains on GPUs; leave out --device cpu (CPU processes: torchrun ... --distributed)."
        )
    dist_run.check_library(library, algorithm)
    return dist_run.launch(gpus, dist_run.without_option(sys.argv[1:], "--gpus"))


def _train(
    task, library_algorithm, num_envs, max_iterations, device, sim, seed, run_dir, resume, override, quiet,
    agent_file=None, distributed=False, video=None,
):  # fmt: skip
    """Train in this process; with `distributed`, as one rank of the torchrun job (rank 0 writes the run)."""
    from roboforge.rl import distributed as dist_run

    if distributed:
        device = dist_run.join(device, library_algorithm[0] or "rsl_rl", library_algorithm[1] or "ppo")
    finished = False
    try:
        summary = _train_process(
            task, library_algorithm, num_envs, max_iterations, device, sim, seed, run_dir, resume, override,
            quiet or not dist_run.current().writes, agent_file, video,
        )  # fmt: skip
        finished = not summary.interrupted  # a stop may catch the ranks in different collectives
        return summary
    finally:
        dist_run.leave(finished)


def _train_process(
    task, library_algorithm, num_envs, max_iterations, device, sim, seed, run_dir, resume, override, quiet,
    agent_file=None, video=None,
):  # fmt: skip
    from roboforge.cli.imports import RUN_KEY
    from roboforge.envs.registry import imported_task_modules
    from roboforge.rl import distributed as dist_run
    from roboforge.rl.run_dir import new_run_dir, save_configs, saved_args
    from roboforge.rl.trainer import Trainer

    rank = dist_run.current()
    library, algorithm = library_algorithm
    resume_dir = _resume_dir(task, run_dir) if resume else None
    if resume_dir is not None:
        saved = saved_args(resume_dir)
        library, algorithm = _resumed_library(resume_dir, saved, library, algorithm)
        num_envs = num_envs if num_envs is not None else saved.get("num_envs")
        max_iterations = max_iterations if max_iterations is not None else saved.get("max_iterations")
        _check_not_finished(resume_dir, max_iterations)
    library, algorithm = library or "rsl_rl", algorithm or "ppo"
    if rank.world_size > 1:  # a resumed run's own library, known only now
        dist_run.check_library(library, algorithm)
    env_state = _resumed_env_state(resume_dir) if resume_dir is not None else None
    s, applied = open_session(
        task, num_envs, device, sim, seed, override, run=resume_dir, library=library, algorithm=algorithm,
        agent_file=agent_file, env_state=env_state, training=True,
    )  # fmt: skip
    iterations = max_iterations if max_iterations is not None else s.learner.max_iterations
    out = resume_dir or dist_run.from_rank0(new_run_dir(run_dir, task) if rank.writes else None)
    trainer = Trainer(s, out, iterations, quiet=quiet, video=video)
    if resume_dir is not None:  # every rank loads the checkpoint: same weights, same iteration count
        resumed = trainer.resume()
        if rank.writes:
            console.print(
                f"resuming {out} from iteration {resumed} {_restored(env_state)}",
                highlight=False,
                markup=False,
            )
    args = {
        "library": library,
        "algorithm": algorithm,
        "num_envs": s.env.num_envs,
        "device": s.device,
        "sim": sim,
        "max_iterations": iterations,
    }
    if rank.world_size > 1:
        args.update(distributed_processes=rank.world_size)
    if imported_task_modules():  # eval, export and --resume import them again
        args.update({RUN_KEY: imported_task_modules()})
    if not rank.writes:
        return trainer.train()
    save_configs(out, task, s.env_cfg, s.agent_cfg, {**args, "seed": seed, "overrides": applied})
    processes = f" x {rank.world_size} processes" if rank.world_size > 1 else ""
    console.print(
        f"training [bold]{task}[/] with {library} {algorithm.upper()} on {s.device} "
        f"({type(s.env.sim).__name__}, {s.env.num_envs} worlds{processes}) -> {out}",
        highlight=False,
    )
    result = trainer.train()
    console.print(_summary_line(result), highlight=False)
    return result


def _resume_dir(task: str, run_dir: Path) -> Path:
    from roboforge.rl.checkpoints import latest_checkpoint
    from roboforge.rl.run_dir import check_run_task, latest_run_dir

    found = run_dir if latest_checkpoint(run_dir) is not None else latest_run_dir(run_dir, task)
    if found is None:
        raise NotFoundError(f"--resume: no run of {task!r} with a checkpoint under {run_dir}.")
    check_run_task(found, task, f"--resume: {found}")
    return found


def _resumed_env_state(run: Path) -> dict | None:
    """The env state saved with the run's latest checkpoint (the one `Trainer.resume` loads), or None."""
    from roboforge.rl.checkpoints import latest_checkpoint, read_env_state

    latest = latest_checkpoint(run)
    return read_env_state(latest) if latest is not None else None


def _restored(env_state: dict | None) -> str:
    """What a resumed run continues from besides the policy: terrain levels only where the env has them."""
    if env_state is None:
        return "(no env_<n>.pt beside the checkpoint: curricula start over)"
    return "with its terrain levels and step count" if env_state["terrain"] else "with its step count"


def _resumed_library(run: Path, saved: dict, library: str | None, algorithm: str | None) -> tuple[str, str]:
    """The run's own library and algorithm; a different --library/--algorithm is an error."""
    mine = (str(saved.get("library") or "rsl_rl"), str(saved.get("algorithm") or "ppo"))
    if library not in (None, mine[0]) or algorithm not in (None, mine[1]):
        raise UserInputError(
            f"--resume: {run} trained with {mine[0]} {mine[1].upper()}; leave out --library/--algorithm "
            "(a run continues with its own) or start a new run."
        )
    return mine


def _check_not_finished(run: Path, total: int | None) -> None:
    """Refuse to resume a run whose latest checkpoint already reached `total` iterations."""
    from roboforge.rl.checkpoints import checkpoint_iteration, latest_checkpoint

    latest = latest_checkpoint(run)
    done = checkpoint_iteration(latest) + 1 if latest is not None else 0
    if total is not None and done >= total:
        raise UserInputError(
            f"--resume: {run} already has {count(done, 'iteration')}, and --max-iterations is {total}; "
            "pass a larger --max-iterations (the total) to train further."
        )


def _summary_line(result) -> str:
    state = "interrupted" if result.interrupted else "done"
    checkpoint = result.checkpoint or "none (stopped before the first iteration ended)"
    return (
        f"[bold green]{state}:[/] {count(result.iterations, 'iteration')}, "
        f"{result.env_steps_per_s:,.0f} env-steps/s, {_episodes_line(result)}, "
        f"{result.wall_s:.0f} s\ncheckpoint: {checkpoint}"
    )


def _episodes_line(result) -> str:
    """The episodes of the last iteration: mean length over the longest possible and mean return."""
    if result.mean_episode_length is None or result.mean_return is None:
        return (
            f"no episode ended in the last iteration (episodes last up to {result.max_episode_length} steps)"
        )
    return (
        f"mean episode length {result.mean_episode_length:.1f}/{result.max_episode_length}, "
        f"mean return {result.mean_return:.2f}"
    )

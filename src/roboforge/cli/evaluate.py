"""`roboforge eval` and `roboforge play`: a trained policy in the env its run was trained in."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from roboforge.cli.app import (
    Checkpoint,
    Device,
    Imports,
    Json,
    NumEnvs,
    Override,
    Seed,
    Sim,
    Task,
    Threads,
    app,
)
from roboforge.cli.imports import import_modules
from roboforge.cli.run import console, run_command
from roboforge.cli.session import open_policy_session
from roboforge.utils.console import out_console
from roboforge.utils.errors import UserInputError
from roboforge.utils.files import check_folder


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
    threads: Threads = None,
    imports: Imports = None,
    as_json: Json = False,
) -> None:
    """Evaluate a checkpoint in its run's env (the run's overrides, then -o): return, length, task metrics."""
    interrupted: list[bool] = []

    def body():
        from roboforge.rl.evaluate import evaluate

        import_modules(imports)
        path, s, applied = open_policy_session(
            task, checkpoint, num_envs, device, sim, seed, override, threads, episodes=episodes
        )
        result = evaluate(s, path, episodes, quiet=as_json)
        interrupted.append(result.interrupted)
        if as_json:
            return {"task": task, "checkpoint": str(path), "overrides": applied, **asdict(result)}
        title = f"{task} - {path}"
        if result.interrupted:
            title += f" (interrupted: {result.episodes} of {episodes} episodes ended)"
        out_console().print(_eval_table(title, result))

    run_command(body, as_json)
    if any(interrupted):  # after the statistics (and the JSON) are out
        raise typer.Exit(code=130)


def _eval_table(title: str, result) -> Table:
    table = Table("metric", "value", title=title)
    table.add_row("episodes", str(result.episodes))
    table.add_row("mean return", f"{result.mean_return:.3f}")
    table.add_row("mean episode length", f"{result.mean_episode_length:.1f} / {result.max_episode_length}")
    for key, value in sorted(result.metrics.items()):
        table.add_row(key, f"{value:.4f}")
    return table


@app.command(
    epilog="Examples: roboforge play cartpole --checkpoint runs/cartpole --steps 600 | --viewer | "
    "roboforge play velocity-flat-go1 --checkpoint runs/velocity-flat-go1 --video --worlds 4"
)
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
    video: Annotated[
        bool,
        typer.Option(help="Write an MP4 of the first --video-length steps (off screen; extra 'video')."),
    ] = False,
    video_length: Annotated[int, typer.Option(help="Env steps in the video.")] = 200,
    worlds: Annotated[int, typer.Option(help="Worlds in the video, tiled in a grid (1-16).")] = 1,
    video_path: Annotated[
        Path | None,
        typer.Option(help="MP4 to write (default: videos/play_<time>.mp4 in the checkpoint's run)."),
    ] = None,
    override: Override = None,
    threads: Threads = None,
    imports: Imports = None,
    as_json: Json = False,
) -> None:
    """Run the trained policy (deterministic) in the task's play config, in the viewer or into a video."""

    def body():
        from roboforge.rl.play import play_policy

        import_modules(imports)
        if video and video_length > steps:
            raise UserInputError(
                f"--video-length {video_length} is more than --steps {steps}; raise --steps."
            )
        if video and video_path is not None:
            check_folder("--video-path", video_path, file=True)
        shown = ["env.scene.visual_geoms=true"] if viewer or video else []  # show the robot's meshes
        overrides = shown + list(override or [])
        path, s, applied = open_policy_session(
            task, checkpoint, num_envs, device, sim, None, overrides, threads, steps=steps,
            video_length=video_length, worlds=worlds,
        )  # fmt: skip
        request = video_request(path, video_path, video_length, worlds) if video else None
        summary = play_policy(s, path, steps, viewer, request)
        if as_json:
            return {
                "task": task,
                "checkpoint": str(path),
                "steps": steps,
                "overrides": applied,
                **asdict(summary),
            }
        console.print(f"[bold green]played[/] {steps} steps: {summary.line()}", highlight=False)
        if summary.video:
            console.print(f"video: {summary.video}", highlight=False)

    run_command(body, as_json)


def video_request(checkpoint: Path, path: Path | None, length: int, worlds: int):
    """The video `play --video` writes: `path`, or videos/play_<time>.mp4 in the checkpoint's run folder."""
    from datetime import datetime

    from roboforge.render import RenderCfg
    from roboforge.rl.play import VideoRequest

    default = checkpoint.parent / "videos" / f"play_{datetime.now():%Y-%m-%d_%H-%M-%S}.mp4"
    return VideoRequest(path or default, length, RenderCfg(worlds=worlds))

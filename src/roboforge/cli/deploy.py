"""`roboforge deploy`: run an exported policy with the deployment runtime (sim-to-sim check, latency
benchmark, or a robot behind UDP). Imports no torch."""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from roboforge.cli.app import Json, app
from roboforge.cli.run import run_command
from roboforge.utils.console import err_console, out_console
from roboforge.utils.errors import UserInputError
from roboforge.utils.files import check_folder

console = err_console()


def parse_commands(items: list[str] | None) -> dict:
    """'name=v1,v2,...' items -> {name: array}."""
    import numpy as np

    out = {}
    for item in items or []:
        name, sep, values = item.partition("=")
        try:
            out[name] = np.array([float(v) for v in values.split(",")])
        except ValueError:
            sep = ""
        if not sep or not name:
            raise UserInputError(f"Bad --command {item!r}: use NAME=v1,v2,... (numbers).")
    return out


def check_commands(given: dict, expected: dict[str, int]) -> None:
    """Raise ValueError for a --command the policy does not observe or one of the wrong size."""
    for name, values in given.items():
        if name not in expected:
            known = ", ".join(f"{n} ({k} values)" for n, k in expected.items()) or "none"
            raise UserInputError(
                f"--command {name}: the policy observes no command {name!r}; its commands: {known}."
            )
        if len(values) != expected[name]:
            raise UserInputError(
                f"--command {name}: {expected[name]} values expected (v1,v2,...), got {len(values)}."
            )


def check_safety_limits(**limits: float | None) -> None:
    """Raise UserInputError unless each given safety threshold is a finite number above 0 (a NaN would
    switch its rule off or send NaN targets to the robot; a negative one stops or rate-limits wrongly)."""
    for name, value in limits.items():
        if value is not None and not (math.isfinite(value) and value > 0):
            raise UserInputError(
                f"--{name.replace('_', '-')} must be a finite number above 0, got {value}; "
                "leave it out for the default."
            )


def check_counts(kind: str, bench: bool, *, episodes: int, steps: int) -> None:
    """The count the chosen mode runs (--steps for --bench and a UDP robot, --episodes for sim) is >= 1:
    checked before the policy is loaded and the sim built, so a wrong count fails at once."""
    name, value = ("--steps", steps) if bench or kind == "udp" else ("--episodes", episodes)
    if value < 1:
        raise UserInputError(f"{name} must be >= 1, got {value}.")


def parse_robot(robot: str) -> tuple[str, tuple[str, int] | None]:
    """'sim' or 'udp://HOST:PORT'."""
    if robot == "sim":
        return "sim", None
    if robot.startswith("udp://"):
        host, _, port = robot.removeprefix("udp://").rpartition(":")
        if host and port.isdigit():
            if not 1 <= int(port) <= 65535:
                raise UserInputError(f"--robot {robot!r}: the port must be 1 to 65535, got {port}.")
            return "udp", (host, int(port))
    raise UserInputError(f"Unknown --robot {robot!r}: use 'sim' (MuJoCo sim-to-sim) or 'udp://HOST:PORT'.")


@app.command(
    "deploy",
    epilog="Examples: roboforge deploy runs/cartpole/<run>/exported/policy.onnx --episodes 1000 | "
    "... --bench | ... --robot udp://192.168.1.20:9870 --command base_velocity=0.5,0,0",
)
def deploy_cmd(
    policy: Annotated[
        Path,
        typer.Argument(
            metavar="POLICY", help="Exported policy.onnx (metadata embedded), or the folder holding it."
        ),
    ],
    robot: Annotated[
        str, typer.Option(help="'sim' (the task's scene in MuJoCo) or 'udp://HOST:PORT'.")
    ] = "sim",
    episodes: Annotated[int, typer.Option(help="Sim episodes to run.")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the sim reset distribution.")] = 0,
    bench: Annotated[
        bool, typer.Option(help="Measure per-step latency (observation, inference, safety).")
    ] = False,
    steps: Annotated[int, typer.Option(help="Steps to time with --bench, or to run on a UDP robot.")] = 5000,
    command: Annotated[
        list[str] | None,
        typer.Option(help="Constant command NAME=v1,v2,... for generated_commands terms."),
    ] = None,
    max_position_rate: Annotated[
        float | None, typer.Option(help="Safety: position target rate limit (/s).")
    ] = None,
    max_effort_rate: Annotated[
        float | None, typer.Option(help="Safety: effort target rate limit (/s).")
    ] = None,
    max_state_age: Annotated[
        float, typer.Option(help="Safety: stop and hold on states older than this (s).")
    ] = 0.1,
    clamp: Annotated[
        bool, typer.Option(help="Safety: clamp targets to joint, velocity and effort limits.")
    ] = True,
    video: Annotated[
        bool, typer.Option(help="Sim: write an MP4 of the first --video-length steps (extra 'video').")
    ] = False,
    video_length: Annotated[int, typer.Option(help="Steps in the video.")] = 200,
    video_path: Annotated[
        Path | None, typer.Option(help="MP4 to write (default: videos/deploy_<time>.mp4 beside POLICY).")
    ] = None,
    as_json: Json = False,
) -> None:
    """Run POLICY with the deployment runtime: sim-to-sim metrics (as `roboforge eval`), --bench latency."""
    interrupted: list[bool] = []

    def body():
        from roboforge.deploy.metadata import resolve_policy
        from roboforge.deploy.runner import PolicyRunner
        from roboforge.deploy.safety import SafetyCfg
        from roboforge.rl.options import check_seed

        kind, address = parse_robot(robot)
        check_seed("--seed", seed)
        check_safety_limits(
            max_position_rate=max_position_rate, max_effort_rate=max_effort_rate, max_state_age=max_state_age
        )
        if video and (kind != "sim" or bench):
            raise UserInputError("--video records sim episodes: use it with --robot sim and without --bench.")
        if video_length < 1:
            raise UserInputError(f"--video-length must be >= 1, got {video_length}.")
        check_counts(kind, bench, episodes=episodes, steps=steps)
        if video and video_path is not None:
            check_folder("--video-path", video_path, file=True)
        safety = SafetyCfg(
            clamp_to_limits=clamp, clamp_effort=clamp, max_position_rate=max_position_rate,
            max_effort_rate=max_effort_rate, max_state_age_s=max_state_age,
        )  # fmt: skip
        path = resolve_policy(policy)  # the file, or policy.onnx in the export folder given
        runner = PolicyRunner.load(path, safety)
        cmds = parse_commands(command)
        check_commands(cmds, runner.meta.commands)
        if kind == "udp":
            return _udp(runner, address, steps, cmds, as_json)  # type: ignore[arg-type]
        from roboforge.deploy.mujoco_robot import MujocoSimRobot

        sim = MujocoSimRobot(runner.meta, path.parent)
        if bench:
            return _bench(runner, sim, steps, seed, cmds, as_json)
        clip = _clip(sim, runner, video_path or _default_video(path), video_length) if video else None
        return _episodes(runner, sim, episodes, seed, cmds, as_json, path, clip, interrupted)

    run_command(body, as_json)
    if any(interrupted):  # after the statistics (and the JSON) are out
        raise typer.Exit(code=130)


def _default_video(policy: Path) -> Path:
    from datetime import datetime

    return policy.parent / "videos" / f"deploy_{datetime.now():%Y-%m-%d_%H-%M-%S}.mp4"


def _clip(sim, runner, path: Path, length: int):
    from roboforge.render import Clip

    return Clip(sim.model, path, fps=1.0 / runner.meta.control.step_dt, length=length)


def _episodes(
    runner, sim, episodes, seed, cmds, as_json, policy, clip=None, interrupted: list[bool] | None = None
):
    from rich.progress import Progress

    from roboforge.deploy.episodes import run_sim_episodes

    on_step = (lambda robot: clip.add(robot.data.qpos)) if clip is not None else None
    try:
        with Progress(disable=as_json) as progress:
            bar = progress.add_task("sim episodes", total=episodes)
            on_episode = lambda done: progress.update(bar, completed=done)  # noqa: E731
            result = run_sim_episodes(runner, sim, episodes, seed, cmds, on_step, on_episode)
    finally:  # an interrupted run still leaves the frames so far as a video
        written = clip.close() if clip is not None else None
    if interrupted is not None:
        interrupted.append(result.interrupted)
    if written is not None and not as_json:
        console.print(f"video: {written}", highlight=False)
    for note in result.skipped_events:
        console.print(f"[bold yellow]note:[/] event {note} is not reproduced (nominal model)")
    if as_json:
        video = {"video": str(written)} if written is not None else {}
        return {"task": runner.meta.task, "policy": str(policy), "robot": "sim", **asdict(result), **video}
    title = f"{runner.meta.task} - {policy} - MuJoCo sim-to-sim"
    if result.interrupted:
        title += f" (interrupted: {result.episodes} of {episodes} episodes ended)"
    table = Table("metric", "value", title=title)
    table.add_row("episodes", str(result.episodes))
    table.add_row("mean episode length", f"{result.mean_episode_length:.1f} / {result.max_episode_length}")
    for key, value in sorted(result.metrics.items()):
        table.add_row(key, f"{value:.4f}")
    for key, value in result.safety.items():
        table.add_row(f"safety/{key}", str(value))
    out_console().print(table)


def _bench(runner, sim, steps, seed, cmds, as_json):
    from roboforge.deploy.bench import bench_latency

    with console.status(f"timing {steps} control steps..."):
        result = bench_latency(runner, sim, steps, seed=seed, commands=cmds)
    if as_json:
        return asdict(result)
    table = Table("phase", "p50 (µs)", "p99 (µs)", "mean (µs)", "max (µs)",
                  title=f"{runner.meta.task} ({result.policy_kind}): {result.steps} steps on CPU {result.cpu}")  # fmt: skip
    for name, p in result.phases.items():
        table.add_row(
            name, f"{p['p50_us']:.1f}", f"{p['p99_us']:.1f}", f"{p['mean_us']:.1f}", f"{p['max_us']:.0f}"
        )
    out_console().print(table)


def _udp(runner, address, steps, cmds, as_json):
    from roboforge.deploy.loop import run_control_loop
    from roboforge.deploy.udp_robot import UdpJsonRobot

    osc = [t.name for t in runner.meta.actions if t.type == "operational_space"]
    if osc:  # torques solved once per command oscillate: training solves them every physics step
        raise UserInputError(
            f"Action term {osc[0]!r} is operational-space control, whose torques must be recomputed every physics "
            f"step ({runner.meta.control.physics_dt:g} s); the UDP link sends one command per control step. "
            "Run the controller on the robot, or deploy an IK or joint-space policy."
        )
    link = UdpJsonRobot(address, state_timeout_s=runner.command_dt / 2)
    try:
        runner.reset()
        result = run_control_loop(runner, link, steps, runner.command_dt, cmds)
    finally:
        link.close()
    if as_json:
        return asdict(result)
    console.print(
        f"[bold green]ran[/] {result.steps} steps on {address[0]}:{address[1]}: {result.hold_steps} holding, "
        f"{result.overruns} overruns, {result.mean_step_us:.0f} µs per step"
        + (f", stopped: {result.stop_reason}" if result.stop_reason else "")
    )

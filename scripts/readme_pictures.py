"""Render the README's pictures: the Go1 with its commanded and actual velocity arrows, the Panda with the
cube and the lift target, and what the camera cart-pole's policy sees (its 64x64 camera image, enlarged,
beside a view of the same state).

    python scripts/readme_pictures.py [OUT_DIR]   # default docs/images; needs the video extra (imageio)

The pictures show each task's state a second after a reset (zero actions), built on the CPU with C MuJoCo.
"""

from __future__ import annotations

import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch

import roboforge.tasks  # noqa: F401  (registers the tasks)
from roboforge.render import RenderCfg, WorldRenderer
from roboforge.rl.session import build_session

SETTLE_S = 1.0
"""Seconds of zero actions before the picture."""


def settled_env(task: str):
    """The task's env on the CPU, one world, after `SETTLE_S` of zero actions."""
    shown = {
        "scene.visual_geoms": True
    }  # the robots' meshes (training drops them where only collisions count)
    env = build_session(task, num_envs=1, device="cpu", sim="mujoco", env_overrides=shown).env
    env.reset()
    zeros = torch.zeros(env.num_envs, env.num_actions)
    for _ in range(round(SETTLE_S / env.step_dt)):
        env.step(zeros)
    return env


def scene_view(env, cfg: RenderCfg) -> np.ndarray:
    """World 0 from the render layer's tracking camera, command markers drawn in."""
    renderer = WorldRenderer(env.scene.model, cfg)
    try:
        qpos = env.sim.qpos[:1].cpu().numpy().astype(np.float64)
        commands = getattr(env, "command_manager", None)
        return renderer.frame(qpos, [commands.markers(0)] if commands is not None else None)
    finally:
        renderer.close()


def camera_view(env, sensor: str = "camera", scale: int = 4) -> np.ndarray:
    """World 0's camera image as the policy gets it, enlarged `scale` times (nearest pixel)."""
    rgb = env.scene.sensors[sensor].data.rgb[0].cpu().numpy()
    return rgb.repeat(scale, axis=0).repeat(scale, axis=1)


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    go1 = settled_env("velocity-flat-go1")
    iio.imwrite(out_dir / "go1.png", scene_view(go1, RenderCfg(width=480, height=320, distance=1.4)))
    lift = settled_env("lift-cube-panda")
    iio.imwrite(out_dir / "lift_panda.png", scene_view(lift, RenderCfg(width=480, height=320, distance=1.6)))
    cartpole = settled_env("cartpole-rgb")
    seen = camera_view(cartpole)
    side = scene_view(cartpole, RenderCfg(width=seen.shape[1], height=seen.shape[0], markers=False))
    iio.imwrite(out_dir / "cartpole_rgb.png", np.concatenate([seen, side], axis=1))
    for name in ("go1.png", "lift_panda.png", "cartpole_rgb.png"):
        print(out_dir / name)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/images"))

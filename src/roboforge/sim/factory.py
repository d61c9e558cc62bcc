"""Choose and build a physics backend: `make_simulator` (MuJoCo Warp or C MuJoCo behind one protocol)."""

from __future__ import annotations

from typing import Literal

import mujoco
import torch

from roboforge.sim.simulator import CPU_ONLY_PER_WORLD_FIELDS, PER_WORLD_FIELDS, SimCfg, Simulator
from roboforge.utils.config import ConfigError


def resolve_backend(backend: str, device: str) -> Literal["mjwarp", "mujoco"]:
    """The concrete backend for `backend` on `device`: auto picks mjwarp on CUDA and mujoco on CPU."""
    if backend not in ("auto", "mjwarp", "mujoco"):
        raise ConfigError(f"Unknown sim backend {backend!r}. Use one of: auto, mjwarp, mujoco.")
    if backend == "auto":
        return "mjwarp" if torch.device(device).type == "cuda" else "mujoco"
    if backend == "mujoco" and torch.device(device).type != "cpu":
        raise ConfigError(f"The 'mujoco' backend runs on the CPU; got device {device!r}. Use --sim mjwarp.")
    return backend  # type: ignore[return-value]


def make_simulator(
    model: mujoco.MjModel, num_worlds: int, cfg: SimCfg, per_world_fields: tuple[str, ...] = ()
) -> Simulator:
    """Build the backend chosen by `cfg` for `num_worlds` copies of `model`."""
    if num_worlds < 1:
        raise ConfigError(f"num_worlds must be >= 1, got {num_worlds}.")
    allowed = PER_WORLD_FIELDS + CPU_ONLY_PER_WORLD_FIELDS
    for name in per_world_fields:
        if name not in allowed:
            raise ConfigError(f"Model field {name!r} cannot be set per world. Allowed: {', '.join(allowed)}.")
    if cfg.timestep is not None:
        model.opt.timestep = cfg.timestep
    if cfg.iterations is not None:
        model.opt.iterations = cfg.iterations
    if cfg.ls_iterations is not None:
        model.opt.ls_iterations = cfg.ls_iterations
    backend = resolve_backend(cfg.backend, cfg.device)
    cpu_only = [name for name in per_world_fields if name in CPU_ONLY_PER_WORLD_FIELDS]
    if backend == "mjwarp" and cpu_only:
        raise ConfigError(
            f"Per-world {', '.join(cpu_only)} (flex stiffness randomization) needs the C backend: MuJoCo Warp "
            "4.0.0 shares flex fields between worlds. Use --sim mujoco, or drop the stiffness randomization."
        )
    if backend == "mjwarp" and model.nflex and model.flex_interp.any():
        raise ConfigError(
            "A flex with interpolated nodes (dof='trilinear' or 'quadratic') needs the C backend: MuJoCo Warp "
            "4.0.0 lets such a body slip out of a grasp. Use dof='full' (DeformableObjectCfg) or --sim mujoco."
        )
    if backend == "mjwarp":
        from roboforge.sim.mjwarp_backend import MjwarpSimulator

        return MjwarpSimulator(model, num_worlds, cfg, per_world_fields)
    from roboforge.sim.mujoco_backend import MujocoSimulator

    return MujocoSimulator(model, num_worlds, cfg, per_world_fields)

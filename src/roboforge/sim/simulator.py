"""The `Simulator` protocol shared by both backends, its config, and the backend factory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import mujoco
import torch

from roboforge.sim.camera import CameraRenderer, CameraRequest

Backend = Literal["auto", "mjwarp", "mujoco"]

# Model fields that can be set per world (domain randomization). Shapes per world follow MjModel.
PER_WORLD_FIELDS = (
    "geom_friction",
    "body_mass",
    "body_ipos",
    "body_inertia",
    "dof_damping",
    "dof_armature",
    "dof_frictionloss",
    "actuator_gainprm",
    "actuator_biasprm",
    "qpos0",
)

CPU_ONLY_PER_WORLD_FIELDS = ("flex_stiffness", "flex_damping")
"""Per-world fields of the C backend only: MuJoCo Warp 4.0.0 shares flex fields between all worlds."""


@dataclass(kw_only=True)
class SimCfg:
    """Physics settings for a batch of worlds."""

    backend: Backend = "auto"
    """Physics backend: 'mjwarp' (MuJoCo Warp), 'mujoco' (C MuJoCo) or 'auto' (mjwarp on CUDA, else mujoco)."""
    device: str = "cpu"
    """Torch device of the state tensors ('cpu', 'cuda', 'cuda:1')."""
    timestep: float | None = None
    """Physics step in seconds; None keeps the model's own `opt.timestep`."""
    iterations: int | None = None
    """Constraint solver iterations; None keeps the model's (Menagerie robots often ask for 50-100,
    while 10 is plenty for locomotion at a 5 ms step and much faster on the GPU)."""
    ls_iterations: int | None = None
    """Line-search iterations of the solver; None keeps the model's."""
    nconmax: int | None = None
    """mjwarp: contacts per world to allocate (None: MuJoCo Warp's default). What does not fit is dropped
    and counted in the training metric `sim_overflows`."""
    njmax: int | None = None
    """mjwarp: constraint rows per world to allocate (None: MuJoCo Warp's default); see `nconmax`."""
    cuda_graph: bool = True
    """mjwarp on CUDA: capture step/forward in CUDA graphs and replay them."""
    hfield_contact_filter: bool = True
    """mjwarp, models with a height field: drop contacts whose normal points out of the field's underside
    (`roboforge.sim.mjwarp_hfield`; mujoco-warp 4.0.0 reports them against stair risers, and they pull feet
    down through the step). Off only to measure its cost or MuJoCo Warp's own answer."""
    num_threads: int | None = None
    """mujoco: rollout threads (None: all cores)."""


class Simulator(Protocol):
    """A batch of `num_worlds` copies of one MjModel, with torch views of their state.

    State tensors have a leading world dimension and are views into the backend's memory: write
    them in place (`sim.qpos[:] = ...`), never rebind them.
    """

    model: mujoco.MjModel
    num_worlds: int
    device: torch.device
    qpos: torch.Tensor  # (num_worlds, nq)
    qvel: torch.Tensor  # (num_worlds, nv)
    act: torch.Tensor  # (num_worlds, na)
    ctrl: torch.Tensor  # (num_worlds, nu)
    qfrc_applied: torch.Tensor  # (num_worlds, nv)
    xfrc_applied: torch.Tensor  # (num_worlds, nbody, 6)
    mocap_pos: torch.Tensor  # (num_worlds, nmocap, 3): positions of mocap bodies, set by the caller
    sensordata: torch.Tensor  # (num_worlds, nsensordata)

    @property
    def timestep(self) -> float:
        """Physics step in seconds."""
        ...

    def step(self) -> None:
        """Advance every world by one physics step."""
        ...

    def forward(self, mask: torch.Tensor | None = None) -> None:
        """Recompute derived quantities (sensors) from qpos/qvel without stepping (at least the masked worlds)."""
        ...

    def reset(self, mask: torch.Tensor) -> None:
        """Reset the worlds where `mask (num_worlds,)` is True to the model's default state (mocap bodies
        back to their model positions)."""
        ...

    def pop_buffer_overflows(self) -> torch.Tensor:
        """Worlds `(num_worlds,)` bool whose contact, constraint or collision buffers overflowed (what did not
        fit was dropped) since the last call; clears the flags. No host sync."""
        ...

    def model_field(self, name: str) -> torch.Tensor:
        """Per-world values `(num_worlds, ...)` of a model field named in `PER_WORLD_FIELDS`."""
        ...

    def write_model_field(self, name: str, values: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        """Set a per-world model field to `values (num_worlds, ...)` in the worlds selected by `mask`."""
        ...

    def camera_renderer(self, request: CameraRequest) -> CameraRenderer:
        """A renderer of one model camera in every world, with `(num_worlds, H, W, C)` torch outputs."""
        ...

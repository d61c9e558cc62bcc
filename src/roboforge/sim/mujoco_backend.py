"""C MuJoCo backend: all worlds' states in one array, stepped in parallel with `mujoco.rollout`.

The state of every world lives in one `(num_worlds, nstate)` float64 array laid out as
`mjSTATE_FULLPHYSICS`; controls live in one `(num_worlds, ncontrol)` array laid out as
ctrl | qfrc_applied | xfrc_applied | mocap_pos. `qpos`, `qvel`, `ctrl` ... are torch views of their columns,
so reading and writing them costs no copy, and `mujoco.rollout` reads and writes the arrays directly.
"""

from __future__ import annotations

import copy
import os
from typing import TYPE_CHECKING

import mujoco
import numpy as np
import torch
from mujoco import rollout

from roboforge.sim.camera import CameraRequest
from roboforge.sim.simulator import SimCfg

if TYPE_CHECKING:
    from roboforge.sim.mujoco_camera import MujocoCameraRenderer

_STATE_SPEC = mujoco.mjtState.mjSTATE_FULLPHYSICS.value
_CONTROL_SPEC = (
    mujoco.mjtState.mjSTATE_CTRL.value
    | mujoco.mjtState.mjSTATE_QFRC_APPLIED.value
    | mujoco.mjtState.mjSTATE_XFRC_APPLIED.value
    | mujoco.mjtState.mjSTATE_MOCAP_POS.value
)


def _component_offsets(model: mujoco.MjModel, spec: int) -> dict[int, tuple[int, int]]:
    """Column range of each state component (a single mjtState bit) inside a state vector of `spec`."""
    offsets: dict[int, tuple[int, int]] = {}
    start = 0
    for bit in (1 << i for i in range(mujoco.mjtState.mjNSTATE.value)):
        if spec & bit:
            size = mujoco.mj_stateSize(model, bit)
            offsets[bit] = (start, start + size)
            start += size
    return offsets


class MujocoSimulator:
    """`num_worlds` copies of a MjModel stepped by C MuJoCo threads (see module docstring)."""

    def __init__(
        self, model: mujoco.MjModel, num_worlds: int, cfg: SimCfg, per_world_fields: tuple[str, ...] = ()
    ) -> None:
        self.model = model
        # No silent mj_resetData on NaN/huge values: let the env's NaN guard see and count them (as on mjwarp).
        model.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_AUTORESET.value
        self.num_worlds = num_worlds
        self.device = torch.device("cpu")
        nthread = cfg.num_threads if cfg.num_threads is not None else (os.cpu_count() or 1)
        nthread = max(0, min(nthread, num_worlds)) if num_worlds > 1 else 0
        self._pool = rollout.Rollout(nthread=nthread)
        self._datas = [mujoco.MjData(model) for _ in range(max(nthread, 1))]
        self._scratch = mujoco.MjData(model)
        self._models: list[mujoco.MjModel] = [model] * num_worlds
        self._models_shared = True
        self._fields: dict[str, np.ndarray] = {}
        self._field_views: dict[str, torch.Tensor] = {}

        self._default_state = self._read_default_state(_STATE_SPEC)
        self._state = np.tile(self._default_state, (num_worlds, 1))
        self._default_control = self._read_default_state(_CONTROL_SPEC)  # zeros, mocap bodies at body_pos
        self._control = np.tile(self._default_control, (num_worlds, 1))
        self._sensordata = np.zeros((num_worlds, 1, model.nsensordata))
        self._no_overflows = torch.zeros(num_worlds, dtype=torch.bool)
        self._bind_views()
        for name in per_world_fields:
            self._expand_field(name)

    # --- views -------------------------------------------------------------------------------
    def _read_default_state(self, spec: int) -> np.ndarray:
        data = mujoco.MjData(self.model)
        mujoco.mj_resetData(self.model, data)
        state = np.empty(mujoco.mj_stateSize(self.model, spec))
        mujoco.mj_getState(self.model, data, state, spec)
        return state

    def _bind_views(self) -> None:
        st = _component_offsets(self.model, _STATE_SPEC)
        ct = _component_offsets(self.model, _CONTROL_SPEC)
        bits = mujoco.mjtState
        state = torch.from_numpy(self._state)
        control = torch.from_numpy(self._control)
        self._qpos_cols = slice(*st[bits.mjSTATE_QPOS.value])
        self.qpos = state[:, self._qpos_cols]
        self.qvel = state[:, slice(*st[bits.mjSTATE_QVEL.value])]
        self.act = state[:, slice(*st[bits.mjSTATE_ACT.value])]
        self.ctrl = control[:, slice(*ct[bits.mjSTATE_CTRL.value])]
        self.qfrc_applied = control[:, slice(*ct[bits.mjSTATE_QFRC_APPLIED.value])]
        xfrc = control[:, slice(*ct[bits.mjSTATE_XFRC_APPLIED.value])]
        self.xfrc_applied = xfrc.unflatten(1, (self.model.nbody, 6))
        mocap = control[:, slice(*ct[bits.mjSTATE_MOCAP_POS.value])]
        self.mocap_pos = mocap.unflatten(1, (self.model.nmocap, 3))
        self._control_t = control
        self.sensordata = torch.from_numpy(self._sensordata)[:, 0]
        self._state_t = state

    @property
    def timestep(self) -> float:
        return float(self.model.opt.timestep)

    # --- stepping ----------------------------------------------------------------------------
    def step(self) -> None:
        """One physics step of every world on the rollout thread pool."""
        self._pool.rollout(
            self._models,
            self._datas,
            self._state,
            self._control[:, None, :],
            control_spec=_CONTROL_SPEC,
            skip_checks=True,
            nstep=1,
            state=self._state[:, None, :],
            sensordata=self._sensordata,
        )

    def forward(self, mask: torch.Tensor | None = None) -> None:
        """Recompute sensors of the selected worlds (all if `mask` is None) from their current state."""
        worlds = range(self.num_worlds) if mask is None else torch.nonzero(mask).flatten().tolist()
        data = self._scratch
        for i in worlds:
            mujoco.mj_forward(self.load_world(i, data), data)
            self._sensordata[i, 0] = data.sensordata

    def load_world(self, world: int, data: mujoco.MjData) -> mujoco.MjModel:
        """Copy the state and controls of `world` into `data` (derived quantities are left to the caller);
        returns that world's model."""
        model = self._models[world]
        mujoco.mj_setState(model, data, self._state[world], _STATE_SPEC)
        mujoco.mj_setState(model, data, self._control[world], _CONTROL_SPEC)
        return model

    def camera_renderer(self, request: CameraRequest) -> MujocoCameraRenderer:
        """C MuJoCo's off-screen renderer for one camera of the model (`sim/mujoco_camera.py`)."""
        from roboforge.sim.mujoco_camera import MujocoCameraRenderer

        return MujocoCameraRenderer(self, request)

    def reset(self, mask: torch.Tensor) -> None:
        """Put the selected worlds back to the default state (qpos0, zero velocity and controls, mocap bodies
        at their model positions)."""
        default = torch.from_numpy(self._default_state).expand_as(self._state_t)
        if "qpos0" in self._field_views:
            default = default.clone()
            default[:, self._qpos_cols] = self._field_views["qpos0"]
        m = mask[:, None]
        self._state_t[:] = torch.where(m, default, self._state_t)
        default_control = torch.from_numpy(self._default_control)
        self._control_t[:] = torch.where(m, default_control, self._control_t)

    # --- per-world model fields ----------------------------------------------------------------
    def _expand_field(self, name: str) -> None:
        if self._models_shared:
            self._models = [copy.deepcopy(self.model) for _ in range(self.num_worlds)]
            self._models_shared = False
        self._fields[name] = np.stack([np.array(getattr(m, name)) for m in self._models])
        self._field_views[name] = torch.from_numpy(self._fields[name])

    def pop_buffer_overflows(self) -> torch.Tensor:
        """C MuJoCo grows its arena as needed: nothing is dropped."""
        return self._no_overflows

    def model_field(self, name: str) -> torch.Tensor:
        if name not in self._field_views:
            raise KeyError(
                f"Model field {name!r} is not per world; list it in per_world_fields when building."
            )
        return self._field_views[name]

    def write_model_field(self, name: str, values: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        view = self.model_field(name)
        values = values.to(view.dtype)
        if mask is None:
            view[:] = values
            worlds = range(self.num_worlds)
        else:
            m = mask.reshape((-1,) + (1,) * (view.dim() - 1))
            view[:] = torch.where(m, values, view)
            worlds = torch.nonzero(mask).flatten().tolist()
        for i in worlds:
            getattr(self._models[i], name)[:] = self._fields[name][i]

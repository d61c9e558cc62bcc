"""MuJoCo Warp backend: `num_worlds` worlds in one `mujoco_warp.Data`, on a CUDA GPU or the CPU.

State tensors are zero-copy torch views (`wp.to_torch`) of the Warp arrays. On CUDA the physics
step and forward pass run on torch's current stream: they are captured in CUDA graphs of their own, or
join the graph torch is capturing (the env's whole step, see `envs/graph_step.py`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING

import mujoco
import torch
import warp as wp

# Warp logs its banner and a line per module loaded (~44 lines a run, to stdout: breaks --json) at info level;
# its warnings and errors stay visible.
wp.config.log_level = wp.LOG_WARNING
import mujoco_warp as mjw  # noqa: E402

from roboforge.sim.camera import CameraRequest  # noqa: E402
from roboforge.sim.mjwarp_hfield import drop_underside_hfield_contacts, has_height_field  # noqa: E402
from roboforge.sim.simulator import SimCfg  # noqa: E402

if TYPE_CHECKING:
    from roboforge.sim.mjwarp_camera import MjwarpCameraRenderer

_COUNTED_OVERFLOWS = int(mjw.OverflowType.ALL) & ~int(
    mjw.OverflowType.ITERATIONS | mjw.OverflowType.LS_ITERATIONS
)
"""Every buffer overflow (contacts, constraint rows, collision scratch space); solver iteration limits are
not overflows: RL runs few iterations on purpose."""


NO_DRIVER_WARNING = "Warp CUDA warning: Could not find or load the NVIDIA CUDA driver"
"""What Warp's native library prints on stderr at `wp.init()` on a machine without an NVIDIA driver: no news
for a CPU run, and a CUDA device is refused by torch's own checks before."""


@functools.cache
def init_warp() -> None:
    """`wp.init()`, once, without NO_DRIVER_WARNING; anything else Warp writes to stderr meanwhile is kept."""
    with _stderr_without(NO_DRIVER_WARNING):
        wp.init()


@contextlib.contextmanager
def _stderr_without(prefix: str) -> Iterator[None]:
    """Hold what is written to file descriptor 2 (native code's stderr too), then pass on its lines that do not
    start with `prefix`."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+") as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            sys.stderr.write("".join(line for line in held if not line.startswith(prefix)))


def warp_device(device: torch.device) -> str:
    """Warp device string for a torch device ('cpu', 'cuda:0' ...)."""
    if device.type == "cuda":
        return f"cuda:{device.index if device.index is not None else torch.cuda.current_device()}"
    return "cpu"


class MjwarpSimulator:
    """Batched MuJoCo Warp simulation (see module docstring)."""

    def __init__(
        self, model: mujoco.MjModel, num_worlds: int, cfg: SimCfg, per_world_fields: tuple[str, ...] = ()
    ) -> None:
        init_warp()
        self.model = model
        self.num_worlds = num_worlds
        self.device = torch.device(cfg.device)
        self._wp_device = warp_device(self.device)
        self._use_graph = cfg.cuda_graph and self.device.type == "cuda"
        self._graphs: dict[str, torch.cuda.CUDAGraph] = {}
        with wp.ScopedDevice(self._wp_device):
            self.m = mjw.put_model(model, batch_sizes=dict.fromkeys(per_world_fields, num_worlds))
            # Overflows are counted per world (`pop_buffer_overflows`) instead of printed by every world at
            # every step; MuJoCo Warp sets the flags whether it prints or not.
            self.m.opt.warn_overflow = 0
            if cfg.hfield_contact_filter and has_height_field(model):
                self.m.callback.contactfilter = drop_underside_hfield_contacts
            data = mujoco.MjData(model)
            mujoco.mj_forward(model, data)
            self.d = mjw.put_data(model, data, nworld=num_worlds, nconmax=cfg.nconmax, njmax=cfg.njmax)
        self._per_world = set(per_world_fields)
        self._reset_mask = torch.zeros(num_worlds, dtype=torch.bool, device=self.device)
        self._reset_mask_wp = wp.from_torch(self._reset_mask)
        self.qpos = wp.to_torch(self.d.qpos)
        self.qvel = wp.to_torch(self.d.qvel)
        self.act = wp.to_torch(self.d.act)
        self.ctrl = wp.to_torch(self.d.ctrl)
        self.qfrc_applied = wp.to_torch(self.d.qfrc_applied)
        self.xfrc_applied = wp.to_torch(self.d.xfrc_applied)
        self.mocap_pos = wp.to_torch(self.d.mocap_pos).view(num_worlds, model.nmocap, 3)
        self.sensordata = wp.to_torch(self.d.sensordata)
        self._overflow = wp.to_torch(self.d.overflow)

    @property
    def timestep(self) -> float:
        return float(self.model.opt.timestep)

    @property
    def wp_device(self) -> str:
        """Warp device of the arrays ('cpu', 'cuda:0' ...)."""
        return self._wp_device

    def _launch(self, fn) -> None:
        """Run warp launches on torch's current stream; join torch's graph capture if one is running."""
        if self.device.type != "cuda":
            with wp.ScopedDevice(self._wp_device):
                fn()
            return
        stream = wp.stream_from_torch(torch.cuda.current_stream(self.device))
        with wp.ScopedDevice(self._wp_device), wp.ScopedStream(stream, sync_enter=False, sync_exit=False):
            if torch.cuda.is_current_stream_capturing():
                wp.capture_begin(stream=stream, external=True, capture_mode=wp.CaptureMode.GLOBAL)
                try:
                    fn()
                finally:
                    wp.capture_end(stream=stream)
            else:
                fn()

    def _run(self, name: str, fn) -> None:
        """Launch `fn`; on CUDA (outside an enclosing capture) replay it from a CUDA graph after the first call."""
        if not self._use_graph or torch.cuda.is_current_stream_capturing():
            self._launch(fn)
            return
        graph = self._graphs.get(name)
        if graph is not None:
            graph.replay()
            return
        self._launch(fn)  # first call: compile kernels and run eagerly, then capture for the next calls
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._launch(fn)
        self._graphs[name] = graph

    def run_kernels(self, name: str, fn) -> None:
        """Launch `fn` (warp launches on this simulator's arrays) as `step` is launched: on torch's stream, from
        a CUDA graph named `name` after the first call, or inside torch's capture when one is running."""
        self._run(name, fn)

    def camera_renderer(self, request: CameraRequest) -> MjwarpCameraRenderer:
        """MuJoCo Warp's batch renderer for one camera of the model (`sim/mjwarp_camera.py`)."""
        from roboforge.sim.mjwarp_camera import MjwarpCameraRenderer

        return MjwarpCameraRenderer(self, request)

    def step(self) -> None:
        self._run("step", lambda: mjw.step(self.m, self.d))

    def forward(self, mask: torch.Tensor | None = None) -> None:
        """Recompute derived quantities of every world (the mask is ignored: one launch for all)."""
        self._run("forward", lambda: mjw.forward(self.m, self.d))

    def reset(self, mask: torch.Tensor) -> None:
        self._reset_mask.copy_(mask)
        self._run("reset", lambda: mjw.reset_data(self.m, self.d, reset=self._reset_mask_wp))

    def pop_buffer_overflows(self) -> torch.Tensor:
        dropped = (self._overflow & _COUNTED_OVERFLOWS) != 0
        self._overflow.zero_()
        return dropped

    def model_field(self, name: str) -> torch.Tensor:
        if name not in self._per_world:
            raise KeyError(
                f"Model field {name!r} is not per world; list it in per_world_fields when building."
            )
        return wp.to_torch(getattr(self.m, name))

    def write_model_field(self, name: str, values: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        view = self.model_field(name)
        values = values.to(device=view.device, dtype=view.dtype).reshape(view.shape)
        if mask is None:
            view[:] = values
        else:
            view[:] = torch.where(mask.reshape((-1,) + (1,) * (view.dim() - 1)), values, view)

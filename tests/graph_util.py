"""Records host syncs and host-to-device copies made by torch calls: what breaks a CUDA graph, checked on the CPU.

A CUDA graph replays device work only: a host sync (`.item()`, a Python branch on a tensor, boolean
indexing) breaks capture, and a host-to-device copy (`torch.tensor([...])` inside the step) is
captured once and silently replays stale data.
"""

from __future__ import annotations

import sys

import torch
from torch.overrides import TorchFunctionMode

# Calls that copy host data into a tensor or read a tensor back to the host.
HOST_CALLS = {
    "tensor",
    "as_tensor",
    "from_numpy",
    "item",
    "tolist",
    "cpu",
    "numpy",
    "nonzero",
    "argwhere",
    "masked_select",
    "unique",
    "__bool__",
    "__float__",
    "__int__",
    "__index__",
    "solve",
    "inv",
    "cholesky",
}


class HostCallRecorder(TorchFunctionMode):
    """Records the names of host-syncing or host-copying torch calls made inside the mode."""

    def __init__(self):
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", str(func))
        if _inside_cpu_backend():
            pass
        elif name == "as_tensor" and args and isinstance(args[0], torch.Tensor):
            pass  # an existing tensor: no copy from the host
        elif name in HOST_CALLS:
            self.calls.append(name)
        elif name in ("__getitem__", "__setitem__") and _has_bool_index(args[1] if len(args) > 1 else None):
            self.calls.append("boolean indexing")  # reading or writing through a mask: nonzero() on the host
        return func(*args, **(kwargs or {}))


def _inside_cpu_backend() -> bool:
    """The C MuJoCo backend is CPU-only by design (it loops over masked worlds); the GPU backend is not."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.endswith("mujoco_backend.py"):
            return True
        frame = frame.f_back
    return False


def _has_bool_index(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in items)

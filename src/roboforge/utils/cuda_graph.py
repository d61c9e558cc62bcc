"""Replay a device-resident function from a CUDA graph: the env step, the rollout step, the PPO minibatch.

The function takes no arguments: it reads static input buffers that the caller fills in place and
returns tensors it writes on every call. The first `warmup` calls run eagerly on a side stream (as
torch's capture asks: lazy initialisations, cuBLAS workspaces, autograd streams), each a real call;
the next one captures the graph and replays it, and every later call replays it. A failed capture is
an error with the caller's hint: there is no eager fallback, because a failed capture leaves the CUDA
random generator in capture state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from roboforge.utils.errors import GraphCaptureError


class CapturedCall:
    """`fn()` eagerly for `warmup` calls, then from one CUDA graph (captured on the next call)."""

    def __init__(self, fn: Callable[[], Any], what: str, hint: str, warmup: int = 3):
        self.fn = fn
        self.what = what
        self.hint = hint
        self.warmup = warmup
        self.graph: torch.cuda.CUDAGraph | None = None
        self.outputs: Any = None
        self.calls = 0

    def __call__(self) -> Any:
        if self.graph is not None:
            self.graph.replay()
            return self.outputs
        self.calls += 1
        if self.calls <= self.warmup:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                out = self.fn()
            torch.cuda.current_stream().wait_stream(side)
            return out
        return self._capture()

    def _capture(self) -> Any:
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                self.outputs = self.fn()
        except Exception as err:
            detail = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise GraphCaptureError(
                f"CUDA graph capture of {self.what} failed: {detail}. {self.hint}"
            ) from err
        self.graph = graph
        graph.replay()
        return self.outputs


def maybe_captured(
    fn: Callable[[], Any], device: torch.device, enabled: bool, what: str, hint: str
) -> Callable[[], Any]:
    """`fn` itself on the CPU (or with graphs off), else a CapturedCall around it."""
    if device.type == "cuda" and enabled:
        return CapturedCall(fn, what, hint)
    return fn

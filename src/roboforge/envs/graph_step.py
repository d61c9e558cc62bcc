"""Replay the whole env step from one CUDA graph (physics kernels, managers, resets) on GPU.

The step has no host syncs and writes every state in place, so after a short warm-up it is captured
once with `torch.cuda.graph` and replayed: the action is copied into a static input buffer, and the
caller gets copies of the graph's static outputs (every RL library keeps observations past the next step).
If capture fails, a clear error names the likely causes and the switch to run without graphs (an
eager fallback is not safe: a failed capture leaves the CUDA random generator in capture state).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

StepFn = Callable[[torch.Tensor], Any]


class GraphedStep:
    """Callable that runs `step_fn` from a CUDA graph after `warmup` eager calls."""

    def __init__(self, step_fn: StepFn, warmup: int = 3):
        self.step_fn = step_fn
        self.warmup = warmup
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static_action: torch.Tensor | None = None
        self.outputs: Any = None
        self.calls = 0

    def __call__(self, action: torch.Tensor) -> Any:
        if self.graph is not None:
            assert self.static_action is not None
            self.static_action.copy_(action)
            self.graph.replay()
            return _fresh(self.outputs)
        self.calls += 1
        if self.calls <= self.warmup:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                out = self.step_fn(action)
            torch.cuda.current_stream().wait_stream(side)
            return out
        return self._capture(action)

    def _capture(self, action: torch.Tensor) -> Any:
        with torch.inference_mode(False):  # a normal tensor: later steps may run outside inference mode
            self.static_action = action.clone()
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                self.outputs = self.step_fn(self.static_action)
        except Exception as err:
            raise RuntimeError(
                f"CUDA graph capture of env.step failed: {err}. A term in the step synchronizes with the host "
                "(.item(), .cpu(), nonzero(), torch.linalg.solve/inv with error checks, a Python branch on a "
                "tensor). Make it graph-safe, or run without graphs: -o env.sim.cuda_graph=false."
            ) from err
        self.graph = graph
        graph.replay()
        return _fresh(self.outputs)


def _fresh(outputs: Any) -> Any:
    """Copies of the graph's static output tensors (tuples, lists and dicts walked), so a caller that keeps
    an observation past the next step (every RL library's rollout storage does) sees what it acted on."""
    if isinstance(outputs, torch.Tensor):
        return outputs.clone()
    if isinstance(outputs, (tuple, list)):
        return type(outputs)(_fresh(o) for o in outputs)
    if isinstance(outputs, dict):
        return {k: _fresh(v) for k, v in outputs.items()}
    return outputs


def make_stepper(step_fn: StepFn, device: torch.device, cuda_graph: bool) -> StepFn:
    """`step_fn` itself on CPU (or with graphs off), else a GraphedStep around it."""
    if device.type == "cuda" and cuda_graph:
        return GraphedStep(step_fn)
    return step_fn

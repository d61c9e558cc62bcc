"""Replay the whole env step from one CUDA graph (physics kernels, managers, resets) on GPU.

The step has no host syncs and writes every state in place, so after a short warm-up it is captured
once (`utils/cuda_graph.py`) and replayed: the action is copied into a static input buffer, and the
caller gets copies of the graph's static outputs (every RL library keeps observations past the next step).
If capture fails, a clear error names the likely causes and the switch to run without graphs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from roboforge.utils.cuda_graph import CapturedCall

StepFn = Callable[[torch.Tensor], Any]

CAPTURE_HINT = (
    "A term in the step synchronizes with the host (.item(), .cpu(), nonzero(), torch.linalg.solve/inv with "
    "error checks, a Python branch on a tensor). Make it graph-safe, or run without graphs: "
    "-o env.sim.cuda_graph=false."
)


class GraphedStep:
    """Callable that runs `step_fn` from a CUDA graph after three eager calls."""

    def __init__(self, step_fn: StepFn):
        self.step_fn = step_fn
        self.static_action: torch.Tensor | None = None
        self.call = CapturedCall(self._step_static, "env.step", CAPTURE_HINT)

    def _step_static(self) -> Any:
        assert self.static_action is not None
        return self.step_fn(self.static_action)

    def __call__(self, action: torch.Tensor) -> Any:
        if self.static_action is None:
            with torch.inference_mode(False):  # a normal tensor: later steps may run outside inference mode
                self.static_action = action.clone()
        else:
            self.static_action.copy_(action)
        return fresh(self.call())


def fresh(outputs: Any) -> Any:
    """Copies of the graph's static output tensors (tuples, lists and dicts walked), so a caller that keeps
    an observation past the next step (every RL library's rollout storage does) sees what it acted on."""
    if isinstance(outputs, torch.Tensor):
        return outputs.clone()
    if isinstance(outputs, (tuple, list)):
        return type(outputs)(fresh(o) for o in outputs)
    if isinstance(outputs, dict):
        return {k: fresh(v) for k, v in outputs.items()}
    return outputs


def make_stepper(step_fn: StepFn, device: torch.device, cuda_graph: bool) -> StepFn:
    """`step_fn` itself on CPU (or with graphs off), else a GraphedStep around it."""
    if device.type == "cuda" and cuda_graph:
        return GraphedStep(step_fn)
    return step_fn

"""`--check`: the exported file computes what the training actor computes.

1000 random observations go through the rsl_rl actor (deterministic output) and through ONNX Runtime
(or the TorchScript module); recurrent policies also run a 200-step sequence with carried state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tensordict import TensorDict

TOLERANCE = 1e-5


@dataclass
class ParityResult:
    """Largest absolute differences between the training actor and the exported file."""

    format: str
    samples: int
    max_abs_error: float
    sequence_steps: int
    sequence_max_abs_error: float | None
    tolerance: float
    passed: bool


class ParityError(ValueError):
    """The exported policy does not reproduce the training actor within the tolerance."""


def _as_obs(actor: Any, group_dims: dict[str, int], obs: torch.Tensor) -> TensorDict:
    """Split a concatenated observation batch into the actor's observation groups."""
    parts = torch.split(obs, [group_dims[g] for g in actor.obs_groups], dim=-1)
    return TensorDict(dict(zip(actor.obs_groups, parts, strict=True)), batch_size=[obs.shape[0]])


def _torch_step(actor: Any, group_dims: dict[str, int], obs: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return actor(_as_obs(actor, group_dims, obs)).numpy()


def check_onnx(
    actor: Any,
    path: Path,
    io_spec: dict[str, Any],
    group_dims: dict[str, int],
    samples: int = 1000,
    steps: int = 200,
    seed: int = 0,
    tolerance: float = TOLERANCE,
) -> ParityResult:
    """Compare the actor with ONNX Runtime on random observations (and a recurrent sequence)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    gen = torch.Generator().manual_seed(seed)
    obs = torch.randn(samples, io_spec["obs_dim"], generator=gen)
    actor.eval()
    actor.reset()
    expected = _torch_step(actor, group_dims, obs)
    feeds = {"obs": obs.numpy(), **_zero_states(io_spec, samples)}
    err = float(np.abs(session.run(["actions"], feeds)[0] - expected).max())
    seq_err = None
    if io_spec.get("recurrent"):
        seq_err = _onnx_sequence(actor, session, io_spec, group_dims, steps, gen)
    actor.reset()
    passed = err <= tolerance and (seq_err is None or seq_err <= tolerance)
    return ParityResult("onnx", samples, err, steps if seq_err is not None else 0, seq_err, tolerance, passed)


def _zero_states(io_spec: dict[str, Any], batch: int) -> dict[str, np.ndarray]:
    rec = io_spec.get("recurrent")
    if not rec:
        return {}
    shape = (rec["num_layers"], batch, rec["hidden_size"])
    return {name: np.zeros(shape, dtype=np.float32) for name in io_spec["inputs"][1:]}


def _onnx_sequence(
    actor: Any,
    session: Any,
    io_spec: dict[str, Any],
    group_dims: dict[str, int],
    steps: int,
    gen: torch.Generator,
) -> float:
    """Max difference of actions and final states over a `steps`-long sequence of 4 parallel episodes."""
    batch = 4
    actor.reset()
    states = _zero_states(io_spec, batch)
    err = 0.0
    for _ in range(steps):
        obs = torch.randn(batch, io_spec["obs_dim"], generator=gen)
        expected = _torch_step(actor, group_dims, obs)
        out = session.run(io_spec["outputs"], {"obs": obs.numpy(), **states})
        err = max(err, float(np.abs(out[0] - expected).max()))
        states = dict(zip(io_spec["inputs"][1:], out[1:], strict=True))
    hidden = actor.get_hidden_state()
    hidden = hidden if isinstance(hidden, tuple) else (hidden,)
    for h_torch, h_onnx in zip(hidden, states.values(), strict=True):
        err = max(err, float(np.abs(h_torch.numpy() - h_onnx).max()))
    return err


def check_jit(
    actor: Any,
    module: Any,
    io_spec: dict[str, Any],
    group_dims: dict[str, int],
    samples: int = 1000,
    steps: int = 200,
    seed: int = 0,
    tolerance: float = TOLERANCE,
) -> ParityResult:
    """Compare the actor with the TorchScript module (recurrent: one 200-step episode, batch 1)."""
    gen = torch.Generator().manual_seed(seed)
    actor.eval()
    actor.reset()
    module.reset()
    if not io_spec.get("recurrent"):
        obs = torch.randn(samples, io_spec["obs_dim"], generator=gen)
        with torch.no_grad():
            err = float(np.abs(module(obs).numpy() - _torch_step(actor, group_dims, obs)).max())
        return ParityResult("jit", samples, err, 0, None, tolerance, err <= tolerance)
    err = 0.0
    for _ in range(steps):
        obs = torch.randn(1, io_spec["obs_dim"], generator=gen)
        with torch.no_grad():
            err = max(err, float(np.abs(module(obs).numpy() - _torch_step(actor, group_dims, obs)).max()))
    actor.reset()
    module.reset()
    return ParityResult("jit", 0, 0.0, steps, err, tolerance, err <= tolerance)

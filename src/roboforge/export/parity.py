"""`--check`: the exported file computes what the training actor computes.

1000 random observations (standard normal, or from the running mean and std of an actor that normalizes its
observations) go through the rsl_rl actor (deterministic output) and through ONNX Runtime
(or the TorchScript module); recurrent policies also run a 200-step sequence with carried state. A frozen
low-level policy exported beside the policy is compared with the torch module the training env runs. Policies
that see images get random images `(C, H, W)` per image group beside the vector (in batches of 100).
The tolerance (1e-5) bounds |exported - torch| / max(1, |torch|): absolute for outputs up to 1,
relative for larger ones (float32 kernels that sum in another order differ by a few ulps).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tensordict import TensorDict

from roboforge.utils.errors import RoboforgeError

TOLERANCE = 1e-5


@dataclass
class ParityResult:
    """Largest differences between the training actor and the exported file."""

    format: str
    samples: int
    max_abs_error: float
    sequence_steps: int
    sequence_max_abs_error: float | None
    max_scaled_error: float
    """Largest |exported - torch| / max(1, |torch|) over everything compared; must be <= tolerance."""
    tolerance: float
    passed: bool


class _Diff:
    """Running maxima of absolute and scaled differences."""

    def __init__(self) -> None:
        self.abs = 0.0
        self.scaled = 0.0

    def add(self, actual: Any, expected: np.ndarray) -> None:
        d = np.abs(np.asarray(actual, dtype=np.float64) - expected)
        self.abs = max(self.abs, float(d.max()))
        self.scaled = max(self.scaled, float((d / np.maximum(1.0, np.abs(expected))).max()))


class ParityError(RoboforgeError, ValueError):
    """The exported policy does not reproduce the training actor within the tolerance."""


def _random_obs(actor: Any, n: int, obs_dim: int, gen: torch.Generator) -> torch.Tensor:
    """`n` random observations: standard normal, or, for an actor that normalizes its observations, drawn from the
    running mean and std it learnt, so the normalized inputs are standard normal too. A standard normal input
    where the learnt std is small (a stack policy's cube height: 0.001) enters the network at ~1000 and sums
    float32 rounding into a larger error than any real observation makes (2e-5 against 1e-5, measured)."""
    obs = torch.randn(n, obs_dim, generator=gen)
    normalizer = getattr(actor, "obs_normalizer", None)
    mean, std = getattr(normalizer, "_mean", None), getattr(normalizer, "_std", None)
    if isinstance(mean, torch.Tensor) and isinstance(std, torch.Tensor) and mean.numel() == obs_dim:
        obs = mean.detach().reshape(1, obs_dim).cpu() + std.detach().reshape(1, obs_dim).cpu() * obs
    return obs


IMAGE_BATCH = 100
"""Samples per ONNX Runtime call for image policies (bounds the memory of 1000 stacked images)."""


def _as_obs(
    actor: Any, group_dims: dict[str, int], obs: torch.Tensor, images: dict[str, torch.Tensor] | None = None
) -> TensorDict:
    """Split a concatenated observation batch into the actor's vector groups; add the image groups."""
    parts = torch.split(obs, [group_dims[g] for g in actor.obs_groups], dim=-1)
    groups = dict(zip(actor.obs_groups, parts, strict=True)) | (images or {})
    return TensorDict(groups, batch_size=[obs.shape[0]])


def _torch_step(
    actor: Any, group_dims: dict[str, int], obs: torch.Tensor, images: dict[str, torch.Tensor] | None = None
) -> np.ndarray:
    with torch.no_grad():
        return actor(_as_obs(actor, group_dims, obs, images)).numpy()


def _image_parity(
    actor: Any,
    session: Any,
    io_spec: dict[str, Any],
    group_dims: dict[str, int],
    samples: int,
    gen: torch.Generator,
) -> _Diff:
    """Differences on `samples` random vector observations and images, `IMAGE_BATCH` at a time."""
    diff = _Diff()
    for start in range(0, samples, IMAGE_BATCH):
        n = min(IMAGE_BATCH, samples - start)
        obs = _random_obs(actor, n, io_spec["obs_dim"], gen)
        images = {i["name"]: torch.randn(n, *i["shape"], generator=gen) for i in io_spec["images"]}
        feeds = {name: x.numpy() for name, x in images.items()} | (
            {"obs": obs.numpy()} if obs.shape[1] else {}
        )
        diff.add(session.run(["actions"], feeds)[0], _torch_step(actor, group_dims, obs, images))
    return diff


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
    actor.eval()
    actor.reset()
    if io_spec.get("images"):
        return _result(
            "onnx",
            samples,
            _image_parity(actor, session, io_spec, group_dims, samples, gen),
            None,
            0,
            tolerance,
        )
    obs = _random_obs(actor, samples, io_spec["obs_dim"], gen)
    expected = _torch_step(actor, group_dims, obs)
    single, seq = _Diff(), None
    single.add(session.run(["actions"], {"obs": obs.numpy(), **_zero_states(io_spec, samples)})[0], expected)
    if io_spec.get("recurrent"):
        seq = _onnx_sequence(actor, session, io_spec, group_dims, steps, gen)
    actor.reset()
    return _result("onnx", samples, single, seq, steps, tolerance)


def check_module(
    module: Any, path: Path, obs_dim: int, samples: int = 1000, seed: int = 0, tolerance: float = TOLERANCE
) -> ParityResult:
    """Compare a feed-forward module `obs -> actions` (a frozen low-level policy) with its ONNX file."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    obs = torch.randn(samples, obs_dim, generator=torch.Generator().manual_seed(seed))
    diff = _Diff()
    with torch.no_grad():
        diff.add(session.run(["actions"], {"obs": obs.numpy()})[0], module(obs).numpy())
    return _result("onnx", samples, diff, None, 0, tolerance)


def _result(
    fmt: str, samples: int, single: _Diff | None, seq: _Diff | None, steps: int, tol: float
) -> ParityResult:
    scaled = max(d.scaled for d in (single, seq) if d is not None)
    return ParityResult(
        format=fmt,
        samples=samples,
        max_abs_error=single.abs if single is not None else 0.0,
        sequence_steps=steps if seq is not None else 0,
        sequence_max_abs_error=seq.abs if seq is not None else None,
        max_scaled_error=scaled,
        tolerance=tol,
        passed=scaled <= tol,
    )


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
) -> _Diff:
    """Differences of actions and final states over a `steps`-long sequence of 4 parallel episodes."""
    batch = 4
    actor.reset()
    states = _zero_states(io_spec, batch)
    diff = _Diff()
    for _ in range(steps):
        obs = _random_obs(actor, batch, io_spec["obs_dim"], gen)
        expected = _torch_step(actor, group_dims, obs)
        out = session.run(io_spec["outputs"], {"obs": obs.numpy(), **states})
        diff.add(out[0], expected)
        states = dict(zip(io_spec["inputs"][1:], out[1:], strict=True))
    hidden = actor.get_hidden_state()
    hidden = hidden if isinstance(hidden, tuple) else (hidden,)
    for h_torch, h_onnx in zip(hidden, states.values(), strict=True):
        diff.add(h_onnx, h_torch.numpy())
    return diff


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
    diff = _Diff()
    if not io_spec.get("recurrent"):
        obs = _random_obs(actor, samples, io_spec["obs_dim"], gen)
        with torch.no_grad():
            diff.add(module(obs).numpy(), _torch_step(actor, group_dims, obs))
        return _result("jit", samples, diff, None, 0, tolerance)
    for _ in range(steps):
        obs = _random_obs(actor, 1, io_spec["obs_dim"], gen)
        with torch.no_grad():
            diff.add(module(obs).numpy(), _torch_step(actor, group_dims, obs))
    actor.reset()
    module.reset()
    return _result("jit", 0, None, diff, steps, tolerance)

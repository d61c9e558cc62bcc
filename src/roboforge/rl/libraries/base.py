"""The contract between an RL library's adapter and the shared training, evaluation, play and export code.

A `Learner` owns one library's agent on a roboforge env. The shared `Trainer` calls `iterate()` (one
rollout and one update) in a loop and writes progress, metrics and checkpoints the same way for every
library; `policy()` is the deterministic actor that eval, play and export run. The env wrappers (or the
adapter's own rollout loop) report every env step to a `StepRecorder` (`envs/episodes.py`), so episode
returns and lengths are counted on the device the same way for every library.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import torch
from torch import nn

from roboforge.agents.agent_file import agent_cfg_from_dict
from roboforge.envs.episodes import StepRecorder
from roboforge.utils.config import read_yaml
from roboforge.utils.errors import UserInputError


class Learner(ABC):
    """One RL library's agent on a roboforge env (`env`: the unwrapped env; `cfg`: the typed agent config)."""

    library: ClassVar[str]
    cfg_types: ClassVar[dict[str, type]]
    """Typed agent config of each algorithm, in the library's own file format and field names."""

    steps_per_iteration: int
    """Env steps per world in one `iterate()`."""
    max_iterations: int
    """Total iterations the agent config asks for (`--max-iterations` replaces it)."""
    save_interval: int
    """Iterations between checkpoints (the last one is always saved)."""
    clip_actions: float | None = None
    """Symmetric clip of the policy's output before the env (eval, play, deploy); None when `policy()`
    bounds its actions itself."""
    iteration: int = 0
    """Iterations completed (the trainer sets it; rsl_rl stores it in its checkpoints)."""
    phase_times: dict[str, float]
    """Seconds per phase (`rollout`, `update`) summed since `time_phases()`."""
    _phase_mark: float | None = None
    """When the last phase ended; None: phases are not timed."""

    def __init__(self, env: Any, cfg: Any, algorithm: str, recorder: StepRecorder):
        self.env = env
        self.cfg = cfg
        self.algorithm = algorithm
        self.recorder = recorder
        self.device = env.device

    @classmethod
    def load_cfg(cls, task: str, algorithm: str) -> Any:
        """The task's registered agent file of this library and algorithm, as a typed config."""
        from roboforge.envs.registry import agent_entry_key, load_cfg, task_spec

        key = agent_entry_key(cls.library, algorithm)
        entry = task_spec(task).kwargs.get(key)
        if entry is None:
            raise UserInputError(no_agent_config_message(task, cls.library, algorithm))
        data = cls.file_data(load_cfg(task, key))
        return agent_cfg_from_dict(cls.cfg_types[algorithm], data, entry.partition(":")[2])

    @classmethod
    def cfg_from_file(cls, path: Path, algorithm: str) -> Any:
        """A user's agent file in this library's format (an Isaac Lab agent file carries over), as a
        typed config; unknown fields and wrong types are ConfigErrors naming the file and the field."""
        return agent_cfg_from_dict(cls.cfg_types[algorithm], cls.file_data(read_yaml(path)), str(path))

    @classmethod
    @abstractmethod
    def iteration_plan(cls, cfg: Any, algorithm: str, num_envs: int) -> tuple[int, int]:
        """(steps_per_iteration, max_iterations) that `cfg` asks for with `num_envs` worlds, read from the
        config alone (the learner uses it; the job service plans and bounds jobs with it, without an env)."""

    @classmethod
    @abstractmethod
    def check_cfg(cls, cfg: Any, algorithm: str, num_envs: int) -> None:
        """Raise a SettingError naming the agent key where `cfg` cannot train `num_envs` worlds (mini-batches
        that do not split one iteration's samples, the library's own argument checks). Read from the config
        alone: a training session checks it before building the env, the job service at submission."""

    @classmethod
    def file_data(cls, data: Any) -> Any:
        """The parsed YAML of an agent file as the library itself would read it (default: unchanged)."""
        return data

    def plan(self, total_iterations: int) -> None:
        """Tell the learner the run's total iterations (`--max-iterations` may differ from its config's),
        for the schedules that run over the whole training."""
        self.max_iterations = total_iterations

    @abstractmethod
    def iterate(self) -> dict[str, float]:
        """One rollout of `steps_per_iteration` env steps and one update. Returns the losses and policy
        statistics under rsl_rl's tags where they mean the same (`Loss/value`, `Loss/surrogate`,
        `Loss/entropy`, `Loss/learning_rate`, `Policy/mean_std`), others as `Loss/<name>`."""

    @abstractmethod
    def save(self, file: BinaryIO) -> None:
        """Write a checkpoint in the library's own format (loadable with the library's own API) to `file`;
        the caller makes the write atomic and names it `model_<iteration><suffix>`."""

    @abstractmethod
    def load(self, path: Path, training: bool) -> None:
        """Load a checkpoint written by `save` (also the optimizer and schedules when `training`). A file
        of another library or a network that does not fit is a UserInputError saying what to do."""

    @abstractmethod
    def policy(self) -> Any:
        """The deterministic actor in eval mode, with rsl_rl's actor interface: `obs_groups`, `obs_dim`,
        `obs_normalization`, `__call__(obs by group) -> actions`, `reset(dones)`, `get_hidden_state()`
        and `as_onnx()` (a module `obs tensor -> actions`, normalizer included)."""

    def time_phases(self) -> None:
        """From now on synchronise the device at the end of each phase of an iteration (`rollout`,
        `update`; libraries that report them) and add its wall time to `phase_times`: the bench's
        breakdown. Off in training, where it would cost a host sync per phase."""
        self.phase_times = {}
        self._phase_mark = time.perf_counter()

    def phase_done(self, name: str) -> None:
        """End of phase `name` of the current iteration (timed only after `time_phases()`)."""
        mark = self._phase_mark
        if mark is None:
            return
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        now = time.perf_counter()
        self.phase_times[name] = self.phase_times.get(name, 0.0) + now - mark
        self._phase_mark = now

    def diverged(self) -> bool:
        """True when the actor has non-finite weights (host sync; called on the error path only)."""
        return not all(bool(torch.isfinite(p).all()) for p in self.policy().parameters())


SIZE_MISMATCH = re.compile(
    r"size mismatch for (?P<name>\S+): copying a param with shape torch\.Size\(\[(?P<saved>[\d, ]*)\]\) "
    r"from checkpoint, the shape in current model is torch\.Size\(\[(?P<here>[\d, ]*)\]\)"
)
"""torch's line for a weight whose shape differs between a checkpoint and the network loading it."""


def load_error_detail(err: BaseException) -> str:
    """The informative line of a `load_state_dict` error: the first size mismatch, in words, or the missing or
    unexpected keys."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    useful = [line for line in lines if line.startswith(("size mismatch", "Missing key", "Unexpected key"))]
    line = (useful or lines or [type(err).__name__])[0].rstrip(".")
    mismatch = SIZE_MISMATCH.search(line)
    if mismatch is None:
        return line
    return (
        f"its layer {mismatch['name']} is {_shape(mismatch['saved'])} where this task's network has "
        f"{_shape(mismatch['here'])}: the network was built for other observation or action sizes, or other "
        "hidden layers"
    )


def _shape(dims: str) -> str:
    """torch's '64, 4' as '64x4' ('' as 'a scalar')."""
    return "x".join(d.strip() for d in dims.split(",")) or "a scalar"


def no_agent_config_message(task: str, library: str, algorithm: str) -> str:
    """The error for a task that registers no agent config of `library` and `algorithm`, naming what it has."""
    from roboforge.envs.registry import task_algorithms

    have = ", ".join(f"{lib} ({'/'.join(algos)})" for lib, algos in task_algorithms(task).items())
    return f"Task {task!r} has no {library} {algorithm.upper()} agent config; it has: {have}."


class Standardize(nn.Module):
    """Observation normalizer `(x - mean) / sqrt(var + eps)`, optionally clipped to [-clip, clip]."""

    def __init__(self, mean: torch.Tensor, var: torch.Tensor, eps: float = 1e-8, clip: float | None = None):
        super().__init__()
        self.register_buffer("mean", mean.detach().clone().float())
        self.register_buffer("std", torch.sqrt(var.detach().clone().float() + eps))
        self.clip = clip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = (x - self.mean) / self.std  # pyright: ignore[reportOperatorIssue]
        return y if self.clip is None else y.clamp(-self.clip, self.clip)


class RescaleActions(nn.Module):
    """Squash or clip the network's output into the env's action bounds: `tanh` (SAC), `clip`
    (clamp to [-1, 1]), then scale [-1, 1] -> [low, high]."""

    def __init__(self, low: torch.Tensor, high: torch.Tensor, squash: str = "clip"):
        super().__init__()
        if squash not in ("tanh", "clip"):
            raise ValueError(f"squash must be 'tanh' or 'clip', got {squash!r}")
        self.register_buffer("low", low.detach().clone().float())
        self.register_buffer("high", high.detach().clone().float())
        self.squash = squash

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.tanh(x) if self.squash == "tanh" else x.clamp(-1.0, 1.0)
        return self.low + 0.5 * (x + 1.0) * (self.high - self.low)  # pyright: ignore[reportOperatorIssue]


class FeedForwardPolicy(nn.Module):
    """A deterministic MLP actor from a library's trained modules, behind rsl_rl's actor interface:
    `net` maps the concatenated observation groups `(batch, obs_dim)` to the actions the env receives
    (normalizer first, action bounds last), so eval, play and the exported ONNX file compute the same."""

    is_recurrent = False

    def __init__(self, net: nn.Module, obs_groups: list[str], obs_dim: int, obs_normalization: bool):
        super().__init__()
        self.net = net
        self.obs_groups = list(obs_groups)
        self.obs_dim = obs_dim
        self.obs_normalization = obs_normalization

    def forward(self, obs: Mapping[str, torch.Tensor] | torch.Tensor) -> torch.Tensor:
        if not isinstance(obs, torch.Tensor):
            obs = torch.cat([obs[g] for g in self.obs_groups], dim=-1)
        return self.net(obs)

    def reset(self, dones: torch.Tensor | None = None) -> None:
        """Feed-forward: nothing to reset."""

    def get_hidden_state(self) -> None:
        return None

    def as_onnx(self, verbose: bool = False) -> nn.Module:
        """The module to export: `obs (batch, obs_dim) -> actions`, in eval mode."""
        return _TensorInput(self.net).eval()

    def as_jit(self) -> nn.Module:
        """The module to script (TorchScript): `obs (batch, obs_dim) -> actions`, in eval mode."""
        return _TensorInput(self.net).eval()


class _TensorInput(nn.Module):
    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs)

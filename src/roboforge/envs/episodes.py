"""Episode returns and lengths counted on the device, read once per iteration (training, eval, play), and
the record of every env step that each RL library's wrapper or rollout loop keeps."""

from __future__ import annotations

from collections.abc import Callable

import torch


class EpisodeTracker:
    """Device-side returns and lengths of the episodes that end during an iteration."""

    def __init__(self, num_envs: int, device):
        self.ret = torch.zeros(num_envs, device=device)
        self.len = torch.zeros(num_envs, device=device)
        self.sum_ret = torch.zeros((), device=device)
        self.sum_len = torch.zeros((), device=device)
        self.count = torch.zeros((), device=device)

    def step(self, reward: torch.Tensor, dones: torch.Tensor) -> None:
        self.ret += reward
        self.len += 1
        d = dones.float()
        self.sum_ret += (self.ret * d).sum()
        self.sum_len += (self.len * d).sum()
        self.count += d.sum()
        self.ret *= 1 - d
        self.len *= 1 - d

    def pop(self) -> tuple[float, float, int]:
        """(mean return, mean length, episodes) since the last pop; host sync."""
        n = int(self.count)
        out = (float(self.sum_ret) / max(n, 1), float(self.sum_len) / max(n, 1), n)
        for buf in (self.sum_ret, self.sum_len, self.count):
            buf.zero_()
        return out


class StepRecorder:
    """Device-side record of every env step of training: episode returns and lengths, finite actions."""

    def __init__(self, num_envs: int, device: torch.device | str):
        self.episodes = EpisodeTracker(num_envs, device)
        self.finite = torch.ones((), dtype=torch.bool, device=device)
        self.action_abs_sum = torch.zeros((), device=device)
        self.action_abs_max = torch.zeros((), device=device)
        self.action_count = torch.zeros((), device=device)
        self.taps: list[Callable[[], None]] = []
        """Called after every recorded step (device work only: they run inside captured rollouts; e.g. the
        training videos' state copy, `rl/train_video.py`). Add them before the first step."""

    def step(self, actions: torch.Tensor, reward: torch.Tensor, dones: torch.Tensor) -> None:
        """Record one env step: the actions sent, the reward `(num_envs,)` and done = terminated | truncated."""
        self.finite &= torch.isfinite(actions).all()
        magnitude = actions.detach().abs()
        self.action_abs_sum += magnitude.sum()
        self.action_count += magnitude.numel()
        torch.maximum(self.action_abs_max, magnitude.amax(), out=self.action_abs_max)
        self.episodes.step(reward.reshape(-1), dones.reshape(-1))
        for tap in self.taps:
            tap()

    def pop_action_magnitude(self) -> dict[str, float]:
        """The mean and largest |action| the policy sent since the last call (one host sync): unbounded
        actions that drift far beyond the range the action terms use show here first."""
        count = float(self.action_count)
        stats = (
            {}
            if count == 0
            else {
                "Policy/mean_abs_action": float(self.action_abs_sum) / count,
                "Policy/max_abs_action": float(self.action_abs_max),
            }
        )
        for buffer in (self.action_abs_sum, self.action_abs_max, self.action_count):
            buffer.zero_()
        return stats

    def pop_finite(self) -> bool:
        """Whether every action since the last call was finite (host sync)."""
        ok = bool(self.finite)
        self.finite.fill_(True)
        return ok

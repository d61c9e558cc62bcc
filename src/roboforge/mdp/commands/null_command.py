"""A command term that commands nothing (an empty `(num_envs, 0)` tensor), for tasks without targets."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from roboforge.managers.command_manager import CommandTerm, CommandTermCfg
from roboforge.managers.term_env import TermEnv


@dataclass(kw_only=True)
class NullCommandCfg(CommandTermCfg):
    """No command."""

    def build(self, env: TermEnv) -> CommandTerm:
        return NullCommand(self, env)


class NullCommand(CommandTerm):
    """Always the empty command."""

    def __init__(self, cfg: NullCommandCfg, env: TermEnv):
        super().__init__(cfg, env)
        self._command = torch.zeros(env.num_envs, 0, device=env.device)

    @property
    def command(self) -> torch.Tensor:
        return self._command

    def _resample(self, mask: torch.Tensor) -> None:
        pass

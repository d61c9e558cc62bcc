"""Curriculum manager: terms `func(env, env_mask, **params)` run on the worlds being reset.

A term returns a value to log (a scalar tensor, e.g. the mean terrain level) or None.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from roboforge.managers.term import TermCfg, bind_term
from roboforge.managers.term_env import TermEnv


@dataclass(kw_only=True)
class CurriculumTermCfg(TermCfg):
    """A curriculum term, run at reset on the worlds that ended an episode."""


class CurriculumManager:
    """Runs curriculum terms and keeps their latest logged values."""

    def __init__(self, cfgs: dict[str, CurriculumTermCfg], env: TermEnv):
        self.env = env
        positional = ("env", "env_mask")
        self._funcs = {n: bind_term("curriculum", n, c, env, positional).call for n, c in cfgs.items()}
        self.state: dict[str, torch.Tensor] = {}

    def compute(self, mask: torch.Tensor) -> None:
        """Update every term for the worlds selected by `mask`."""
        for name, func in self._funcs.items():
            value = func(self.env, mask)
            if value is not None:
                self.state[f"Curriculum/{name}"] = torch.as_tensor(value, device=self.env.device).float()

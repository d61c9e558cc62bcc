"""Termination manager: failure terms and time-out terms, kept apart (rsl_rl bootstraps on time-outs)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from roboforge.managers.term import TermCfg, bind_term
from roboforge.managers.term_env import TermEnv


@dataclass(kw_only=True)
class TerminationTermCfg(TermCfg):
    """A termination term `func(env, **params) -> (num_envs,) bool`."""

    time_out: bool = False
    """True if this term ends the episode by time (not a failure)."""


class TerminationManager:
    """Combines termination terms into `terminated` (failures) and `time_outs`."""

    def __init__(self, cfgs: dict[str, TerminationTermCfg], env: TermEnv):
        self.env = env
        self.cfgs = cfgs
        terms = {n: bind_term("termination", n, c, env) for n, c in cfgs.items()}
        self._funcs = {n: term.call for n, term in terms.items()}
        self._term_resets = [term.reset for term in terms.values() if term.reset is not None]
        shape = (env.num_envs,)
        self.terminated = torch.zeros(shape, dtype=torch.bool, device=env.device)
        self.time_outs = torch.zeros(shape, dtype=torch.bool, device=env.device)
        self.term_dones = {n: torch.zeros(shape, dtype=torch.bool, device=env.device) for n in cfgs}

    def compute(self) -> torch.Tensor:
        """Done flags `(num_envs,)`; also fills `terminated`, `time_outs` and each term's flags."""
        self.terminated.zero_()
        self.time_outs.zero_()
        for name, cfg in self.cfgs.items():
            done = self._funcs[name](self.env).bool()
            self.term_dones[name][:] = done
            if cfg.time_out:
                self.time_outs |= done
            else:
                self.terminated |= done
        return self.terminated | self.time_outs

    @property
    def dones(self) -> torch.Tensor:
        return self.terminated | self.time_outs

    def reset(
        self, mask: torch.Tensor, void: torch.Tensor | None = None
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Per-term (number of ended episodes it caused, episode count) for logging, and
        `Episode/survived`: episodes that no failure term ended (legged tasks: the fall-free fraction),
        among those not `void` (worlds the NaN guard reset: counted in `nan_resets` instead).
        Resets class terms."""
        count = mask.sum()
        log = {
            f"Episode_Termination/{n}": ((d & mask).sum().float(), count) for n, d in self.term_dones.items()
        }
        counted = mask if void is None else mask & ~void
        log["Episode/survived"] = ((counted & ~self.terminated).sum().float(), counted.sum())
        for reset in self._term_resets:
            reset(mask)
        return log

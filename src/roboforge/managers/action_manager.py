"""Action manager: splits the policy's action vector among action terms and applies them each physics step."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch

from roboforge.managers.term_env import TermEnv
from roboforge.utils.config import ConfigError


@dataclass(kw_only=True)
class ActionTermCfg:
    """Base config of an action term; subclasses name their term class in `build`."""

    asset_name: str = "robot"
    """Scene entity the term drives."""

    def build(self, env: TermEnv) -> ActionTerm:
        """The runtime term for `env`."""
        raise NotImplementedError(f"{type(self).__name__} must implement build(env).")


class ActionTerm:
    """Turns its slice of the action into targets: `process` once per env step, `apply` per physics step."""

    action_dim: int

    def process(self, actions: torch.Tensor) -> None:
        """Store this term's raw actions `(num_envs, action_dim)`."""
        raise NotImplementedError

    def apply(self) -> None:
        """Write the processed actions into the entity's targets."""
        raise NotImplementedError

    def reset(self, mask: torch.Tensor) -> None:
        """Clear per-episode state in the worlds selected by `mask`."""


class ActionManager:
    """Holds the action terms, the current and previous action `(num_envs, total_dim)`."""

    def __init__(self, cfgs: dict[str, ActionTermCfg], env: TermEnv):
        if not cfgs:
            raise ConfigError("The env has no action terms; add at least one to `actions`.")
        self.terms: dict[str, ActionTerm] = {name: cfg.build(env) for name, cfg in cfgs.items()}
        self.term_dims = [t.action_dim for t in self.terms.values()]
        self.total_action_dim = sum(self.term_dims)
        self.action = torch.zeros(env.num_envs, self.total_action_dim, device=env.device)
        self.prev_action = torch.zeros_like(self.action)
        ends = list(itertools.accumulate(self.term_dims))
        self._columns = {
            n: slice(e - t.action_dim, e) for (n, t), e in zip(self.terms.items(), ends, strict=True)
        }
        """Each term's columns of the action, the one split that `process_action` and `term_action` use."""

    def process_action(self, action: torch.Tensor) -> None:
        """Split `action (num_envs, total_dim)` among the terms; the last action becomes `prev_action`."""
        if action.shape != self.action.shape:
            raise ConfigError(
                f"Expected actions of shape {tuple(self.action.shape)}, got {tuple(action.shape)}."
            )
        self.prev_action[:] = self.action
        self.action[:] = action.to(self.action.device)
        for name, term in self.terms.items():
            term.process(self.action[:, self._columns[name]])

    def term_action(self, name: str) -> torch.Tensor:
        """The current action's columns of term `name` `(num_envs, dim)` (a view)."""
        if name not in self.terms:
            raise ConfigError(f"No action term {name!r}; the terms are {list(self.terms)}.")
        return self.action[:, self._columns[name]]

    def apply_action(self) -> None:
        """Apply every term (once per physics step)."""
        for term in self.terms.values():
            term.apply()

    def reset(self, mask: torch.Tensor) -> None:
        """Zero the actions of the worlds selected by `mask` and reset the terms."""
        m = mask[:, None]
        self.action.masked_fill_(m, 0.0)
        self.prev_action.masked_fill_(m, 0.0)
        for term in self.terms.values():
            term.reset(mask)

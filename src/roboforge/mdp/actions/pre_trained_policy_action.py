"""A frozen low-level policy as an action term (Isaac Lab's `PreTrainedPolicyAction`, legged navigation):
the high-level action is a base velocity command `(vx, vy, wz)`; every `low_level_decimation` physics steps
the term builds the low-level policy's observation (the velocity task's policy group, its command replaced by
the clipped high-level action and its last action by the low-level one), runs the policy on the device and
hands its joint action to the low-level action term, which writes the joint targets every physics step."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch

from roboforge.managers.action_manager import ActionTerm, ActionTermCfg
from roboforge.managers.observation_manager import ObservationGroupCfg, ObservationManager
from roboforge.managers.term_env import TermEnv
from roboforge.mdp.actions.frozen_policy import load_frozen_policy
from roboforge.mdp.actions.joint_actions import JointPositionActionCfg
from roboforge.mdp.observations import generated_commands, last_action
from roboforge.utils.config import ConfigError
from roboforge.utils.errors import UserInputError

GROUP = "low_level"


@dataclass(kw_only=True)
class PreTrainedPolicyActionCfg(ActionTermCfg):
    """High-level action: a velocity command `(vx, vy, wz)` (m/s, m/s, rad/s), clipped to `command_ranges`,
    followed by a frozen velocity policy that drives the joints through `low_level_action`."""

    policy_path: str | None = None
    """The low-level policy: an rsl_rl checkpoint (`model_<i>.pt`), a TorchScript `policy.pt` or a `policy.onnx`
    of the velocity task (`roboforge export`)."""
    low_level_decimation: int = 4
    """Physics steps per low-level policy step (the velocity task's decimation)."""
    low_level_action: ActionTermCfg = field(default_factory=JointPositionActionCfg)
    """The velocity task's action term (what the low-level policy's output drives)."""
    low_level_observations: ObservationGroupCfg = field(default_factory=ObservationGroupCfg)
    """The velocity task's policy group: its `generated_commands` term reads the high-level action, its
    `last_action` term the low-level action."""
    command_ranges: tuple[tuple[float, float], ...] = ((-1.0, 1.0), (-1.0, 1.0), (-1.0, 1.0))
    """Clip range of each command component (the velocity task's command ranges)."""
    activation: str = "elu"
    """Activation of an rsl_rl checkpoint's actor when no `params/agent.json` lies beside it."""

    def build(self, env: TermEnv) -> ActionTerm:
        if self.low_level_decimation < 1:
            raise ConfigError(f"low_level_decimation must be >= 1, got {self.low_level_decimation}.")
        if any(lo > hi for lo, hi in self.command_ranges) or not self.command_ranges:
            raise ConfigError(f"command_ranges must be (low, high) pairs, got {self.command_ranges}.")
        return PreTrainedPolicyAction(self, env)


class PreTrainedPolicyAction(ActionTerm):
    """Runs the frozen policy every `low_level_decimation` physics steps; see the module docstring."""

    def __init__(self, cfg: PreTrainedPolicyActionCfg, env: TermEnv):
        self.cfg = cfg
        self.action_dim = len(cfg.command_ranges)
        ranges = torch.tensor(cfg.command_ranges, dtype=torch.float32, device=env.device)
        self.low, self.high = ranges[:, 0], ranges[:, 1]
        self.command = torch.zeros(env.num_envs, self.action_dim, device=env.device)
        self.low_level = cfg.low_level_action.build(env)
        self.low_level_actions = torch.zeros(env.num_envs, self.low_level.action_dim, device=env.device)
        self.observations = ObservationManager({GROUP: self._observation_group(cfg)}, env)
        self.policy = _load(cfg, env, self.observations.group_dims[GROUP], self.low_level.action_dim)
        self.substep = 0

    def _observation_group(self, cfg: PreTrainedPolicyActionCfg) -> ObservationGroupCfg:
        """The low-level group with its command and last-action terms reading this term's buffers."""
        group = cfg.low_level_observations
        found = {t: c.func for t, c in group.terms.items() if c.func in (generated_commands, last_action)}
        if generated_commands not in found.values():
            raise ConfigError(
                "low_level_observations has no generated_commands term for the high-level command; "
                f"its terms: {', '.join(group.terms) or '(none)'}."
            )
        reads = {generated_commands: self._command_obs, last_action: self._last_action_obs}
        terms = {
            name: replace(term, func=reads[found[name]], params={}) if name in found else term
            for name, term in group.terms.items()
        }
        return replace(group, terms=terms)

    def _command_obs(self, env: TermEnv) -> torch.Tensor:
        return self.command

    def _last_action_obs(self, env: TermEnv) -> torch.Tensor:
        return self.low_level_actions

    def process(self, actions: torch.Tensor) -> None:
        self.command[:] = torch.maximum(torch.minimum(actions, self.high), self.low)
        self.substep = 0

    def apply(self) -> None:
        if self.substep % self.cfg.low_level_decimation == 0:
            with torch.no_grad():
                obs = self.observations.compute_group(GROUP)
                self.low_level_actions[:] = self.policy(obs)
            self.low_level.process(self.low_level_actions)
        self.low_level.apply()
        self.substep += 1

    def reset(self, mask: torch.Tensor) -> None:
        self.low_level_actions.masked_fill_(mask[:, None], 0.0)
        self.command.masked_fill_(mask[:, None], 0.0)
        self.low_level.reset(mask)
        self.observations.reset(mask)


def _load(cfg: PreTrainedPolicyActionCfg, env: TermEnv, obs_dim: int, action_dim: int) -> torch.nn.Module:
    """The frozen policy, checked to map `(N, obs_dim)` to `(N, action_dim)`; errors name the override."""
    where = f"env.actions.{_term_name(cfg, env)}.policy_path"
    if not cfg.policy_path:
        raise ConfigError(
            f"No low-level policy: set {where}=PATH (a velocity-flat-go1 checkpoint model_<i>.pt, or its "
            "exported policy.onnx / policy.pt)."
        )
    try:
        policy = load_frozen_policy(cfg.policy_path, env.device, cfg.activation)
        with torch.no_grad():
            out = policy(torch.zeros(2, obs_dim, device=env.device))
    except UserInputError as err:
        raise type(err)(f"{where}: {err}") from err
    except RuntimeError as err:  # shapes that do not chain: the file is another task's policy
        raise UserInputError(
            f"{where}: {cfg.policy_path} does not take the {obs_dim} low-level observations "
            f"({str(err).splitlines()[0]})."
        ) from err
    if tuple(out.shape) != (2, action_dim):
        raise UserInputError(
            f"{where}: {cfg.policy_path} gives {tuple(out.shape)[1:]} actions, the low-level action term "
            f"takes {action_dim}."
        )
    return policy


def _term_name(cfg: ActionTermCfg, env: Any) -> str:
    """The name `cfg` has in the env's actions (for error messages), '<name>' when it cannot be found."""
    actions = getattr(getattr(env, "cfg", None), "actions", {}) or {}
    return next((name for name, c in actions.items() if c is cfg), "<name>")

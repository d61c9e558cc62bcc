"""Binary gripper: a negative action closes, a non-negative one opens (joint position targets)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from roboforge.managers.action_manager import ActionTerm, ActionTermCfg
from roboforge.managers.term_env import TermEnv
from roboforge.utils.config import ConfigError, regex_table


@dataclass(kw_only=True)
class BinaryJointPositionActionCfg(ActionTermCfg):
    """Two joint-position presets chosen by the sign of a single action."""

    joint_names: list[str] = field(default_factory=lambda: [".*finger.*"])
    """Regexes of the gripper joints."""
    open_command_expr: dict[str, float]
    """Joint positions when open, by regex."""
    close_command_expr: dict[str, float]
    """Joint positions when closed, by regex."""

    def build(self, env: TermEnv) -> ActionTerm:
        return BinaryJointPositionAction(self, env)


class BinaryJointPositionAction(ActionTerm):
    """Writes the open or closed preset into the gripper joints' position targets."""

    action_dim = 1

    def __init__(self, cfg: BinaryJointPositionActionCfg, env: TermEnv):
        self.entity = env.scene[cfg.asset_name]
        ids, names = self.entity.find_joints(cfg.joint_names)
        self.joint_ids = torch.tensor(ids, dtype=torch.long, device=env.device)

        def preset(table: dict[str, float], what: str) -> torch.Tensor:
            values = []
            patterns = regex_table(table, f"BinaryJointPositionAction.{what}")
            for name in names:
                match = [v for p, v in patterns if p.fullmatch(name)]
                if not match:
                    raise ConfigError(f"BinaryJointPositionAction: {what} has no value for joint {name!r}.")
                values.append(match[0])
            return torch.tensor(values, device=env.device)

        self.open_pos = preset(cfg.open_command_expr, "open_command_expr")
        self.close_pos = preset(cfg.close_command_expr, "close_command_expr")
        self.target = self.open_pos.repeat(env.num_envs, 1)

    def process(self, actions: torch.Tensor) -> None:
        self.target[:] = torch.where(actions < 0, self.close_pos, self.open_pos)

    def apply(self) -> None:
        self.entity.joint_pos_target[:, self.joint_ids] = self.target

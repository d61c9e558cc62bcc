"""Managers: one file each for action, observation, reward, termination, command, event, curriculum."""

from roboforge.managers.action_manager import ActionManager, ActionTerm, ActionTermCfg
from roboforge.managers.command_manager import CommandManager, CommandMarker, CommandTerm, CommandTermCfg
from roboforge.managers.curriculum_manager import CurriculumManager, CurriculumTermCfg
from roboforge.managers.event_manager import (
    EventManager,
    EventTermCfg,
    per_world_model_fields,
    writes_model_fields,
)
from roboforge.managers.observation_manager import (
    GaussianNoiseCfg,
    ObservationGroupCfg,
    ObservationManager,
    ObservationTermCfg,
    UniformNoiseCfg,
)
from roboforge.managers.reward_manager import RewardManager, RewardTermCfg
from roboforge.managers.term import ManagerTermBase, TermCfg
from roboforge.managers.term_env import TermEnv
from roboforge.managers.termination_manager import TerminationManager, TerminationTermCfg

__all__ = [
    "ActionManager",
    "ActionTerm",
    "ActionTermCfg",
    "CommandManager",
    "CommandMarker",
    "CommandTerm",
    "CommandTermCfg",
    "CurriculumManager",
    "CurriculumTermCfg",
    "EventManager",
    "EventTermCfg",
    "GaussianNoiseCfg",
    "ManagerTermBase",
    "ObservationGroupCfg",
    "ObservationManager",
    "ObservationTermCfg",
    "RewardManager",
    "RewardTermCfg",
    "TermCfg",
    "TermEnv",
    "TerminationManager",
    "TerminationTermCfg",
    "UniformNoiseCfg",
    "per_world_model_fields",
    "writes_model_fields",
]

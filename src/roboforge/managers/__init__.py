"""Managers: one file each for action, observation, reward, termination, command, event, curriculum."""

from roboforge.managers.action_manager import ActionManager, ActionTerm, ActionTermCfg
from roboforge.managers.command_manager import CommandManager, CommandTerm, CommandTermCfg
from roboforge.managers.curriculum_manager import CurriculumManager, CurriculumTermCfg
from roboforge.managers.event_manager import EventManager, EventTermCfg
from roboforge.managers.observation_manager import (
    GaussianNoiseCfg,
    ObservationGroupCfg,
    ObservationManager,
    ObservationTermCfg,
    UniformNoiseCfg,
)
from roboforge.managers.reward_manager import RewardManager, RewardTermCfg
from roboforge.managers.termination_manager import TerminationManager, TerminationTermCfg

__all__ = [
    "ActionManager",
    "ActionTerm",
    "ActionTermCfg",
    "CommandManager",
    "CommandTerm",
    "CommandTermCfg",
    "CurriculumManager",
    "CurriculumTermCfg",
    "EventManager",
    "EventTermCfg",
    "GaussianNoiseCfg",
    "ObservationGroupCfg",
    "ObservationManager",
    "ObservationTermCfg",
    "RewardManager",
    "RewardTermCfg",
    "TerminationManager",
    "TerminationTermCfg",
    "UniformNoiseCfg",
]

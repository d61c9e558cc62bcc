"""Command and action managers on a small fake env."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from conftest import world_mask
from managers_util import N, RandomTargetCfg, fake_env
from roboforge.managers import (
    ActionManager,
    ActionTerm,
    ActionTermCfg,
    CommandManager,
    CommandTermCfg,
)
from roboforge.utils.config import ConfigError


# --- commands ------------------------------------------------------------------------------------------------
def test_command_term_resamples_on_timer_and_on_reset():
    env = fake_env()
    mgr = CommandManager({"target": RandomTargetCfg(resampling_time_range=(0.5, 0.5))}, env)
    term = mgr.terms["target"]
    dt = 0.125  # exact in binary: the 0.5 s timer runs out after exactly 4 steps
    mgr.compute(dt)  # timers start at 0: every world samples at once
    assert term.resamples.tolist() == [1] * N
    first = mgr.get_command("target").clone()
    assert (first.abs() <= 1.0).all() and not torch.equal(first[0], first[1])
    for _ in range(3):
        mgr.compute(dt)
    assert term.resamples.tolist() == [1] * N
    torch.testing.assert_close(mgr.get_command("target"), first)
    mgr.compute(dt)
    assert term.resamples.tolist() == [2] * N
    assert term.updates == 5
    second = mgr.get_command("target").clone()
    mask = world_mask(True, False, False, True)
    mgr.reset(mask)
    assert term.resamples.tolist() == [3, 2, 2, 3]
    after = mgr.get_command("target")
    torch.testing.assert_close(after[~mask], second[~mask])
    assert not torch.equal(after[mask], second[mask])
    torch.testing.assert_close(term.time_left[mask], torch.full((2,), 0.5))


def test_unknown_command_name_lists_commands():
    mgr = CommandManager({"target": RandomTargetCfg()}, fake_env())
    with pytest.raises(ConfigError, match=r"'velocity'.*Commands: target"):
        mgr.get_command("velocity")


def test_command_cfg_without_build_says_what_to_implement():
    with pytest.raises(NotImplementedError, match="CommandTermCfg must implement build"):
        CommandManager({"x": CommandTermCfg()}, fake_env())


# --- actions ------------------------------------------------------------------------------------------------------
@dataclass(kw_only=True)
class RecordCfg(ActionTermCfg):
    dim: int = 2

    def build(self, env):
        return RecordTerm(self.dim)


class RecordTerm(ActionTerm):
    def __init__(self, dim: int):
        self.action_dim = dim
        self.seen: list[torch.Tensor] = []
        self.reset_masks: list[torch.Tensor] = []

    def process(self, actions):
        self.seen.append(actions.clone())

    def apply(self):
        pass

    def reset(self, mask):
        self.reset_masks.append(mask.clone())


def test_action_manager_splits_tracks_previous_and_resets_masked():
    env = fake_env()
    mgr = ActionManager({"a": RecordCfg(dim=2), "b": RecordCfg(dim=1)}, env)
    assert mgr.total_action_dim == 3
    first = torch.arange(12.0).reshape(N, 3)
    mgr.process_action(first)
    mgr.process_action(first + 100)
    torch.testing.assert_close(mgr.prev_action, first)
    torch.testing.assert_close(mgr.terms["a"].seen[-1], (first + 100)[:, :2])
    torch.testing.assert_close(mgr.terms["b"].seen[-1], (first + 100)[:, 2:])
    mask = world_mask(False, True, False, False)
    mgr.reset(mask)
    assert (mgr.action[1] == 0).all() and (mgr.prev_action[1] == 0).all()
    torch.testing.assert_close(mgr.action[0], first[0] + 100)
    assert torch.equal(mgr.terms["b"].reset_masks[-1], mask)
    assert mgr.term_action("b").shape == (N, 1) and mgr.term_action("b")[1].item() == 0.0  # world 1 was reset
    torch.testing.assert_close(mgr.term_action("b")[3], first[3, 2:] + 100)
    torch.testing.assert_close(mgr.term_action("a")[2], first[2, :2] + 100)
    with pytest.raises(ConfigError, match="No action term 'c'"):
        mgr.term_action("c")
    with pytest.raises(ValueError, match=r"shape \(4, 3\)"):
        mgr.process_action(torch.zeros(N, 2))


def test_action_manager_needs_terms():
    with pytest.raises(ConfigError, match="no action terms"):
        ActionManager({}, fake_env())

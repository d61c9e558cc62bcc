"""Term parameters are checked against the term's signature when a manager is built."""

from __future__ import annotations

import pytest
import torch

from managers_util import CountingObs, N, bump, fake_env, scaled_value_obs
from roboforge import mdp
from roboforge.managers import (
    EventManager,
    EventTermCfg,
    ObservationGroupCfg,
    ObservationManager,
    ObservationTermCfg,
    RewardManager,
    RewardTermCfg,
    TerminationManager,
    TerminationTermCfg,
)
from roboforge.utils.config import ConfigError


# --- parameter checks ---------------------------------------------------------------------------------------------
def test_unknown_term_parameter_names_it_and_lists_allowed():
    env = fake_env()
    cfg = RewardTermCfg(func=mdp.joint_pos_target_l2, weight=1.0, params={"targt": 0.0})
    with pytest.raises(ConfigError) as err:
        RewardManager({"pose": cfg}, env)
    msg = str(err.value)
    assert "'targt'" in msg and "'pose'" in msg and "joint_pos_target_l2" in msg
    assert "Did you mean 'target'" in msg
    assert "Allowed: asset_name, joint_names, target" in msg


def test_missing_required_parameter_raises():
    env = fake_env()
    cfg = ObservationTermCfg(func=scaled_value_obs, params={"offset": 1.0})
    with pytest.raises(ConfigError, match=r"observation term 'policy.v'.*missing parameters: factor"):
        ObservationManager({"policy": ObservationGroupCfg(terms={"v": cfg})}, env)


def test_event_term_params_exclude_env_mask():
    env = fake_env(counter=torch.zeros(N))
    with pytest.raises(ConfigError, match=r"'env_mask'.*Allowed: amount"):
        EventManager({"x": EventTermCfg(func=bump, mode="reset", params={"env_mask": None})}, env)


def test_class_term_params_are_checked_against_call():
    env = fake_env()
    cfg = ObservationTermCfg(func=CountingObs, params={"begin": 1.0})
    with pytest.raises(ConfigError, match=r"'begin'.*Allowed: start"):
        ObservationManager({"policy": ObservationGroupCfg(terms={"c": cfg})}, env)


def test_non_callable_term_raises():
    with pytest.raises(ConfigError, match="must be callable"):
        TerminationManager({"t": TerminationTermCfg(func="time_out")}, fake_env())  # type: ignore[arg-type]


def test_task_config_with_bad_term_param_fails_at_build():
    from roboforge.envs import load_cfg, make_env

    cfg = load_cfg("cartpole", num_envs=2)
    cfg.rewards["pole_pos"].params["tolerance"] = 0.1
    with pytest.raises(
        ConfigError, match=r"reward term 'pole_pos'.*'tolerance'.*Allowed: asset_name, joint_names, target"
    ):
        make_env("cartpole", cfg)


class PlainClassTerm:
    """A class that does not subclass ManagerTermBase."""

    def __init__(self, env):
        self.env = env

    def __call__(self, env):
        return env.value


def test_class_term_must_subclass_manager_term_base():
    cfg = ObservationTermCfg(func=PlainClassTerm)
    with pytest.raises(ConfigError, match=r"'policy.c'.*PlainClassTerm must subclass .*ManagerTermBase"):
        ObservationManager({"policy": ObservationGroupCfg(terms={"c": cfg})}, fake_env())

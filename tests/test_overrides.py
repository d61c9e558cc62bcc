"""The override module shared by the command line, eval/play/export and the job service."""

from __future__ import annotations

import pytest

from roboforge.envs.registry import load_cfg
from roboforge.utils.overrides import (
    Bound,
    OverrideError,
    apply_checked,
    find_bound,
    parse_item,
    split_scopes,
)


def cartpole():
    return load_cfg("cartpole"), load_cfg("cartpole", "rsl_rl_cfg_entry_point")


def test_parse_json_values_and_bare_words():
    assert parse_item("env.episode_length_s=2.5") == ("env.episode_length_s", 2.5)
    assert parse_item("agent.actor.hidden_dims=[64, 64]") == ("agent.actor.hidden_dims", [64, 64])
    assert parse_item("agent.actor.activation=tanh") == ("agent.actor.activation", "tanh")
    assert split_scopes({"env.a.b": 1, "agent.c": 2}) == ({"a.b": 1}, {"c": 2})
    with pytest.raises(OverrideError, match=r"env\.<path>=<value>"):
        parse_item("decimation=4")


def test_values_are_checked_against_the_field_type():
    env, agent = cartpole()
    apply_checked(env, "env", {"episode_length_s": 3, "rewards.alive.weight": 2.0})
    apply_checked(agent, "agent", {"actor.hidden_dims": [32, 32], "clip_actions": None})
    assert env.episode_length_s == 3 and agent.actor.hidden_dims == [32, 32]
    for cfg, scope, path, value, needle in [
        (agent, "agent", "algorithm.learning_rate", "abc", "float"),
        (agent, "agent", "actor.hidden_dims", [64, "x"], r"list\[int\]"),
        (agent, "agent", "num_steps_per_env", 2.5, "int"),
        (env, "env", "rewards.alive.weight", True, "float"),
        (env, "env", "episode_length_s", float("nan"), "finite"),
        (env, "env", "episode_length_s", "nan", "nan is not a finite number"),  # a bare word: a string
        (env, "env", "episode_length_s", "-inf", "-inf is not a finite number"),
        (env, "env", "rewards.pole_pos.params.target", "Infinity", "finite"),  # no declared type
        (env, "env", "episode_length_s", "infinite", "'infinite' is not a valid float"),
        (agent, "agent", "actor.hidden_dims", [64, float("inf")], "finite"),
    ]:
        with pytest.raises(OverrideError, match=needle) as info:
            apply_checked(cfg, scope, {path: value})
        assert info.value.key == f"{scope}.{path}"


def test_term_parameters_are_checked_against_the_term_function_signature():
    """`progress_to_target(..., max_speed: float | None)`: null lifts the ant's 6 m/s cap (a check by the
    current value alone would refuse it), a word is refused with the declared type."""
    env = load_cfg("ant-manager")
    params = env.rewards["progress"].params
    assert params["max_speed"] == 6.0
    apply_checked(env, "env", {"rewards.progress.params.max_speed": None})
    assert env.rewards["progress"].params["max_speed"] is None
    apply_checked(env, "env", {"rewards.progress.params.max_speed": 4})
    assert env.rewards["progress"].params["max_speed"] == 4
    with pytest.raises(OverrideError, match=r"'fast' is not a valid float \| None"):
        apply_checked(env, "env", {"rewards.progress.params.max_speed": "fast"})


def test_keys_that_are_not_fields_are_refused_with_the_reason():
    env, _ = cartpole()
    with pytest.raises(OverrideError, match="Did you mean 'decimation'"):
        apply_checked(env, "env", {"decimaton": 4})
    with pytest.raises(OverrideError, match=r"is a value .*not a config with fields"):
        apply_checked(env, "env", {"episode_length_s.x": 1})
    with pytest.raises(OverrideError, match="holds configs"):
        apply_checked(env, "env", {"rewards": {}})
    with pytest.raises(OverrideError, match="holds configs"):
        apply_checked(env, "env", {"rewards.alive": {"weight": 1.0}})
    with pytest.raises(OverrideError, match="--device"):
        apply_checked(env, "env", {"sim.device": "cuda"})
    with pytest.raises(OverrideError, match="--sim"):
        apply_checked(env, "env", {"sim.backend": "mjwarp"})


def test_bounds_by_exact_key_and_by_pattern():
    _, agent = cartpole()
    bounds = {"agent.num_steps_per_env": Bound(1, 100), "agent.*.hidden_dims": Bound(1, 512, max_items=3)}
    assert find_bound("agent.critic.hidden_dims", bounds) is bounds["agent.*.hidden_dims"]
    apply_checked(agent, "agent", {"num_steps_per_env": 100, "critic.hidden_dims": [512, 8]}, bounds)
    with pytest.raises(OverrideError, match=r"outside the allowed range 1\.\.100"):
        apply_checked(agent, "agent", {"num_steps_per_env": 101}, bounds)
    with pytest.raises(OverrideError, match="at most 3 entries"):
        apply_checked(agent, "agent", {"actor.hidden_dims": [8, 8, 8, 8]}, bounds)
    with pytest.raises(OverrideError, match="outside"):
        apply_checked(agent, "agent", {"actor.hidden_dims": [1024]}, bounds)

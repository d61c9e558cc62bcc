"""Config helpers: from_dict, apply_overrides, to_dict; crash-safe file writes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from roboforge.agents.rsl_rl_cfg import RslRlPpoRunnerCfg
from roboforge.envs import load_cfg
from roboforge.utils.config import ConfigError, apply_overrides, from_dict, to_dict
from roboforge.utils.files import atomic_write, atomic_write_json


@dataclass(kw_only=True)
class Inner:
    """Nested config."""

    gain: float = 1.0
    """A gain."""
    names: list[str] = field(default_factory=list)
    """Some names."""


@dataclass(kw_only=True)
class Outer:
    """Top-level config."""

    learning_rate: float = 1e-3
    """Rate."""
    inner: Inner = field(default_factory=Inner)
    """Nested."""
    maybe: Inner | None = None
    """Optional nested."""
    table: dict[str, float] = field(default_factory=dict)
    """A plain dict."""


def helper_func(x):
    return x


# --- from_dict ------------------------------------------------------------------------------------
def test_from_dict_builds_nested_dataclasses():
    cfg = from_dict(Outer, {"learning_rate": 0.5, "inner": {"gain": 2.0}, "maybe": {"names": ["a"]}})
    assert cfg.learning_rate == 0.5
    assert isinstance(cfg.inner, Inner) and cfg.inner.gain == 2.0
    assert isinstance(cfg.maybe, Inner) and cfg.maybe.names == ["a"]


def test_from_dict_unknown_key_names_it_and_allowed_keys():
    with pytest.raises(ConfigError) as err:
        from_dict(Outer, {"learning_rat": 0.1})
    msg = str(err.value)
    assert "'learning_rat'" in msg
    assert "Did you mean 'learning_rate'" in msg
    for allowed in ("learning_rate", "inner", "maybe", "table"):
        assert allowed in msg


def test_from_dict_unknown_nested_key_names_nested_class():
    with pytest.raises(
        ConfigError, match=r"Unknown field of Inner 'gian'.*Did you mean 'gain'.*Allowed: gain, names"
    ):
        from_dict(Outer, {"inner": {"gian": 3.0}})


def test_from_dict_rejects_non_dataclass():
    with pytest.raises(TypeError):
        from_dict(dict, {})


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


# --- apply_overrides --------------------------------------------------------------------------------
def test_apply_overrides_sets_nested_fields_and_dict_keys():
    cfg = Outer(table={"a": 1.0})
    apply_overrides(cfg, {"learning_rate": 3e-4, "inner.gain": 7.0, "table.a": 2.0})
    assert cfg.learning_rate == 3e-4
    assert cfg.inner.gain == 7.0
    assert cfg.table == {"a": 2.0}


def test_apply_overrides_unknown_field_names_allowed_keys():
    cfg = Outer()
    with pytest.raises(ConfigError) as err:
        apply_overrides(cfg, {"inner.gane": 1.0})
    msg = str(err.value)
    assert "'gane'" in msg and "inner" in msg
    assert "Allowed: gain, names" in msg
    assert cfg.inner.gain == 1.0  # unchanged


def test_apply_overrides_unknown_dict_key_names_existing_keys():
    cfg = Outer(table={"alpha": 1.0, "beta": 2.0})
    with pytest.raises(ConfigError, match=r"'gamma'.*Allowed: alpha, beta"):
        apply_overrides(cfg, {"table.gamma": 3.0})
    assert "gamma" not in cfg.table


def test_apply_overrides_unknown_top_level_path():
    with pytest.raises(ConfigError, match=r"Unknown field in config 'nope'"):
        apply_overrides(Outer(), {"nope": 1})


def test_apply_overrides_on_real_task_and_agent_configs():
    env_cfg = load_cfg("cartpole", num_envs=8)
    apply_overrides(env_cfg, {"decimation": 4, "scene.num_envs": 16, "sim.timestep": 0.005})
    assert (env_cfg.decimation, env_cfg.scene.num_envs, env_cfg.sim.timestep) == (4, 16, 0.005)
    with pytest.raises(ConfigError) as err:
        apply_overrides(env_cfg, {"not_a_field": 1})
    assert "decimation" in str(err.value) and "episode_length_s" in str(err.value)
    agent = RslRlPpoRunnerCfg()
    apply_overrides(agent, {"algorithm.learning_rate": 1e-4})
    assert agent.algorithm.learning_rate == 1e-4
    with pytest.raises(ConfigError, match="learning_rate"):
        apply_overrides(agent, {"algorithm.learning_rat": 1e-4})


# --- to_dict --------------------------------------------------------------------------------------
def test_to_dict_is_json_serialisable_and_names_callables():
    cfg = Outer(table={"f": helper_func})  # type: ignore[dict-item]
    data = to_dict(cfg)
    json.dumps(data)
    assert data["inner"] == {"gain": 1.0, "names": []}
    assert data["table"]["f"].endswith("helper_func")
    assert data["maybe"] is None


def test_to_dict_of_a_task_config_round_trips_through_json():
    data = to_dict(load_cfg("cartpole", num_envs=8))
    text = json.dumps(data)
    assert json.loads(text)["scene"]["num_envs"] == 8
    assert "joint_pos_rel" in text  # term functions are named


# --- atomic_write ---------------------------------------------------------------------------------
def test_atomic_write_writes_and_replaces(tmp_path):
    target = tmp_path / "sub" / "file.bin"
    atomic_write(target, lambda f: f.write(b"one"))
    assert target.read_bytes() == b"one"
    atomic_write(target, lambda f: f.write(b"two"))
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.bin"]


def test_atomic_write_leaves_no_temp_file_and_keeps_old_content_on_exception(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("old")

    def failing(f):
        f.write("partial")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        atomic_write(target, failing, binary=False)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]


def test_atomic_write_cleans_up_on_keyboard_interrupt(tmp_path):
    target = tmp_path / "new.bin"

    def interrupted(f):
        f.write(b"x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, interrupted)
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_json(tmp_path):
    path = atomic_write_json(tmp_path / "a.json", {"x": [1, 2], "p": tmp_path})
    data = json.loads(path.read_text())
    assert data["x"] == [1, 2] and data["p"] == str(tmp_path)

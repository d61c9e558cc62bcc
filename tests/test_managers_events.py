"""Event and curriculum managers on a small fake env."""

from __future__ import annotations

import pytest
import torch

from conftest import world_mask
from managers_util import N, bump, fake_env
from roboforge import mdp
from roboforge.managers import (
    CurriculumManager,
    CurriculumTermCfg,
    EventManager,
    EventTermCfg,
    per_world_model_fields,
    writes_model_fields,
)
from roboforge.utils.config import ConfigError


# --- events ------------------------------------------------------------------------------------------------
def test_event_startup_and_reset_modes():
    env = fake_env(counter=torch.zeros(N))
    mgr = EventManager(
        {
            "once": EventTermCfg(func=bump, mode="startup", params={"amount": 100.0}),
            "on_reset": EventTermCfg(func=bump, mode="reset"),
        },
        env,
    )
    mgr.apply("startup")
    assert env.counter.tolist() == [100.0] * N
    mgr.apply("reset", world_mask(False, True, False, True))
    assert env.counter.tolist() == [100.0, 101.0, 100.0, 101.0]
    assert mgr.has_mode("reset") and not mgr.has_mode("interval")


def test_interval_event_fires_on_per_world_timers():
    n, dt, steps = 16, 0.05, 60  # 3 s
    env = fake_env(num_envs=n, counter=torch.zeros(n))
    mgr = EventManager({"push": EventTermCfg(func=bump, mode="interval", interval_range_s=(0.2, 0.6))}, env)
    fired_at = []
    for _ in range(steps):
        before = env.counter.clone()
        mgr.apply("interval", dt=dt)
        fired_at.append(env.counter != before)
    fired = torch.stack(fired_at)  # (steps, n)
    counts = fired.sum(0)
    # every world fires between 3 s / 0.6 s and 3 s / 0.2 s times (one step of slack either way)
    assert counts.min() >= 4 and counts.max() <= 15
    # timers are per world: worlds do not all fire at the same steps
    assert not (fired == fired[:, :1]).all()
    assert len({tuple(col.tolist()) for col in fired.T}) > 1
    # nothing fires before the shortest interval has passed
    assert not fired[:3].any()


def test_event_bad_mode_and_missing_interval_raise():
    env = fake_env(counter=torch.zeros(N))
    with pytest.raises(ConfigError, match=r"'bad'.*'startup', 'reset' or 'interval'.*'sometimes'"):
        EventManager({"bad": EventTermCfg(func=bump, mode="sometimes")}, env)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="interval_range_s"):
        EventManager({"push": EventTermCfg(func=bump, mode="interval")}, env)


# --- curriculum -------------------------------------------------------------------------------------------------
def record_mask(env, env_mask: torch.Tensor, level_step: float) -> torch.Tensor:
    env.levels[:] = torch.where(env_mask, env.levels + level_step, env.levels)
    env.seen_masks.append(env_mask.clone())
    return env.levels.mean()


def test_curriculum_term_gets_mask_and_logs_value():
    env = fake_env(levels=torch.zeros(N), seen_masks=[])
    mgr = CurriculumManager({"terrain": CurriculumTermCfg(func=record_mask, params={"level_step": 1.0})}, env)
    mask = world_mask(True, True, False, False)
    mgr.compute(mask)
    assert len(env.seen_masks) == 1 and torch.equal(env.seen_masks[0], mask)
    assert env.levels.tolist() == [1.0, 1.0, 0.0, 0.0]
    assert float(mgr.state["Curriculum/terrain"]) == 0.5


@writes_model_fields("body_mass")
def heavier(env, env_mask: torch.Tensor) -> None:
    """An event term that (would) write body masses."""


def test_event_terms_declare_the_model_fields_they_write():
    friction = {"friction_range": (0.5, 1.0)}
    cfgs = {
        "mass": EventTermCfg(func=heavier, mode="startup"),
        "friction": EventTermCfg(func=mdp.randomize_friction, mode="startup", params=friction),
        "damping": EventTermCfg(
            func=mdp.randomize_model_field,
            mode="reset",
            params={"field": "dof_damping", "value_range": (1, 2)},
        ),
        "base_mass": EventTermCfg(func=mdp.add_base_mass, mode="reset", params={"mass_range": (0.0, 1.0)}),
        "plain": EventTermCfg(func=bump, mode="reset"),
    }
    assert per_world_model_fields(cfgs) == ("body_mass", "geom_friction", "dof_damping")
    assert mdp.writes_model_fields is writes_model_fields

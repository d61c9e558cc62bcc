"""Env and agent config factories of every registered velocity task (entry points for the registry)."""

from __future__ import annotations

from functools import partial

from roboforge.tasks.locomotion.agents.rsl_rl_ppo_cfg import velocity_ppo_cfg
from roboforge.tasks.locomotion.robots import G1, GO1, H1
from roboforge.tasks.locomotion.velocity_env_cfg import velocity_env_cfg

velocity_flat_go1 = partial(velocity_env_cfg, GO1, False)
velocity_rough_go1 = partial(velocity_env_cfg, GO1, True)
velocity_flat_g1 = partial(velocity_env_cfg, G1, False)
velocity_rough_g1 = partial(velocity_env_cfg, G1, True)
velocity_flat_h1 = partial(velocity_env_cfg, H1, False)

ppo_flat_go1 = partial(velocity_ppo_cfg, 500, (128, 128, 128))
ppo_rough_go1 = partial(velocity_ppo_cfg, 1500)
ppo_flat_humanoid = partial(velocity_ppo_cfg, 1500, (256, 128, 128))
# G1 rough: 1000 iterations (H100, 2026-12-07: mean terrain level 4.8 and 93% not fallen on the play terrain at
# iteration 956, 13 min of training; Isaac Lab's 3000 would take ~42 min at that rate).
ppo_rough_humanoid = partial(velocity_ppo_cfg, 1000)

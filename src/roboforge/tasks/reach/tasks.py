"""Env and agent config factories of every registered reach task (entry points for the registry)."""

from __future__ import annotations

from functools import partial

from roboforge.tasks.reach.agents.rsl_rl_ppo_cfg import reach_ppo_cfg
from roboforge.tasks.reach.arms import (
    IIWA14_ARM,
    KINOVA_GEN3_ARM,
    PANDA_ARM,
    PANDA_IK_ARM,
    UR5E_ARM,
    UR10E_ARM,
    XARM6_ARM,
)
from roboforge.tasks.reach.reach_env_cfg import reach_env_cfg

reach_ur5e = partial(reach_env_cfg, UR5E_ARM, "joint_pos")
reach_ur5e_joint_vel = partial(reach_env_cfg, UR5E_ARM, "joint_vel")
reach_ur5e_effort = partial(reach_env_cfg, UR5E_ARM, "effort")
reach_ur5e_ik_rel = partial(reach_env_cfg, UR5E_ARM, "ik_rel")
reach_ur5e_ik_abs = partial(reach_env_cfg, UR5E_ARM, "ik_abs")
reach_ur5e_osc = partial(reach_env_cfg, UR5E_ARM, "osc")
reach_ur10e = partial(reach_env_cfg, UR10E_ARM, "joint_pos")
reach_panda = partial(reach_env_cfg, PANDA_ARM, "joint_pos")
reach_panda_ik_rel = partial(reach_env_cfg, PANDA_IK_ARM, "ik_rel")
reach_kinova_gen3 = partial(reach_env_cfg, KINOVA_GEN3_ARM, "joint_pos")
reach_xarm6 = partial(reach_env_cfg, XARM6_ARM, "joint_pos")
reach_iiwa14 = partial(reach_env_cfg, IIWA14_ARM, "joint_pos")

ppo_joint_pos = partial(reach_ppo_cfg, "joint_pos")
ppo_joint_vel = partial(reach_ppo_cfg, "joint_vel")
ppo_ik_rel = partial(reach_ppo_cfg, "ik_rel")
ppo_ik_abs = partial(reach_ppo_cfg, "ik_abs")
ppo_osc = partial(reach_ppo_cfg, "osc")
# The 7-joint Panda needs more iterations for 1 cm (1400 iterations: 281 s on one H200).
ppo_panda_joint_pos = partial(reach_ppo_cfg, "joint_pos", 1400)
ppo_panda_ik_rel = partial(reach_ppo_cfg, "ik_rel", 1400)
# Torque actions learn slower: 11.0 mm / 0.084 rad at iteration 999, 8.4 mm / 0.053 rad at 1499, 7.6 mm /
# 0.046 rad at 1599 (one run, 2-core CPU, 512 worlds, eval over 1024 episodes, 2026-12-07).
ppo_effort = partial(reach_ppo_cfg, "effort", 1500)
ppo_lstm_joint_pos = partial(reach_ppo_cfg, "joint_pos", recurrent=True)

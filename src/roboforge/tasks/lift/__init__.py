"""Lift a cube, rigid or soft, with the Franka Panda."""

from roboforge.envs.registry import agent_files, register_task

register_task(
    "lift-cube-panda",
    entry_point="roboforge.envs.manager_based_rl_env:ManagerBasedRLEnv",
    env_cfg_entry_point="roboforge.tasks.lift.lift_env_cfg:lift_env_cfg",
    rsl_rl_cfg_entry_point="roboforge.tasks.lift.agents.rsl_rl_ppo_cfg:lift_ppo_cfg",
    agents=agent_files("roboforge.tasks.lift.agents", sb3=False),
    cpu_num_envs=256,
    description="Panda grasps a cube and carries it to a commanded position (success: within 5 cm).",
)

register_task(
    "lift-soft-cube-panda",
    entry_point="roboforge.envs.manager_based_rl_env:ManagerBasedRLEnv",
    env_cfg_entry_point="roboforge.tasks.lift.soft_lift_env_cfg:soft_lift_env_cfg",
    rsl_rl_cfg_entry_point="roboforge.tasks.lift.agents.rsl_rl_ppo_cfg:soft_lift_ppo_cfg",
    agents=agent_files("roboforge.tasks.lift.agents", sb3=False),
    cpu_num_envs=64,
    description="Panda grasps a soft cube (MuJoCo flex) and carries it to a commanded position "
    "(success: within 5 cm).",
)

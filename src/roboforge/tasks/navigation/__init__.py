"""Navigation: a point robot reaches a goal 2-5 m away in a walled 8 m x 8 m arena among 8 random cylinders;
a Go1 reaches planar goals through a frozen velocity policy (navigation on legs)."""

from roboforge.envs.registry import agent_files, register_task

register_task(
    "navigation-point",
    entry_point="roboforge.envs.manager_based_rl_env:ManagerBasedRLEnv",
    env_cfg_entry_point="roboforge.tasks.navigation.navigation_env_cfg:navigation_env_cfg",
    rsl_rl_cfg_entry_point="roboforge.tasks.navigation.agents.rsl_rl_ppo_cfg:navigation_ppo_cfg",
    agents=agent_files("roboforge.tasks.navigation.agents"),
    cpu_num_envs=256,
    description="Disc robot (body-frame velocity commands, 32-ray lidar) reaches a goal 2-5 m away among 8 "
    "random cylinders; success: within 0.2 m without touching (Metrics/goal/success).",
)
register_task(
    "navigation-go1",
    entry_point="roboforge.envs.manager_based_rl_env:ManagerBasedRLEnv",
    env_cfg_entry_point="roboforge.tasks.navigation.navigation_go1_env_cfg:navigation_go1_env_cfg",
    rsl_rl_cfg_entry_point="roboforge.tasks.navigation.agents.rsl_rl_go1_ppo_cfg:navigation_go1_ppo_cfg",
    agents=agent_files("roboforge.tasks.navigation.agents", "go1", sb3=False),
    cpu_num_envs=64,
    description="Go1 reaches planar goals up to 3 m away by sending velocity commands every 0.2 s to a frozen "
    "velocity-flat-go1 policy (env.actions.velocity_command.policy_path); success: within 0.5 m at the end "
    "(Metrics/pose_command/success).",
)

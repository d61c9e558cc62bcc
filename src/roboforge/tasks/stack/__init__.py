"""Stack a cube on another cube with the Franka Panda."""

from roboforge.envs.registry import agent_files, register_task

register_task(
    "stack-cube-panda",
    entry_point="roboforge.envs.manager_based_rl_env:ManagerBasedRLEnv",
    env_cfg_entry_point="roboforge.tasks.stack.stack_env_cfg:stack_env_cfg",
    rsl_rl_cfg_entry_point="roboforge.tasks.stack.agents.rsl_rl_ppo_cfg:stack_ppo_cfg",
    agents=agent_files("roboforge.tasks.stack.agents", sb3=False),
    cpu_num_envs=256,
    description="Panda picks a 5 cm cube and sets it on a 6 cm cube (success: resting on top, within 2 cm / 1 cm).",
)

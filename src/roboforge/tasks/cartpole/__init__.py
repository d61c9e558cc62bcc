"""Cart-pole balance: manager-based ('cartpole') and direct ('cartpole-direct')."""

from roboforge.envs.registry import register_task

register_task(
    "cartpole",
    entry_point="roboforge.envs.manager_based_rl_env:ManagerBasedRLEnv",
    env_cfg_entry_point="roboforge.tasks.cartpole.cartpole_env_cfg:cartpole_env_cfg",
    rsl_rl_cfg_entry_point="roboforge.tasks.cartpole.agents:cartpole_ppo_cfg",
    description="Balance a pole on a cart by pushing the cart (manager-based env).",
)
register_task(
    "cartpole-direct",
    entry_point="roboforge.tasks.cartpole.cartpole_direct:CartpoleDirectEnv",
    env_cfg_entry_point="roboforge.tasks.cartpole.cartpole_direct:cartpole_direct_env_cfg",
    rsl_rl_cfg_entry_point="roboforge.tasks.cartpole.agents:cartpole_ppo_cfg",
    description="Balance a pole on a cart, written as a direct env.",
)

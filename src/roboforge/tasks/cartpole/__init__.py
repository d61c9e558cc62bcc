"""Cart-pole balance: manager-based ('cartpole', 'cartpole-lstm'), direct ('cartpole-direct') and from camera
images ('cartpole-rgb', 'cartpole-depth')."""

from roboforge.agents.rsl_rl_cfg import RslRlPpoRunnerCfg
from roboforge.envs.registry import agent_files, register_task

_AGENTS = agent_files("roboforge.tasks.cartpole.agents", sac=True)


def cartpole_lstm_ppo_cfg() -> RslRlPpoRunnerCfg:
    """The cart-pole PPO settings with LSTM actor and critic (exercises recurrent training and export)."""
    from roboforge.tasks.cartpole.agents.rsl_rl_ppo_cfg import cartpole_ppo_cfg

    return cartpole_ppo_cfg(recurrent=True)


register_task(
    "cartpole",
    entry_point="roboforge.envs.manager_based_rl_env:ManagerBasedRLEnv",
    env_cfg_entry_point="roboforge.tasks.cartpole.cartpole_env_cfg:cartpole_env_cfg",
    rsl_rl_cfg_entry_point="roboforge.tasks.cartpole.agents.rsl_rl_ppo_cfg:cartpole_ppo_cfg",
    agents=_AGENTS,
    description="Balance a pole on a cart by pushing the cart (manager-based env).",
)
register_task(
    "cartpole-lstm",
    entry_point="roboforge.envs.manager_based_rl_env:ManagerBasedRLEnv",
    env_cfg_entry_point="roboforge.tasks.cartpole.cartpole_env_cfg:cartpole_env_cfg",
    rsl_rl_cfg_entry_point="roboforge.tasks.cartpole:cartpole_lstm_ppo_cfg",
    description="The 'cartpole' task with a recurrent (LSTM) actor and critic.",
)
register_task(
    "cartpole-direct",
    entry_point="roboforge.tasks.cartpole.cartpole_direct:CartpoleDirectEnv",
    env_cfg_entry_point="roboforge.tasks.cartpole.cartpole_direct:cartpole_direct_env_cfg",
    rsl_rl_cfg_entry_point="roboforge.tasks.cartpole.agents.rsl_rl_ppo_cfg:cartpole_ppo_cfg",
    agents=_AGENTS,
    description="Balance a pole on a cart, written as a direct env.",
)
_AGENT = {"rgb": "cartpole_camera_ppo_cfg", "depth": "cartpole_depth_ppo_cfg"}
for _kind, _what in (("rgb", "colour"), ("depth", "depth")):
    register_task(
        f"cartpole-{_kind}",
        entry_point="roboforge.envs.manager_based_rl_env:ManagerBasedRLEnv",
        env_cfg_entry_point=f"roboforge.tasks.cartpole.cartpole_camera_env_cfg:cartpole_{_kind}_env_cfg",
        rsl_rl_cfg_entry_point=f"roboforge.tasks.cartpole.agents.rsl_rl_camera_ppo_cfg:{_AGENT[_kind]}",
        description=f"Balance the cart-pole from 64x64 {_what} images of a fixed camera alone (rsl_rl, CNN).",
        cpu_num_envs=64,
    )

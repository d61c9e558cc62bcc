"""Classic locomotion (Isaac Lab's classic tasks): the built-in Ant and Humanoid run towards a target far
along +x; direct envs 'ant' and 'humanoid' and their manager-based twins 'ant-manager', 'humanoid-manager'."""

from roboforge.envs.registry import agent_files, register_task

_AGENTS = "roboforge.tasks.classic.agents"
_DIRECT = "roboforge.tasks.classic.direct_env:ClassicLocomotionEnv"
_METRICS = "Metrics/target/forward_speed, Metrics/target/fall_free"

register_task(
    "ant",
    entry_point=_DIRECT,
    env_cfg_entry_point="roboforge.tasks.classic.ant:ant_env_cfg",
    rsl_rl_cfg_entry_point="roboforge.tasks.classic.agents.rsl_rl_ppo_cfg:ant_ppo_cfg",
    agents=agent_files(_AGENTS, "ant"),
    cpu_num_envs=256,
    description=f"Four-legged Ant runs along +x without falling, direct env ({_METRICS}).",
)
register_task(
    "ant-manager",
    entry_point="roboforge.envs.manager_based_rl_env:ManagerBasedRLEnv",
    env_cfg_entry_point="roboforge.tasks.classic.manager_env:ant_manager_env_cfg",
    rsl_rl_cfg_entry_point="roboforge.tasks.classic.agents.rsl_rl_ppo_cfg:ant_ppo_cfg",
    agents=agent_files(_AGENTS, "ant"),
    cpu_num_envs=256,
    description="The 'ant' task as a manager-based env.",
)
register_task(
    "humanoid",
    entry_point=_DIRECT,
    env_cfg_entry_point="roboforge.tasks.classic.humanoid:humanoid_env_cfg",
    rsl_rl_cfg_entry_point="roboforge.tasks.classic.agents.rsl_rl_ppo_cfg:humanoid_ppo_cfg",
    agents=agent_files(_AGENTS, "humanoid", sb3=False),
    cpu_num_envs=256,
    description=f"21-DOF classic Humanoid runs along +x without falling, direct env ({_METRICS}).",
)
register_task(
    "humanoid-manager",
    entry_point="roboforge.envs.manager_based_rl_env:ManagerBasedRLEnv",
    env_cfg_entry_point="roboforge.tasks.classic.manager_env:humanoid_manager_env_cfg",
    rsl_rl_cfg_entry_point="roboforge.tasks.classic.agents.rsl_rl_ppo_cfg:humanoid_ppo_cfg",
    agents=agent_files(_AGENTS, "humanoid", sb3=False),
    cpu_num_envs=256,
    description="The 'humanoid' task as a manager-based env.",
)

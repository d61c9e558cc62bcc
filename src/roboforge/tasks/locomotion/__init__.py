"""Legged locomotion: Go1, G1 and H1 follow base velocity commands on flat and rough terrain."""

from roboforge.envs.registry import agent_files, register_task

_TASKS = {
    "velocity-flat-go1": ("ppo_flat_go1", "Unitree Go1 quadruped tracks velocity commands on flat ground."),
    "velocity-rough-go1": ("ppo_rough_go1", "Go1 on generated rough terrain with a terrain curriculum."),
    "velocity-flat-g1": ("ppo_flat_humanoid", "Unitree G1 humanoid tracks velocity commands on flat ground."),
    "velocity-rough-g1": ("ppo_rough_humanoid", "G1 on generated rough terrain with a terrain curriculum."),
    "velocity-flat-h1": ("ppo_flat_humanoid", "Unitree H1 humanoid tracks velocity commands on flat ground."),
}


def _variant(task: str) -> str:
    """The agent files of a velocity task: `go1_flat`, `humanoid_rough` ..."""
    _, terrain, robot = task.split("-")
    return f"{'go1' if robot == 'go1' else 'humanoid'}_{terrain}"


for _task, (_agent, _description) in _TASKS.items():
    register_task(
        _task,
        entry_point="roboforge.envs.manager_based_rl_env:ManagerBasedRLEnv",
        env_cfg_entry_point=f"roboforge.tasks.locomotion.tasks:{_task.replace('-', '_')}",
        rsl_rl_cfg_entry_point=f"roboforge.tasks.locomotion.tasks:{_agent}",
        agents=agent_files("roboforge.tasks.locomotion.agents", _variant(_task), sb3=False),
        description=_description,
        cpu_num_envs=256,
    )

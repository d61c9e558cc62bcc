"""Arm reach: UR5e, UR10e, Franka Panda, Kinova Gen3, xArm 6 and LBR iiwa 14 tracking an end-effector pose."""

from roboforge.envs.registry import agent_files, register_task

_MODES = {
    "": "joint position targets",
    "-joint-vel": "joint velocity targets",
    "-effort": "joint torques",
    "-ik-rel": "relative differential IK",
    "-ik-abs": "absolute differential IK",
    "-osc": "operational-space control",
}
_CONTROL = {
    "": "joint_pos",
    "-joint-vel": "joint_vel",
    "-effort": "effort",
    "-ik-rel": "ik_rel",
    "-ik-abs": "ik_abs",
    "-osc": "osc",
}
_TASKS = [("ur5e", m) for m in _MODES] + [("ur10e", ""), ("panda", ""), ("panda", "-ik-rel")]

for _robot, _mode in _TASKS:
    register_task(
        f"reach-{_robot}{_mode}",
        entry_point="roboforge.envs.manager_based_rl_env:ManagerBasedRLEnv",
        env_cfg_entry_point=f"roboforge.tasks.reach.tasks:reach_{_robot}{_mode.replace('-', '_')}",
        rsl_rl_cfg_entry_point="roboforge.tasks.reach.tasks:ppo_"
        + ("panda_" if _robot == "panda" else "")
        + _CONTROL[_mode],
        agents=agent_files("roboforge.tasks.reach.agents", sac=True),
        description=f"{_robot.upper() if _robot.startswith('ur') else 'Panda'} end effector to a commanded pose, "
        f"{_MODES[_mode]}.",
        cpu_num_envs=512,
    )

# The built-in arms of the seeds' asset list, joint position targets, the reach agents (1000 iterations).
_ARMS = {
    "kinova-gen3": "Kinova Gen3 (7 joints)",
    "xarm6": "UFACTORY xArm 6",
    "iiwa14": "KUKA LBR iiwa 14 R820",
}
for _robot, _name in _ARMS.items():
    register_task(
        f"reach-{_robot}",
        entry_point="roboforge.envs.manager_based_rl_env:ManagerBasedRLEnv",
        env_cfg_entry_point=f"roboforge.tasks.reach.tasks:reach_{_robot.replace('-', '_')}",
        rsl_rl_cfg_entry_point="roboforge.tasks.reach.tasks:ppo_joint_pos",
        agents=agent_files("roboforge.tasks.reach.agents", sac=True),
        description=f"{_name} end effector to a commanded pose, joint position targets.",
        cpu_num_envs=512,
    )

register_task(
    "reach-ur5e-lstm",
    entry_point="roboforge.envs.manager_based_rl_env:ManagerBasedRLEnv",
    env_cfg_entry_point="roboforge.tasks.reach.tasks:reach_ur5e",
    rsl_rl_cfg_entry_point="roboforge.tasks.reach.tasks:ppo_lstm_joint_pos",
    description="The 'reach-ur5e' task with a recurrent (LSTM) actor and critic.",
    cpu_num_envs=512,
)

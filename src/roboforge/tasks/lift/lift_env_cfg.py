"""Lift: the Panda grasps a cube from the ground and carries it to a commanded position."""

from __future__ import annotations

from roboforge import mdp
from roboforge.assets import BuiltinSpawnCfg, InitialStateCfg, RigidObjectCfg
from roboforge.assets.builtin.objects import cube_spec
from roboforge.assets.robots.franka import PANDA_ARM_JOINTS, panda_cfg
from roboforge.envs.env_cfg import ManagerBasedRLEnvCfg
from roboforge.managers import (
    ActionTermCfg,
    CurriculumTermCfg,
    EventTermCfg,
    ObservationGroupCfg,
    ObservationTermCfg,
    RewardTermCfg,
    TerminationTermCfg,
)
from roboforge.mdp import manipulation
from roboforge.scene import SceneCfg
from roboforge.sim import SimCfg

COMMAND = "object_pose"
LIFT_HEIGHT = 0.04  # m above the ground: the cube (5 cm) counts as lifted
FINGERS_OPEN = 0.04  # m: each Panda finger joint fully open (8 cm between the fingers)


def gripper_action() -> mdp.BinaryJointPositionActionCfg:
    """Panda fingers: 4 cm open, closed on a negative action."""
    return mdp.BinaryJointPositionActionCfg(
        joint_names=["finger_joint.*"],
        open_command_expr={"finger_joint.*": FINGERS_OPEN},
        close_command_expr={"finger_joint.*": 0.0},
    )


def panda_actions(
    arm_action: ActionTermCfg | None, gripper: ActionTermCfg | None = None
) -> dict[str, ActionTermCfg]:
    """Arm joint-position targets (or `arm_action`) and the binary gripper (or `gripper`)."""
    return {
        "arm": arm_action or mdp.JointPositionActionCfg(joint_names=PANDA_ARM_JOINTS, scale=0.5),
        "gripper": gripper or gripper_action(),
    }


def panda_sim_cfg() -> SimCfg:
    """200 Hz physics with contact room for the worst case: the arm pressed into the ground makes ~110
    contacts and ~440 constraint rows in one world (C MuJoCo, measured); MuJoCo Warp drops what does not
    fit in its per-world buffers, and dropped rows let bodies interpenetrate and launch the cube."""
    return SimCfg(timestep=0.005, nconmax=256, njmax=1024)


def motion_penalties() -> dict[str, RewardTermCfg]:
    """Small penalties on action changes and arm joint speeds."""
    return {
        "action_rate": RewardTermCfg(func=mdp.action_rate_l2, weight=-1.0e-4),
        "joint_vel": RewardTermCfg(
            func=mdp.joint_vel_l2, weight=-1.0e-4, params={"joint_names": PANDA_ARM_JOINTS}
        ),
    }


def motion_penalty_curriculum(num_steps: int = 10_000) -> dict[str, CurriculumTermCfg]:
    """Raise the motion penalties to -0.1 after `num_steps` env steps (~420 PPO iterations of 24 steps):
    once the task is found, jerky large actions stop paying, which keeps the actor's outputs bounded."""
    return mdp.reward_weights_after(num_steps, {"action_rate": -0.1, "joint_vel": -0.1})


def object_dropping(asset_name: str) -> TerminationTermCfg:
    """End the episode when the object falls off the table (below the ground)."""
    return TerminationTermCfg(
        func=mdp.root_height_below, params={"minimum_height": -0.05, "asset_name": asset_name}
    )


def object_out_of_reach(asset_name: str) -> TerminationTermCfg:
    """End the episode when the object is beyond the arm's reach (Panda: 0.855 m) with margin."""
    return TerminationTermCfg(
        func=manipulation.object_out_of_reach, params={"max_distance": 1.2, "object_name": asset_name}
    )


MAX_MANIPULATION_SPEED = 200.0
"""|qvel| (rad/s, m/s) above which a manipulation world counts as exploded and is reset: the arm's limits
are ~2.6 rad/s; a cube flung by an arm flailing at 3x the initial action noise spins at up to ~50 rad/s
(measured), so only a physics blow-up gets past 200."""


def lift_env_cfg(
    num_envs: int = 4096, play: bool = False, arm_action: ActionTermCfg | None = None
) -> ManagerBasedRLEnvCfg:
    """Lift task; `arm_action` replaces the default joint-position arm action (e.g. IK for scripted tests)."""
    cube = RigidObjectCfg(
        spawn=BuiltinSpawnCfg(builder=cube_spec), init_state=InitialStateCfg(pos=(0.5, 0.0, 0.025))
    )
    return ManagerBasedRLEnvCfg(
        scene=SceneCfg(
            num_envs=32 if play else num_envs, entities={"robot": panda_cfg("position"), "cube": cube}
        ),
        sim=panda_sim_cfg(),
        decimation=4,
        episode_length_s=5.0,
        max_joint_vel=MAX_MANIPULATION_SPEED,
        actions=panda_actions(arm_action),
        commands={
            COMMAND: mdp.ObjectGoalCommandCfg(
                body_name="tcp",
                ranges=mdp.PoseRanges(pos_x=(0.4, 0.6), pos_y=(-0.25, 0.25), pos_z=(0.25, 0.5)),
                resampling_time_range=(5.0, 5.0),
                metric_window_s=1.0,
            )
        },
        observations={
            "policy": ObservationGroupCfg(
                terms={
                    "joint_pos": ObservationTermCfg(func=mdp.joint_pos_rel),
                    "joint_vel": ObservationTermCfg(func=mdp.joint_vel_rel),
                    "object_position": ObservationTermCfg(func=manipulation.object_position_b),
                    "target_object_position": ObservationTermCfg(
                        func=mdp.generated_commands, params={"command_name": COMMAND}
                    ),
                    "actions": ObservationTermCfg(func=mdp.last_action),
                }
            )
        },
        events={
            "reset_cube": EventTermCfg(
                func=mdp.reset_root_state_uniform,
                mode="reset",
                params={"asset_name": "cube", "pose_range": {"x": (-0.1, 0.1), "y": (-0.25, 0.25)}},
            )
        },
        rewards=lift_rewards(),
        curriculum=motion_penalty_curriculum(),
        terminations={
            "time_out": TerminationTermCfg(func=mdp.time_out, time_out=True),
            "object_dropping": object_dropping("cube"),
            "object_out_of_reach": object_out_of_reach("cube"),
        },
    )


def lift_rewards() -> dict[str, RewardTermCfg]:
    """Reach the cube, lift it (only while the tcp is at it), carry it to the goal (coarse and fine), move calmly."""
    lifted = {"minimal_height": LIFT_HEIGHT}
    return {
        "reaching_object": RewardTermCfg(
            func=manipulation.object_ee_distance_tanh, weight=1.0, params={"std": 0.1, "ee_frame": "tcp"}
        ),
        "lifting_object": RewardTermCfg(
            func=manipulation.object_is_lifted, weight=15.0, params={**lifted, "ee_frame": "tcp"}
        ),
        "object_goal_tracking": RewardTermCfg(
            func=manipulation.object_goal_distance_tanh,
            weight=16.0,
            params={"std": 0.3, "command_name": COMMAND, **lifted},
        ),
        "object_goal_tracking_fine": RewardTermCfg(
            func=manipulation.object_goal_distance_tanh,
            weight=5.0,
            params={"std": 0.05, "command_name": COMMAND, **lifted},
        ),
        **motion_penalties(),
    }

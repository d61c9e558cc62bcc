"""Navigation on legs (Isaac Lab's `Isaac-Navigation-Flat-Anymal-C` pattern, here with a Go1): a frozen
`velocity-flat-go1` policy walks; the policy trained here sends it a velocity command `(vx, vy, wz)` every 10 of
its steps (every 0.2 s) to reach a planar goal (position up to 3 m away in x and y, and a heading) within 8 s.
Success: within 0.5 m of the goal at the episode's end (`Metrics/pose_command/success`)."""

from __future__ import annotations

from pathlib import Path

from roboforge import mdp
from roboforge.envs.env_cfg import ManagerBasedRLEnvCfg
from roboforge.managers import (
    EventTermCfg,
    ObservationGroupCfg,
    ObservationTermCfg,
    RewardTermCfg,
    TerminationTermCfg,
)
from roboforge.mdp import locomotion
from roboforge.mdp.actions.pre_trained_policy_action import PreTrainedPolicyActionCfg
from roboforge.mdp.commands.pose2d_goal_command import Pose2dGoalCommandCfg
from roboforge.mdp.pose2d_rewards import pose2d_heading_error_abs, pose2d_position_error_tanh
from roboforge.tasks.locomotion.robots import GO1
from roboforge.tasks.locomotion.velocity_env_cfg import velocity_env_cfg

COMMAND = "pose_command"
ACTION = "velocity_command"
HIGH_LEVEL_PERIOD = 10  # low-level policy steps per high-level step
EPISODE_S = 8.0
GOAL_RANGE = 3.0  # m, in x and y around the start
DEFAULT_POLICY = Path(__file__).parent / "policies" / "go1_velocity_flat.onnx"
"""The low-level policy used when none is given: `velocity-flat-go1` trained by roboforge with skrl's PPO and the
task's default agent file (500 iterations, 4096 worlds, one H200, 2026-12-01; eval over 1024 episodes: 0.072 m/s
velocity error, 97.2% not fallen), exported by `roboforge export` (its metadata is inside the file)."""


def navigation_go1_env_cfg(
    num_envs: int = 4096, play: bool = False, policy_path: str | None = str(DEFAULT_POLICY)
) -> ManagerBasedRLEnvCfg:
    """Go1 reaches planar goals through a frozen velocity policy loaded from `policy_path`."""
    low = velocity_env_cfg(GO1, rough=False, num_envs=num_envs, play=play)
    low_obs = low.observations["policy"]
    low_obs.enable_corruption = False  # the frozen policy reads clean proprioception
    cmd = {"command_name": COMMAND}
    return ManagerBasedRLEnvCfg(
        scene=low.scene,
        sim=low.sim,
        decimation=low.decimation * HIGH_LEVEL_PERIOD,
        episode_length_s=EPISODE_S,
        actions={
            ACTION: PreTrainedPolicyActionCfg(
                policy_path=policy_path,
                low_level_decimation=low.decimation,
                low_level_action=low.actions["joint_pos"],
                low_level_observations=low_obs,
                command_ranges=(GO1.lin_vel_x, GO1.lin_vel_y, GO1.ang_vel_z),
            )
        },
        commands={
            COMMAND: Pose2dGoalCommandCfg(
                ranges=mdp.Pose2dRanges(pos_x=(-GOAL_RANGE, GOAL_RANGE), pos_y=(-GOAL_RANGE, GOAL_RANGE)),
                resampling_time_range=(EPISODE_S, EPISODE_S),
                success_radius=0.5,
            )
        },
        observations={"policy": _observations()},
        events=_events(low.events),
        rewards={
            "termination_penalty": RewardTermCfg(func=mdp.is_terminated, weight=-400.0),
            "position_tracking": RewardTermCfg(
                func=pose2d_position_error_tanh, weight=0.5, params={"std": 2.0, **cmd}
            ),
            "position_tracking_fine": RewardTermCfg(
                func=pose2d_position_error_tanh, weight=0.5, params={"std": 0.2, **cmd}
            ),
            "heading_tracking": RewardTermCfg(func=pose2d_heading_error_abs, weight=-0.2, params=cmd),
        },
        terminations={
            "time_out": TerminationTermCfg(func=mdp.time_out, time_out=True),
            "base_contact": low.terminations["base_contact"],
            "bad_orientation": TerminationTermCfg(
                func=locomotion.bad_orientation, params={"limit_angle": 1.0}
            ),
        },
    )


def _observations() -> ObservationGroupCfg:
    """Base velocity, gravity direction and the goal in the body frame (Isaac Lab's navigation policy group)."""
    return ObservationGroupCfg(
        terms={
            "base_lin_vel": ObservationTermCfg(func=mdp.base_lin_vel_b),
            "projected_gravity": ObservationTermCfg(func=mdp.projected_gravity_b),
            "pose_command": ObservationTermCfg(func=mdp.generated_commands, params={"command_name": COMMAND}),
        }
    )


def _events(velocity_events: dict[str, EventTermCfg]) -> dict[str, EventTermCfg]:
    """The velocity task's startup randomization and resets (robot at rest, heading anywhere); no pushes."""
    events = {k: v for k, v in velocity_events.items() if v.mode in ("startup", "reset")}
    events["reset_base"].params["velocity_range"] = {}
    return events

"""Stack: the Panda picks cube A from the ground and sets it down on cube B."""

from __future__ import annotations

import mujoco

from roboforge import mdp
from roboforge.assets import BuiltinSpawnCfg, InitialStateCfg, RigidObjectCfg
from roboforge.assets.builtin.objects import cube_spec
from roboforge.assets.robots.franka import panda_cfg
from roboforge.envs.env_cfg import ManagerBasedRLEnvCfg
from roboforge.managers import (
    ActionTermCfg,
    CurriculumTermCfg,
    EventTermCfg,
    ObservationGroupCfg,
    ObservationTermCfg,
    TerminationTermCfg,
)
from roboforge.mdp import manipulation
from roboforge.scene import SceneCfg
from roboforge.sensors import ContactSensorCfg
from roboforge.tasks.lift.lift_env_cfg import (
    FINGERS_OPEN,
    MAX_MANIPULATION_SPEED,
    motion_penalty_curriculum,
    object_dropping,
    object_out_of_reach,
    panda_actions,
    panda_sim_cfg,
)
from roboforge.tasks.stack.stack_terms import (
    COMMAND,
    CUBE_A_HALF,
    CUBE_B_HALF,
    PALM_CONTACT,
    STACK_XY_TOL,
    STACK_Z_TOL,
    stack_rewards,
)


def cube_a_spec() -> mujoco.MjSpec:
    """Cube A: 5 cm, 100 g, red."""
    return cube_spec(half_size=CUBE_A_HALF, mass=0.1)


def cube_b_spec() -> mujoco.MjSpec:
    """Cube B: 6 cm, 200 g (harder to push away), blue."""
    return cube_spec(half_size=CUBE_B_HALF, mass=0.2, rgba=(0.2, 0.4, 0.85, 1.0))


STACK_OPEN_TIME_S = 0.1  # s: the speed gripper's full stroke at action +1


def stack_gripper_action(open_time_s: float = STACK_OPEN_TIME_S) -> mdp.GradedJointPositionActionCfg:
    """Panda fingers as a speed gripper: the action moves the opening (0 closed .. 1 open, open at a reset) by
    `action * step_dt / open_time_s` per step, so -1 closes them and +1 opens them in `open_time_s`.
    `open_time_s=0` (`-o env.actions.gripper.open_time_s=0`) is the binary gripper of the earlier results:
    closed on a negative action, open on the others.

    Why a speed gripper: with the binary one, a policy that held A still on B (iteration 2294, 2026-12-06, H100;
    a forced opening kept A there in 1023 of 1024 worlds) never opened it: its stacked action sat 4.4 noise
    standard deviations below an opening, and a sampled one-step opening moved the fingers only part way before
    they closed again, so it earned little and was not learnt. With the speed gripper the noise explores small,
    reversible loosenings whose release reward grows with the opening. Trained from scratch with it (H100,
    4096 worlds): placed 99.9% by iteration 650 (binary: 86% at 700, 97% at 1000), and once the arm held
    still the fingers loosened: at iteration 1505 they stood ~5 mm clear of a resting A, 0.32 of the way from
    holding it to open (`Metrics/stack/released` counts past 0.5; docs/stack-release.md)."""
    return mdp.GradedJointPositionActionCfg(
        joint_names=["finger_joint.*"],
        open_command_expr={"finger_joint.*": FINGERS_OPEN},
        close_command_expr={"finger_joint.*": 0.0},
        closed_at=0.0,
        open_at=0.0,
        open_time_s=open_time_s,
    )


def stack_curriculum() -> dict[str, CurriculumTermCfg]:
    """The lift's motion penalties (-0.1 after 10,000 steps), then the action-rate penalty at -1 from 24,000 steps
    (iteration 1000 of 24 steps), once A is placed.

    At -0.1 the policy of 2026-12-06 held A over B with its arm in a period-2 chatter (mean |a(t)-a(t-1)| 0.48,
    A vibrating at 101-181 mm/s) and a forced opening lost A in 38 of 61 worlds. Resumed from iteration 1460 at -1
    (H100, 4096 worlds, 835 iterations): the chatter measure fell to 0.008, A's median speed while stacked to
    0.2 mm/s, forced openings kept A on B in 1023 of 1024 worlds, and placing stayed at 99.8% (eval of 2294).
    From scratch with the speed gripper and the step at 24,000 (was 35,000): placing was 99.8% at iteration
    1000, the chatter measure 0.005 and A at 0.002 mm/s (median) at 1505, where the fingers had loosened."""
    curriculum = motion_penalty_curriculum()
    curriculum["action_rate"].params |= {"later_weight": -1.0, "later_steps": 24_000}
    return curriculum


def stack_env_cfg(
    num_envs: int = 4096, play: bool = False, arm_action: ActionTermCfg | None = None
) -> ManagerBasedRLEnvCfg:
    """Stack task; `arm_action` replaces the default joint-position arm action (e.g. IK for scripted tests)."""
    return ManagerBasedRLEnvCfg(
        scene=stack_scene(32 if play else num_envs),
        sim=panda_sim_cfg(),
        decimation=4,
        episode_length_s=8.0,
        max_joint_vel=MAX_MANIPULATION_SPEED,
        actions=panda_actions(arm_action, stack_gripper_action()),
        commands={
            COMMAND: mdp.ObjectStackCommandCfg(
                stack_height=CUBE_A_HALF + CUBE_B_HALF,
                xy_threshold=STACK_XY_TOL,
                z_threshold=STACK_Z_TOL,
                finger_joint_names=("finger_joint.*",),
                holding_joint_pos=CUBE_A_HALF,
                open_joint_pos=FINGERS_OPEN,
                metric_window_s=1.0,
            )
        },
        observations={"policy": stack_observations()},
        events=stack_resets(),
        rewards=stack_rewards(),
        curriculum=stack_curriculum(),
        terminations={
            "time_out": TerminationTermCfg(func=mdp.time_out, time_out=True),
            "cube_a_dropping": object_dropping("cube_a"),
            "cube_b_dropping": object_dropping("cube_b"),
            "cube_a_out_of_reach": object_out_of_reach("cube_a"),
            "cube_b_out_of_reach": object_out_of_reach("cube_b"),
        },
    )


def stack_scene(num_envs: int) -> SceneCfg:
    """The Panda, cube B where A is to go and cube A beside it, and a contact sensor of the palm on A."""
    cube_a = RigidObjectCfg(
        spawn=BuiltinSpawnCfg(builder=cube_a_spec),
        init_state=InitialStateCfg(pos=(0.5, 0.16, CUBE_A_HALF)),
    )
    cube_b = RigidObjectCfg(
        spawn=BuiltinSpawnCfg(builder=cube_b_spec),
        init_state=InitialStateCfg(pos=(0.5, 0.0, CUBE_B_HALF)),
    )
    return SceneCfg(
        num_envs=num_envs,
        entities={"robot": panda_cfg("position"), "cube_a": cube_a, "cube_b": cube_b},
        sensors={
            PALM_CONTACT: ContactSensorCfg(
                body_names=["hand"], other_geom="cube_a/cube", track_air_time=False
            )
        },
    )


def stack_observations() -> ObservationGroupCfg:
    """Joint state, the tcp, cube A and the stack position in the robot's root frame, the last action."""
    return ObservationGroupCfg(
        terms={
            "joint_pos": ObservationTermCfg(func=mdp.joint_pos_rel),
            "joint_vel": ObservationTermCfg(func=mdp.joint_vel_rel),
            "tcp_position": ObservationTermCfg(func=mdp.ee_pos_b, params={"body_name": "tcp"}),
            "cube_a_position": ObservationTermCfg(
                func=manipulation.object_position_b, params={"object_name": "cube_a"}
            ),
            "stack_position": ObservationTermCfg(
                func=mdp.generated_commands, params={"command_name": COMMAND}
            ),
            "actions": ObservationTermCfg(func=mdp.last_action),
        }
    )


def stack_resets() -> dict[str, EventTermCfg]:
    """In order: B somewhere in front of the robot, then A beside it."""
    return {
        "reset_cube_b": EventTermCfg(
            func=mdp.reset_root_state_uniform,
            mode="reset",
            params={"asset_name": "cube_b", "pose_range": {"x": (-0.08, 0.08), "y": (-0.12, 0.12)}},
        ),
        "reset_cube_a": EventTermCfg(
            func=manipulation.reset_object_beside,
            mode="reset",
            params={
                "asset_name": "cube_a",
                "anchor_name": "cube_b",
                "offset_x": (-0.08, 0.08),
                "offset_y": (0.12, 0.2),
            },
        ),
    }

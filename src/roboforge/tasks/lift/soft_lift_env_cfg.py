"""Lift a soft cube: the Panda grasps a deformable cube (MuJoCo flex) and carries it to a commanded position.

The lift task (lift_env_cfg.py) with its rigid cube replaced by a `DeformableObjectCfg` of the same size
and mass. Every term reads the object through `root_pos_w`, which for a deformable object is its centre
of mass, and the reset event places the undeformed cube through `write_root_state`, so the lift terms
apply unchanged. The shape (nodes relative to the centre of mass) is added to the policy's observations.
Runs on both backends; `randomize_stiffness` draws Young's modulus and damping per world at every reset,
which only the C backend can (`--sim mujoco`; on MuJoCo Warp it is one error naming the reason).
"""

from __future__ import annotations

from roboforge.assets import InitialStateCfg
from roboforge.assets.deformable import DeformableObjectCfg
from roboforge.envs.env_cfg import ManagerBasedRLEnvCfg
from roboforge.managers import ActionTermCfg, EventTermCfg, ObservationTermCfg
from roboforge.mdp import deformable
from roboforge.tasks.lift.lift_env_cfg import lift_env_cfg

SOFT_CUBE_YOUNG = 1.0e5
"""Pa: foam. The Panda's closed fingers dent the 5 cm cube by ~5 mm. At 5e4 Pa the 8-node cube collapsed while
held (its volume from 125 to 30 cm^3, and it stayed so after release; C MuJoCo, scripted grasp, 2026-12-07);
at 7.5e4, 1e5 and 2e5 it kept 114-130 cm^3 and sprang back."""


def soft_cube_cfg(young: float = SOFT_CUBE_YOUNG) -> DeformableObjectCfg:
    """A 5 cm, 100 g soft cube resting on the ground in front of the Panda (the rigid lift cube's place).

    Two vertices per edge, every vertex a node (`dof="full"`): 8 nodes, and the coarse collision surface
    halves the contacts of a grasp. With three, the closed fingers' pads touched 59 flex elements
    (63 contacts, 253 constraint rows in one world, C MuJoCo); a step took 3.4x as long as with the arm
    in the air (31 vs 9 ms, 32 worlds), and on an H100 an iteration grew from 0.66 s to 4.2 s as the policy
    learnt to reach the cube (2026-12-05). With two: 26 contacts, 105 rows, 20 ms. The cube was trilinear
    until 2026-12-07, which MuJoCo Warp 4.0.0 could not lift: a scripted grasp squeezed it as C MuJoCo does,
    then it slipped out of the rising fingers (0.025 m high after the lift, against 0.16 m on C MuJoCo and
    0.15 m with `full` on either backend), so no GPU run could have learnt the task."""
    return DeformableObjectCfg(
        size=0.05,
        count=2,
        dof="full",
        mass=0.1,
        young=young,
        init_state=InitialStateCfg(pos=(0.5, 0.0, 0.025)),
    )


def soft_lift_env_cfg(
    num_envs: int = 4096,
    play: bool = False,
    arm_action: ActionTermCfg | None = None,
    randomize_stiffness: bool = False,
) -> ManagerBasedRLEnvCfg:
    """Lift a soft cube; `randomize_stiffness`: Young's modulus x U(0.75, 2) per world at reset (C backend)."""
    cfg = lift_env_cfg(num_envs=num_envs, play=play, arm_action=arm_action)
    cfg.scene.entities["cube"] = soft_cube_cfg()
    cfg.observations["policy"].terms["object_shape"] = ObservationTermCfg(
        func=deformable.node_pos_rel, params={"asset_name": "cube"}
    )
    if randomize_stiffness:
        cfg.events["cube_stiffness"] = EventTermCfg(
            func=deformable.randomize_deformable_stiffness,
            mode="reset",
            params={"asset_name": "cube", "young_scale": (0.75, 2.0), "damping_scale": (0.5, 2.0)},
        )
    return cfg

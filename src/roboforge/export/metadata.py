"""The metadata written beside and inside an exported policy: control rate, observation and action
layout, robot joints, gains and limits, scene MJCF, reset and termination rules, training run.

The dict follows `roboforge.deploy.metadata` (format version `FORMAT_VERSION`); the deploy runtime
parses it without importing training code.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import roboforge
from roboforge.envs.manager_based_rl_env import ManagerBasedRLEnv
from roboforge.export.images import camera_layout, image_groups
from roboforge.export.onnx_export import policy_io
from roboforge.managers.observation_manager import ObservationGroupCfg
from roboforge.managers.term import params_with_defaults, term_signature
from roboforge.mdp.actions.gripper_actions import BinaryJointPositionActionCfg, GradedJointPositionActionCfg
from roboforge.mdp.actions.joint_actions import (
    JointEffortActionCfg,
    JointPositionActionCfg,
    JointVelocityActionCfg,
)
from roboforge.mdp.actions.planar_actions import PlanarVelocityActionCfg
from roboforge.mdp.actions.pre_trained_policy_action import GROUP, PreTrainedPolicyActionCfg
from roboforge.mdp.actions.task_space_actions import DifferentialIKActionCfg, TaskSpaceActionCfg
from roboforge.rl.session import Session
from roboforge.utils.config import to_dict
from roboforge.utils.errors import UserInputError

FORMAT = "roboforge.policy"
FORMAT_VERSION = 1
LOW_LEVEL_FILE = "low_level_policy.onnx"
"""The frozen low-level policy of a `PreTrainedPolicyActionCfg` term, beside policy.onnx (`low_level.py`)."""
LOW_LEVEL_KEY = "roboforge.low_level"
"""Its ONNX metadata key: the task whose policy runs it (as `roboforge.deploy.metadata` reads it)."""
ACTION_TYPES = (
    (JointPositionActionCfg, "joint_position"),
    (JointVelocityActionCfg, "joint_velocity"),
    (JointEffortActionCfg, "joint_effort"),
)


def build_metadata(
    s: Session, policy_io: dict[str, Any], scene: dict[str, Any], training: dict[str, Any]
) -> dict:
    """The metadata dict of the policy trained on `s`'s task (`policy_io` from the exporter)."""
    env = s.env
    layout = layout_env(s)  # whose terms describe the policy: the env itself, a direct env's twin, or None
    robot_name = "robot" if layout is None else _controlled_asset(layout)
    actor = s.learner.policy()
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "roboforge_version": roboforge.__version__,
        "task": s.task,
        "control": {
            "physics_dt": float(env.physics_dt),
            "decimation": int(env.cfg.decimation),
            "step_dt": float(env.step_dt),
            "episode_length_s": float(env.cfg.episode_length_s),
            "max_episode_length": int(env.max_episode_length),
        },
        "policy": policy_io,
        "observations": None if layout is None else observation_layout(layout, actor),
        "cameras": [] if layout is None else camera_layout(layout, policy_io.get("images", [])),
        "actions": [] if layout is None else action_layout(layout),
        "robot": robot_layout(env.scene[robot_name]),
        "scene": scene,
        "events": [] if layout is None else term_layout(layout, layout.cfg.events, "event"),
        "terminations": [] if layout is None else term_layout(layout, layout.cfg.terminations, "termination"),
        "commands": {} if layout is None else command_sizes(layout),
        "command_terms": [] if layout is None else command_layout(layout),
        "training": training,
    }
    return json_safe(meta)


def layout_env(s: Session) -> ManagerBasedRLEnv | None:
    """The manager-based env whose terms describe `s`'s policy: the session's own env, a direct env's
    `deploy_twin` (built with one world on C MuJoCo; its observation sizes must equal the direct env's), or
    None for a direct env without a twin."""
    env = s.env
    if isinstance(env, ManagerBasedRLEnv):
        return env
    twin_task = env.cfg.deploy_twin
    if twin_task is None:
        return None
    from roboforge.envs.registry import load_cfg, make_env

    cfg = load_cfg(twin_task, num_envs=1)
    cfg.sim.backend, cfg.sim.device = "mujoco", "cpu"
    twin = make_env(twin_task, cfg)
    if not isinstance(twin, ManagerBasedRLEnv):
        raise UserInputError(f"{s.task}: its deploy_twin {twin_task!r} must be a manager-based task.")
    if dict(twin.obs_dims) != dict(env.obs_dims) or twin.num_actions != env.num_actions:
        raise UserInputError(
            f"{s.task}: its deploy_twin {twin_task!r} observes {dict(twin.obs_dims)} and acts with "
            f"{twin.num_actions} values, the task {dict(env.obs_dims)} and {env.num_actions}; they must match."
        )
    return twin


def _controlled_asset(env: Any) -> str:
    assets = {cfg.asset_name for cfg in env.cfg.actions.values()}
    if len(assets) != 1:
        raise UserInputError(
            f"The actions drive {sorted(assets)}; export supports policies that drive one articulation."
        )
    return assets.pop()


def observation_layout(env: ManagerBasedRLEnv, actor: Any) -> list[dict[str, Any]]:
    """The actor's observation terms in input order (its vector groups in the order it reads them, then its
    image groups); an image term's `shape` is one frame's `(C, H, W)` (None for vectors), its `dim` C."""
    om = env.observation_manager
    images = image_groups(actor)
    terms = []
    for group in [*actor.obs_groups, *images]:
        shape = list(om.group_shapes[group][1:]) if group in images else None
        terms += group_layout(env, om, group, om.groups[group], shape)
    return terms


def group_layout(
    env: Any, om: Any, group: str, gcfg: ObservationGroupCfg, image_shape: list[int] | None = None
) -> list[dict[str, Any]]:
    """The terms of `om`'s observation group `group` as configured in `gcfg` (its functions and parameters, the
    function's defaults filled in); `image_shape` `(H, W)` for an image group."""
    terms = []
    for name, tcfg in gcfg.terms.items():
        length = gcfg.history_length if gcfg.history_length is not None else tcfg.history_length
        params = params_with_defaults(tcfg.func, tcfg.params)
        dim = om.term_dims[group][name] // max(length, 1)
        terms.append(
            {
                "group": group,
                "name": name,
                "func": getattr(tcfg.func, "__name__", type(tcfg.func).__name__),
                "module": getattr(tcfg.func, "__module__", ""),
                "params": params,
                "joint_names": _resolved_joints(env, tcfg.func, params),
                "dim": dim,
                "shape": [dim, *image_shape] if image_shape is not None else None,
                "history_length": length,
                "scale": tcfg.scale,
                "clip": list(tcfg.clip) if tcfg.clip is not None else None,
            }
        )
    return terms


def _resolved_joints(env: Any, func: Any, params: dict[str, Any]) -> list[str] | None:
    """Joint names a term with a `joint_names` parameter reads, in order (None for other terms)."""
    try:
        takes_joints = "joint_names" in term_signature(func).parameters
    except (TypeError, ValueError):
        takes_joints = False
    if not takes_joints and "joint_names" not in params:
        return None
    entity = env.scene[params.get("asset_name", "robot")]
    patterns = params.get("joint_names")
    return list(entity.joint_names) if patterns is None else entity.find_joints(patterns)[1]


def action_layout(env: Any) -> list[dict[str, Any]]:
    """Action terms in output order: type, joints, per-joint scale and offset (or the type's own params)."""
    return [
        action_entry(env, name, cfg, env.action_manager.terms[name]) for name, cfg in env.cfg.actions.items()
    ]


def action_entry(env: Any, name: str, cfg: Any, term: Any) -> dict[str, Any]:
    """One action term (config `cfg`, built `term`) as the runtime reads it."""
    other = _other_action(env, cfg, term)
    if other is not None:
        return {"name": name, **other, "scale": [], "offset": []}
    kind = next((k for cls, k in ACTION_TYPES if isinstance(cfg, cls)), type(cfg).__name__)
    known = kind != type(cfg).__name__
    return {
        "name": name,
        "type": kind,
        "joint_names": list(getattr(term, "joint_names", [])),
        "scale": term.scale.tolist() if known else [],
        "offset": term.offset[0].tolist() if known else [],
        "params": {"ema_alpha": cfg.ema_alpha} if getattr(cfg, "ema_alpha", 1.0) < 1.0 else {},
    }


def _other_action(env: Any, cfg: Any, term: Any) -> dict[str, Any] | None:
    """Type, joints and params of the binary, graded or speed gripper, planar velocity, frozen low-level policy and
    task-space (IK, OSC) actions (None for other terms)."""
    joints = env.scene[cfg.asset_name].joint_names
    if isinstance(cfg, BinaryJointPositionActionCfg):  # graded and speed grippers too (subclass)
        (params, kind), ids = _gripper_layout(cfg, term), term.joint_ids.tolist()
    elif isinstance(cfg, PlanarVelocityActionCfg):
        params = {"max_lin_speed": cfg.max_lin_speed, "max_ang_speed": cfg.max_ang_speed}
        ids, kind = term.base.ids.tolist(), "planar_velocity"
    elif isinstance(cfg, PreTrainedPolicyActionCfg):
        params, ids, kind = _low_level_layout(env, cfg, term), [], "pre_trained_policy"
    elif isinstance(cfg, TaskSpaceActionCfg):
        params, ids = _task_space_layout(env, cfg, term), term.joint_ids.tolist()
        kind = "differential_ik" if isinstance(cfg, DifferentialIKActionCfg) else "operational_space"
    else:
        return None
    return {"type": kind, "joint_names": [joints[i] for i in ids], "params": params}


def _gripper_layout(cfg: BinaryJointPositionActionCfg, term: Any) -> tuple[dict[str, Any], str]:
    """A gripper's open and closed presets and what moves it between them: the action's sign (binary), its value
    over a ramp (graded) or its integral (speed)."""
    params = {"open": term.open_pos.tolist(), "close": term.close_pos.tolist()}
    if isinstance(cfg, GradedJointPositionActionCfg) and cfg.open_time_s > 0.0:
        return params | {"opening_per_action": term.opening_per_action}, "speed_joint_position"
    if isinstance(cfg, GradedJointPositionActionCfg):
        return params | {"closed_at": cfg.closed_at, "open_at": cfg.open_at}, "graded_joint_position"
    return params, "binary_joint_position"


def _low_level_layout(env: Any, cfg: PreTrainedPolicyActionCfg, term: Any) -> dict[str, Any]:
    """A frozen low-level policy: command clip ranges, its rate and file, and its network, observation terms (the
    configured group: its command term reads the clipped action at deploy time) and joint action terms."""
    om, low = term.observations, term.low_level
    return {
        "command_ranges": [list(r) for r in cfg.command_ranges],
        "low_level_decimation": cfg.low_level_decimation,
        "policy_file": LOW_LEVEL_FILE,
        "policy": policy_io(term.policy, om.group_dims[GROUP], low.action_dim),
        "observations": group_layout(env, om, GROUP, cfg.low_level_observations),
        "actions": [action_entry(env, "low_level_action", cfg.low_level_action, low)],
    }


def _task_space_layout(env: Any, cfg: TaskSpaceActionCfg, term: Any) -> dict[str, Any]:
    """An IK or OSC term as its controller runs: the end-effector frame (entity body and offset), the command's
    kind and mode, its action size and scale, and the solver's or the spring-damper's values the term computed."""
    entity = env.scene[cfg.asset_name]
    frame = term.frame
    params: dict[str, Any] = {
        "body_name": cfg.body_name,
        "frame_body": entity.body_names[frame.body_index],
        "frame_offset_pos": frame.pos_b.tolist(),
        "frame_offset_quat": frame.quat_b.tolist(),
        "command_type": cfg.command_type,
        "use_relative_mode": cfg.use_relative_mode,
        "action_dim": int(term.action_dim),
        "scale": float(cfg.scale),
        "gravity_compensation": bool(getattr(entity.cfg, "gravity_compensation", False)),
    }
    if isinstance(cfg, DifferentialIKActionCfg):
        params.update(ik_method=cfg.ik_method, damping=cfg.damping, ridge=float(term.ridge), gain=cfg.gain)
    else:
        params.update(
            stiffness=list(cfg.stiffness),
            damping_ratio=cfg.damping_ratio,
            kp=term.kp.tolist(),
            kd=term.kd.tolist(),
            nullspace_damping=cfg.nullspace_damping,
        )
    return params


def robot_layout(entity: Any) -> dict[str, Any]:
    """Joints, defaults, limits and per-joint actuator kind and gains of the controlled entity."""
    n = entity.num_joints
    kind, kp, kd = ["passive"] * n, [0.0] * n, [0.0] * n
    effort, velocity = [math.inf] * n, [math.inf] * n
    for group in entity.actuator_groups:
        label = "ideal_pd"
        if group.implicit:
            label = "implicit_velocity" if getattr(group, "velocity_mode", False) else "implicit"
        for k, j in enumerate(group.joint_ids.tolist()):
            kind[j] = label
            kp[j], kd[j] = float(group.default_stiffness[k]), float(group.default_damping[k])
            effort[j], velocity[j] = float(group.effort_limit[k]), float(group.velocity_limit[k])
    init = entity.cfg.init_state
    return {
        "asset": entity.name,
        "joint_names": list(entity.joint_names),
        "default_joint_pos": entity.default_joint_pos[0].tolist(),
        "default_joint_vel": entity.default_joint_vel[0].tolist(),
        "joint_pos_limits": entity.joint_pos_limits.tolist(),
        "actuator": kind,
        "stiffness": kp,
        "damping": kd,
        "effort_limit": effort,
        "velocity_limit": velocity,
        "floating_base": bool(entity.is_floating),
        # a fixed base: its mount pose, at rest (the training env reports it so)
        "default_root_state": [
            *init.pos,
            *init.rot,
            *(init.lin_vel + init.ang_vel if entity.is_floating else (0.0,) * 6),
        ],
    }


def term_layout(env: Any, cfgs: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """Event or termination terms: function name, parameters (the function's defaults filled in, joint regexes
    resolved), mode/time_out."""
    out = []
    for name, cfg in cfgs.items():
        params = to_dict(params_with_defaults(cfg.func, cfg.params))
        joints = _resolved_joints(env, cfg.func, cfg.params)
        if joints is not None:
            params["joint_names"] = joints
        item = {"name": name, "func": getattr(cfg.func, "__name__", str(cfg.func)), "params": params}
        item.update({"mode": cfg.mode} if kind == "event" else {"time_out": bool(cfg.time_out)})
        out.append(item)
    return out


def command_sizes(env: Any) -> dict[str, int]:
    """Size of each command term's command (what `generated_commands` observes)."""
    terms = getattr(env.command_manager, "terms", {})
    return {name: int(term.command.shape[-1]) for name, term in terms.items()}


def command_layout(env: Any) -> list[dict[str, Any]]:
    """Command terms with their config fields (ranges, resampling time, metric window, frame)."""
    return [
        {"name": name, "type": type(cfg).__name__, "params": to_dict(cfg)}
        for name, cfg in env.cfg.commands.items()
    ]


def training_info(s: Session, checkpoint: Path, env_overrides: dict[str, Any]) -> dict[str, Any]:
    """Where the policy comes from: run, checkpoint, iteration, library and algorithm."""
    from roboforge.rl.checkpoints import checkpoint_iteration

    return {
        "run_dir": str(checkpoint.parent.resolve()),
        "checkpoint": str(checkpoint.resolve()),
        "iteration": checkpoint_iteration(checkpoint),
        "library": s.library,
        "algorithm": s.algorithm,
        "env_overrides": env_overrides,
    }


def json_safe(value: Any) -> Any:
    """Strict JSON: +-inf/NaN -> None, tuples -> lists, callables -> qualified names."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return json_safe(to_dict(value))

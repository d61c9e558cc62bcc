"""Observations from a robot state, in numpy, exactly as the training observation manager builds them.

Each term is looked up by the function name recorded in the metadata; the value is clipped, scaled
and stacked with its history (oldest first, refilled with the first value after a reset). Add a term
a task defines itself with `register_observation_term`. Image terms (metadata `shape` set) go into their
group's `(C, H, W)` image instead of the vector (`image_terms.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from roboforge.deploy.frame_terms import TERMS as FRAME_TERMS
from roboforge.deploy.heading_terms import TERMS as HEADING_TERMS
from roboforge.deploy.image_terms import IMAGE_MODULE, ImageTerm, image_depth, image_rgb, push_history
from roboforge.deploy.metadata import MetadataError, ObsTermSpec, PolicyMetadata
from roboforge.deploy.rotations import GRAVITY_DIR_W, quat_apply_inverse
from roboforge.deploy.scene_terms import OBJECT_TERMS
from roboforge.deploy.scene_terms import TERMS as SCENE_TERMS
from roboforge.deploy.task_space import JointStateKinematics
from roboforge.utils.errors import UserInputError

BUILTIN_MODULE = "roboforge.mdp.observations"


@dataclass
class ObsContext:
    """What terms read: joint state in the policy's joint order, base state, last action, commands."""

    joint_pos: np.ndarray
    joint_vel: np.ndarray
    last_action: np.ndarray
    base_quat_w: np.ndarray | None = None
    base_lin_vel_b: np.ndarray | None = None
    base_ang_vel_b: np.ndarray | None = None
    commands: dict[str, np.ndarray] = field(default_factory=dict)
    images: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    """Camera frames by sensor name ('rgb', 'depth'), as `RobotState.images`."""
    base_pos_w: np.ndarray | None = None
    object_pos_w: dict[str, np.ndarray] = field(default_factory=dict)
    """Observed objects' world positions by scene entity name, as `RobotState.object_pos_w`."""
    obstacles_w: np.ndarray | None = None
    """Cylinder obstacles `(K, 3)` (x, y, radius), as `RobotState.obstacles_w`."""
    terrain_height_w: Callable[[np.ndarray], np.ndarray] | None = None
    """Ground height under world points, as `RobotState.terrain_height_w`."""
    object_nodes_w: dict[str, np.ndarray] = field(default_factory=dict)
    """Deformable objects' node positions `(num_nodes, 3)`, as `RobotState.object_nodes_w`."""


TermFn = Callable[[ObsContext], np.ndarray]
TermFactory = Callable[[ObsTermSpec, PolicyMetadata], TermFn]
_TERMS: dict[str, tuple[TermFactory, str | None]] = {}


def register_observation_term(name: str, factory: TermFactory, module: str | None = None) -> None:
    """Add a term: `factory(term_spec, metadata)` returns `fn(ctx) -> (dim,)`; `module` (if given) must match."""
    _TERMS[name] = (factory, module)


def supported_terms() -> list[str]:
    """Names of the observation terms this runtime implements."""
    return sorted([*_TERMS, *FRAME_TERMS])


def _joint_ids(spec: ObsTermSpec, meta: PolicyMetadata) -> np.ndarray | slice:
    names = spec.joint_names if spec.joint_names is not None else meta.robot.joint_names
    known = {n: i for i, n in enumerate(meta.robot.joint_names)}
    missing = [n for n in names if n not in known]
    if missing:
        raise MetadataError(f"Observation term {spec.name!r} names joints the robot lacks: {missing}.")
    ids = [known[n] for n in names]
    return slice(None) if ids == list(range(len(known))) else np.array(ids)


def _joint_term(field_name: str, default: str | None) -> TermFactory:
    def factory(spec: ObsTermSpec, meta: PolicyMetadata) -> TermFn:
        idx = _joint_ids(spec, meta)
        if default is None:
            return lambda c: getattr(c, field_name)[idx]
        ref = np.asarray(getattr(meta.robot, default), dtype=np.float64)[idx]
        return lambda c: getattr(c, field_name)[idx] - ref

    return factory


def _base_term(field_name: str) -> TermFactory:
    def factory(spec: ObsTermSpec, meta: PolicyMetadata) -> TermFn:
        def fn(c: ObsContext) -> np.ndarray:
            value = getattr(c, field_name)
            if value is None:
                raise UserInputError(
                    f"Observation term {spec.name!r} needs RobotState.{field_name}; the state has none."
                )
            return value

        return fn

    return factory


def _projected_gravity(spec: ObsTermSpec, meta: PolicyMetadata) -> TermFn:
    base_quat = _base_term("base_quat_w")(spec, meta)
    return lambda c: quat_apply_inverse(base_quat(c), GRAVITY_DIR_W)


def _last_action(spec: ObsTermSpec, meta: PolicyMetadata) -> TermFn:
    return lambda c: c.last_action


def _generated_commands(spec: ObsTermSpec, meta: PolicyMetadata) -> TermFn:
    name = spec.params.get("command_name")
    if name is None:
        raise MetadataError(f"Observation term {spec.name!r} (generated_commands) has no command_name.")

    def fn(c: ObsContext) -> np.ndarray:
        if name not in c.commands:
            raise UserInputError(
                f"The policy observes command {name!r}; pass it: step(..., commands={{{name!r}: values}}) "
                f"or `--command {name}=v1,v2,...`."
            )
        return c.commands[name]

    return fn


for _name, _factory in {
    "joint_pos": _joint_term("joint_pos", None),
    "joint_pos_rel": _joint_term("joint_pos", "default_joint_pos"),
    "joint_vel": _joint_term("joint_vel", None),
    "joint_vel_rel": _joint_term("joint_vel", "default_joint_vel"),
    "base_lin_vel_b": _base_term("base_lin_vel_b"),
    "base_ang_vel_b": _base_term("base_ang_vel_b"),
    "projected_gravity_b": _projected_gravity,
    "last_action": _last_action,
    "generated_commands": _generated_commands,
}.items():
    register_observation_term(_name, _factory, BUILTIN_MODULE)
for _name, (_factory, _module) in (SCENE_TERMS | HEADING_TERMS).items():
    register_observation_term(_name, _factory, _module)
register_observation_term("image_rgb", image_rgb, IMAGE_MODULE)
register_observation_term("image_depth", image_depth, IMAGE_MODULE)


class _Term:
    """One bound term with its output slice, clip, scale and history ring."""

    def __init__(self, spec: ObsTermSpec, fn: TermFn, start: int):
        self.spec, self.fn = spec, fn
        self.length = spec.history_length
        self.slice = slice(start, start + spec.dim * max(self.length, 1))
        self.clip = spec.clip
        self.scale = spec.scale
        self.history = np.zeros((max(self.length, 1), spec.dim))
        self.fresh = True
        self.check_shape = True

    def write(self, ctx: ObsContext, out: np.ndarray) -> None:
        x = self.fn(ctx)
        if self.check_shape:
            x = np.asarray(x, dtype=np.float64)
            if x.shape != (self.spec.dim,):
                raise UserInputError(
                    f"Observation term {self.spec.name!r} gave shape {x.shape}, expected ({self.spec.dim},)."
                )
            self.check_shape = False
        if self.clip is not None:
            x = np.minimum(np.maximum(x, self.clip[0]), self.clip[1])
        if self.scale is not None:
            x = x * self.scale
        if self.length == 0:
            out[self.slice] = x
            return
        push_history(self.history, x, self.fresh)
        self.fresh = False
        out[self.slice] = self.history.ravel()


class ObservationBuilder:
    """Builds the policy's observation vector `(obs_dim,)` float32 and its images (`images`: one `(C, H, W)`
    float32 per image input) from an `ObsContext`."""

    def __init__(self, meta: PolicyMetadata, policy_dir: str | Path | None = None):
        """`policy_dir`: the export folder, whose scene assets frame terms (`frame_terms.py`) load."""
        if meta.observations is None:
            raise MetadataError(
                f"Task {meta.task!r} is a direct env without a deploy_twin: its export does not describe the "
                "observation layout, so the deploy runtime cannot build observations. Deploy a manager-based "
                "task, or give the direct env's config a deploy_twin (a manager-based task equal step for step)."
            )
        self.terms: list[_Term] = []
        self.image_terms: list[tuple[str, ImageTerm]] = []
        self.images = {i.name: np.zeros(i.shape, dtype=np.float32) for i in meta.policy.images}
        start, channels = 0, dict.fromkeys(self.images, 0)
        self.meta, self.policy_dir = meta, policy_dir
        self.kinematics: JointStateKinematics | None = None
        for spec in meta.observations:
            if spec.shape is not None:
                term = ImageTerm(spec, self._bind(spec), channels[spec.group])
                self.image_terms.append((spec.group, term))
                channels[spec.group] = term.slice.stop
                continue
            self.terms.append(_Term(spec, self._bind(spec), start))
            start = self.terms[-1].slice.stop
        self.obs = np.zeros(start, dtype=np.float32)

    def _bind(self, spec: ObsTermSpec) -> TermFn:
        if spec.func in FRAME_TERMS and spec.module == BUILTIN_MODULE:
            _check_asset(spec, self.meta)
            return FRAME_TERMS[spec.func](spec, self.meta, self._kinematics())
        return _bind(spec, self.meta)

    def _kinematics(self) -> JointStateKinematics:
        """The private MjData frame terms compute on (the exported scene, loaded once)."""
        if self.kinematics is None:
            from roboforge.deploy.mujoco_robot import load_scene_model

            self.kinematics = JointStateKinematics(load_scene_model(self.meta, self.policy_dir), self.meta)
        return self.kinematics

    def reset(self) -> None:
        """Refill every history with its next value (as at an episode start); re-check term shapes."""
        for term in self.terms:
            term.fresh = True
            term.check_shape = True
        for _, image_term in self.image_terms:
            image_term.fresh = True

    def compute(self, ctx: ObsContext) -> np.ndarray:
        """The observation `(obs_dim,)` float32, and the images into `images` (buffers the next call reuses)."""
        for term in self.terms:
            term.write(ctx, self.obs)
        for group, image_term in self.image_terms:
            image_term.write(ctx, self.images[group])
        return self.obs


def _bind(spec: ObsTermSpec, meta: PolicyMetadata) -> TermFn:
    if spec.func not in _TERMS:
        raise MetadataError(
            f"Observation term {spec.name!r} uses {spec.module}.{spec.func}, which the deploy runtime does not "
            f"implement. Supported: {', '.join(supported_terms())}; add one with "
            "roboforge.deploy.register_observation_term."
        )
    factory, module = _TERMS[spec.func]
    if module is not None and spec.module != module:
        raise MetadataError(
            f"Observation term {spec.name!r} uses {spec.module}.{spec.func}, not {module}.{spec.func}; "
            "register its numpy version with roboforge.deploy.register_observation_term."
        )
    _check_asset(spec, meta)
    return factory(spec, meta)


def _check_asset(spec: ObsTermSpec, meta: PolicyMetadata) -> None:
    if spec.func in OBJECT_TERMS:  # its asset_name names the object observed, which RobotState carries
        return
    asset = spec.params.get("asset_name", meta.robot.asset)
    if asset != meta.robot.asset:
        raise MetadataError(
            f"Observation term {spec.name!r} reads entity {asset!r}; the runtime observes only the "
            f"controlled robot {meta.robot.asset!r}."
        )

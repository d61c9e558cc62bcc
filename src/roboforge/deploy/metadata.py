"""The exported policy's metadata (`policy.json`, also inside `policy.onnx`), parsed into typed specs.

The export writes a plain JSON dict (format version `FORMAT_VERSION`); this module reads it without
any training code. Joint arrays are in the training robot's joint order (`RobotSpec.joint_names`);
unbounded limits are `null` in JSON and `inf` here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "roboforge.policy"
FORMAT_VERSION = 1
ONNX_METADATA_KEY = "roboforge.metadata"


class MetadataError(ValueError):
    """The policy metadata is missing, from another format version, or inconsistent."""


@dataclass(kw_only=True)
class ControlSpec:
    """Control rate and episode length of the training env."""

    physics_dt: float
    """Physics step (s)."""
    decimation: int
    """Physics steps per control step."""
    step_dt: float
    """Control period (s) = physics_dt * decimation."""
    episode_length_s: float
    """Episode length (s) of the training env."""
    max_episode_length: int
    """Episode length in control steps."""


@dataclass(kw_only=True)
class RecurrentSpec:
    """Shape of the recurrent state carried between steps: `(num_layers, batch, hidden_size)`."""

    type: str
    """'lstm' (inputs h_in, c_in) or 'gru' (input h_in)."""
    num_layers: int
    """Recurrent layers."""
    hidden_size: int
    """Hidden size."""


@dataclass(kw_only=True)
class PolicySpec:
    """The network's interface."""

    kind: str
    """'mlp', 'lstm' or 'gru'."""
    obs_dim: int
    """Size of the observation vector."""
    action_dim: int
    """Size of the action vector."""
    inputs: list[str]
    """ONNX input names ('obs', then 'h_in' and 'c_in' for recurrent policies)."""
    outputs: list[str]
    """ONNX output names ('actions', then 'h_out' and 'c_out')."""
    clip_actions: float | None = None
    """Actions are clipped to [-x, x] before they become targets (as in training)."""
    obs_normalization: bool = False
    """The observation normalizer is part of the network (nothing to do at deploy time)."""
    recurrent: RecurrentSpec | None = None
    """Recurrent state shape; None for feed-forward policies."""


@dataclass(kw_only=True)
class ObsTermSpec:
    """One observation term: `func` -> clip -> scale -> history (oldest first)."""

    group: str
    """Observation group ('policy')."""
    name: str
    """Term name in the task config."""
    func: str
    """Term function name, the key of the deploy implementation ('joint_pos_rel')."""
    module: str
    """Module of the training term function."""
    params: dict[str, Any] = field(default_factory=dict)
    """The term's parameters as configured (JSON)."""
    joint_names: list[str] | None = None
    """Resolved joints of joint terms, in order."""
    dim: int
    """Size of one value (before history stacking)."""
    history_length: int = 0
    """Stacked past values (0: only the current one)."""
    scale: float | None = None
    """Factor applied after clipping."""
    clip: tuple[float, float] | None = None
    """Clip range."""


@dataclass(kw_only=True)
class ActionTermSpec:
    """One action term: `target = offset + scale * action` for its joints."""

    name: str
    """Term name in the task config."""
    type: str
    """'joint_position', 'joint_velocity' or 'joint_effort'."""
    joint_names: list[str]
    """Driven joints in action order."""
    scale: float
    """Action scale."""
    offset: list[float]
    """Per-joint offset (includes the default joint positions where the term adds them)."""


@dataclass(kw_only=True)
class RobotSpec:
    """The controlled articulation: joints, defaults, limits and actuator gains (robot joint order)."""

    asset: str
    """Entity name in the training scene ('robot')."""
    joint_names: list[str]
    """Joints in training order."""
    default_joint_pos: list[float]
    """Default joint positions (targets of joints no action drives)."""
    default_joint_vel: list[float]
    """Default joint velocities."""
    joint_pos_limits: list[tuple[float, float]]
    """(lower, upper) position limits; +-inf where unlimited."""
    actuator: list[str]
    """Per joint: 'implicit' (position actuator in the model), 'ideal_pd' (torque PD) or 'passive'."""
    stiffness: list[float]
    """PD position gains kp."""
    damping: list[float]
    """PD velocity gains kd."""
    effort_limit: list[float]
    """Largest torque/force; inf where unlimited."""
    velocity_limit: list[float]
    """Largest velocity target; inf where unlimited."""
    floating_base: bool = False
    """The robot has a free root joint."""
    default_root_state: list[float] | None = None
    """Floating bases: default root pos (3), quat w x y z (4), lin vel world (3), ang vel body (3)."""


@dataclass(kw_only=True)
class TermSpec:
    """A reset event or termination term of the training env, for the sim-to-sim check."""

    name: str
    """Term name in the task config."""
    func: str
    """Function name ('reset_joints_by_offset', 'joint_pos_out_of_manual_limit' ...)."""
    params: dict[str, Any] = field(default_factory=dict)
    """Parameters with joint regexes resolved to `joint_names`."""
    time_out: bool = False
    """Terminations only: a time-out rather than a failure."""
    mode: str = "reset"
    """Events only: 'startup', 'reset' or 'interval'."""


@dataclass(kw_only=True)
class SceneSpec:
    """The compiled training scene as MJCF, so deployment needs no roboforge training code."""

    mjcf: str
    """MJCF text of the scene (physics options, robot, actuators)."""
    entity_prefix: str
    """Name prefix of the robot's joints/actuators in the scene ('robot/')."""
    assets: list[str] = field(default_factory=list)
    """Mesh/texture files the MJCF references, stored in `scene_assets/` beside the policy."""


@dataclass(kw_only=True)
class PolicyMetadata:
    """Everything deployment needs besides the network weights."""

    format_version: int
    """Metadata format version."""
    roboforge_version: str
    """roboforge version that exported the policy."""
    task: str
    """Task id."""
    control: ControlSpec
    """Control rate."""
    policy: PolicySpec
    """Network interface."""
    observations: list[ObsTermSpec] | None
    """Observation terms in input order; None for direct envs (layout not described)."""
    actions: list[ActionTermSpec]
    """Action terms in output order."""
    robot: RobotSpec
    """Controlled articulation."""
    scene: SceneSpec
    """Scene MJCF."""
    events: list[TermSpec] = field(default_factory=list)
    """Event terms of the training env (reset distribution)."""
    terminations: list[TermSpec] = field(default_factory=list)
    """Termination terms of the training env."""
    commands: dict[str, int] = field(default_factory=dict)
    """Command names and sizes the observation expects from the caller."""
    training: dict[str, Any] = field(default_factory=dict)
    """Run folder, checkpoint, iteration, overrides."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PolicyMetadata:
        """Parse and check the JSON dict written by the export."""
        if data.get("format") != FORMAT:
            raise MetadataError(f"Not roboforge policy metadata (format {data.get('format')!r}).")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise MetadataError(
                f"Policy metadata format {version} is not supported by this roboforge (reads "
                f"{FORMAT_VERSION}); export the policy again with this version."
            )
        try:
            meta = _parse(data)
        except (KeyError, TypeError) as err:
            raise MetadataError(f"Policy metadata is incomplete or malformed: {err!r}.") from err
        meta.check()
        return meta

    def to_dict(self) -> dict[str, Any]:
        """The JSON dict (inverse of `from_dict`; unbounded limits as null)."""
        from dataclasses import asdict

        return {"format": FORMAT, **_json_safe(asdict(self))}

    def check(self) -> None:
        """Sizes agree between observation terms, actions, robot joints and the network."""
        r = self.robot
        n = len(r.joint_names)
        for key in ("default_joint_pos", "default_joint_vel", "joint_pos_limits", "actuator", "stiffness"):
            if len(getattr(r, key)) != n:
                raise MetadataError(f"robot.{key} has {len(getattr(r, key))} entries for {n} joints.")
        act_dim = sum(len(t.joint_names) for t in self.actions)
        if act_dim != self.policy.action_dim:
            raise MetadataError(
                f"Action terms cover {act_dim} joints but the policy outputs {self.policy.action_dim}."
            )
        if self.observations is not None:
            obs_dim = sum(t.dim * max(t.history_length, 1) for t in self.observations)
            if obs_dim != self.policy.obs_dim:
                raise MetadataError(
                    f"Observation terms add up to {obs_dim} values but the policy takes {self.policy.obs_dim}."
                )

    @property
    def recurrent(self) -> RecurrentSpec | None:
        return self.policy.recurrent


def _parse(d: dict[str, Any]) -> PolicyMetadata:
    pol = dict(d["policy"])
    pol["recurrent"] = RecurrentSpec(**pol["recurrent"]) if pol.get("recurrent") else None
    robot = dict(d["robot"])
    robot["joint_pos_limits"] = [
        (_num(lo, -math.inf), _num(hi, math.inf)) for lo, hi in robot["joint_pos_limits"]
    ]
    robot["effort_limit"] = [_num(v, math.inf) for v in robot["effort_limit"]]
    robot["velocity_limit"] = [_num(v, math.inf) for v in robot["velocity_limit"]]
    obs = None
    if d.get("observations") is not None:
        obs = [
            ObsTermSpec(**{**t, "clip": tuple(t["clip"]) if t.get("clip") else None})
            for t in d["observations"]
        ]
    return PolicyMetadata(
        format_version=d["format_version"],
        roboforge_version=d["roboforge_version"],
        task=d["task"],
        control=ControlSpec(**d["control"]),
        policy=PolicySpec(**pol),
        observations=obs,
        actions=[ActionTermSpec(**t) for t in d["actions"]],
        robot=RobotSpec(**robot),
        scene=SceneSpec(**d["scene"]),
        events=[TermSpec(**t) for t in d.get("events", [])],
        terminations=[TermSpec(**t) for t in d.get("terminations", [])],
        commands=dict(d.get("commands", {})),
        training=dict(d.get("training", {})),
    )


def _num(value: float | None, default: float) -> float:
    return default if value is None else float(value)


def _json_safe(value: Any) -> Any:
    """Replace +-inf and NaN by None and tuples by lists (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def load_metadata(path: str | Path) -> PolicyMetadata:
    """Metadata of an exported policy: from `policy.onnx` (embedded) or a `policy.json` file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Policy file not found: {path}")
    if path.suffix == ".json":
        return PolicyMetadata.from_dict(json.loads(path.read_text()))
    return PolicyMetadata.from_dict(json.loads(read_onnx_metadata(path)))


def read_onnx_metadata(path: Path) -> str:
    """The roboforge metadata JSON embedded in an ONNX file's metadata_props."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as err:
        raise MetadataError(f"ONNX Runtime cannot load {path}: {err}") from err
    props = session.get_modelmeta().custom_metadata_map
    if ONNX_METADATA_KEY not in props:
        raise MetadataError(
            f"{path} has no roboforge metadata ({ONNX_METADATA_KEY!r}); export it with `roboforge export`."
        )
    return props[ONNX_METADATA_KEY]

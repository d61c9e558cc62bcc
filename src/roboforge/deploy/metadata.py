"""The exported policy's metadata (`policy.json`, also inside `policy.onnx`), parsed into typed specs.

The export writes a plain JSON dict (format version `FORMAT_VERSION`); this module reads it without
any training code (the parts are in `roboforge.deploy.specs`).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from roboforge.deploy.specs import (
    ActionTermSpec,
    CameraSpec,
    CommandSpec,
    ControlSpec,
    EventSpec,
    ImageInputSpec,
    ObsTermSpec,
    PolicySpec,
    RecurrentSpec,
    RobotSpec,
    SceneSpec,
    TerminationSpec,
    TerrainSpec,
)
from roboforge.utils.errors import NotFoundError, UserInputError

FORMAT = "roboforge.policy"
FORMAT_VERSION = 1
ONNX_METADATA_KEY = "roboforge.metadata"
JOINT_ACTION_TYPES = ("joint_position", "joint_velocity", "joint_effort")
OTHER_ACTION_DIMS = {
    "binary_joint_position": 1,
    "graded_joint_position": 1,
    "speed_joint_position": 1,
    "planar_velocity": 3,
}
"""Action sizes of the non-joint action types the runtime implements."""
TASK_SPACE_TYPES = ("differential_ik", "operational_space")
"""End-effector pose actions run through the training controller (`deploy/task_space.py`); `params['action_dim']`."""
PRE_TRAINED = "pre_trained_policy"
"""A velocity command `(vx, vy, wz)` to a frozen low-level policy (`params` describe it; `deploy/low_level.py`)."""
LOW_LEVEL_KEY = "roboforge.low_level"
"""ONNX metadata key of a low-level policy file (it has no `ONNX_METADATA_KEY` of its own)."""
POLICY_FILE = "policy.onnx"
"""The file `roboforge export` writes the policy to; deploy finds it in a folder it is given."""
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".zip")
"""Training checkpoints (rsl_rl and skrl `.pt`, rl_games `.pth`, sb3 `.zip`): deploy runs their export."""


class MetadataError(UserInputError):
    """The policy metadata is missing, from another format version, or inconsistent."""


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
    cameras: list[CameraSpec] = field(default_factory=list)
    """Camera sensors the image terms read (empty for policies that see no images)."""
    actions: list[ActionTermSpec]
    """Action terms in output order."""
    robot: RobotSpec
    """Controlled articulation."""
    scene: SceneSpec
    """Scene MJCF."""
    events: list[EventSpec] = field(default_factory=list)
    """Event terms of the training env (reset distribution)."""
    terminations: list[TerminationSpec] = field(default_factory=list)
    """Termination terms of the training env."""
    commands: dict[str, int] = field(default_factory=dict)
    """Command names and sizes the observation expects from the caller."""
    command_terms: list[CommandSpec] = field(default_factory=list)
    """Command terms of the training env (sampling and metrics for the sim-to-sim check)."""
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
        return {"format": FORMAT, **_json_safe(asdict(self))}

    def check(self) -> None:
        """Sizes agree between observation terms, actions, robot joints and the network."""
        r = self.robot
        n = len(r.joint_names)
        for key in ("default_joint_pos", "default_joint_vel", "joint_pos_limits", "actuator", "stiffness"):
            if len(getattr(r, key)) != n:
                raise MetadataError(f"robot.{key} has {len(getattr(r, key))} entries for {n} joints.")
        if self.observations is None:  # a direct env: no layout to check (the runtime refuses it)
            return
        act_dim = sum(_action_size(t) for t in self.actions)
        kinds = (*JOINT_ACTION_TYPES, *OTHER_ACTION_DIMS, *TASK_SPACE_TYPES, PRE_TRAINED)
        known = all(t.type in kinds for t in self.actions)
        if known and act_dim != self.policy.action_dim:
            raise MetadataError(
                f"Action terms cover {act_dim} joints but the policy outputs {self.policy.action_dim}."
            )
        vectors = [t for t in self.observations if t.shape is None]
        obs_dim = sum(t.dim * max(t.history_length, 1) for t in vectors)
        if obs_dim != self.policy.obs_dim:
            raise MetadataError(
                f"Observation terms add up to {obs_dim} values but the policy takes {self.policy.obs_dim}."
            )
        check_images(self)

    @property
    def recurrent(self) -> RecurrentSpec | None:
        return self.policy.recurrent


def _action_size(term: ActionTermSpec) -> int:
    if term.type == PRE_TRAINED:
        return len(term.params.get("command_ranges", []))
    if term.type in TASK_SPACE_TYPES:
        return int(term.params["action_dim"])
    return OTHER_ACTION_DIMS.get(term.type, len(term.joint_names))


def _policy_spec(d: dict[str, Any]) -> PolicySpec:
    pol = dict(d)
    pol["recurrent"] = RecurrentSpec(**pol["recurrent"]) if pol.get("recurrent") else None
    pol["images"] = [ImageInputSpec(**i) for i in pol.get("images", [])]
    return PolicySpec(**pol)


def _obs_specs(terms: list[dict[str, Any]]) -> list[ObsTermSpec]:
    return [ObsTermSpec(**{**t, "clip": tuple(t["clip"]) if t.get("clip") else None}) for t in terms]


def _scene_spec(scene: dict[str, Any]) -> SceneSpec:
    terrain = scene.get("terrain")
    if terrain is None:
        return SceneSpec(**scene)
    patches = TerrainSpec(**terrain)
    if not len(patches.origins) == len(patches.levels) == len(patches.kinds) > 0:
        raise MetadataError(
            f"The scene's terrain lists {len(patches.origins)} patch origins, {len(patches.levels)} levels and "
            f"{len(patches.kinds)} kinds; they must be equally many (one per patch). Export the checkpoint again."
        )
    return SceneSpec(**{**scene, "terrain": patches})


def _parse(d: dict[str, Any]) -> PolicyMetadata:
    robot = dict(d["robot"])
    robot["joint_pos_limits"] = [
        (_num(lo, -math.inf), _num(hi, math.inf)) for lo, hi in robot["joint_pos_limits"]
    ]
    robot["effort_limit"] = [_num(v, math.inf) for v in robot["effort_limit"]]
    robot["velocity_limit"] = [_num(v, math.inf) for v in robot["velocity_limit"]]
    obs = _obs_specs(d["observations"]) if d.get("observations") is not None else None
    return PolicyMetadata(
        format_version=d["format_version"],
        roboforge_version=d["roboforge_version"],
        task=d["task"],
        control=ControlSpec(**d["control"]),
        policy=_policy_spec(d["policy"]),
        observations=obs,
        cameras=[CameraSpec(**c) for c in d.get("cameras", [])],
        actions=[ActionTermSpec(**t) for t in d["actions"]],
        robot=RobotSpec(**robot),
        scene=_scene_spec(d["scene"]),
        events=[EventSpec(**t) for t in d.get("events", [])],
        terminations=[TerminationSpec(**t) for t in d.get("terminations", [])],
        commands=dict(d.get("commands", {})),
        command_terms=[CommandSpec(**t) for t in d.get("command_terms", [])],
        training=dict(d.get("training", {})),
    )


def low_level_term(meta: PolicyMetadata) -> ActionTermSpec | None:
    """The policy's `pre_trained_policy` action term (then its only one), or None."""
    terms = [t for t in meta.actions if t.type == PRE_TRAINED]
    if terms and len(meta.actions) != 1:
        raise MetadataError(
            f"Action term {terms[0].name!r} runs a frozen low-level policy; the runtime supports it as the only "
            f"action term, the policy has {[t.name for t in meta.actions]}."
        )
    return terms[0] if terms else None


def command_decimation(meta: PolicyMetadata) -> int:
    """Physics steps per joint command: the low-level policy's decimation, else the policy's own."""
    term = low_level_term(meta)
    return meta.control.decimation if term is None else int(term.params["low_level_decimation"])


def low_level_metadata(meta: PolicyMetadata) -> PolicyMetadata | None:
    """The frozen low-level policy's own metadata (robot and scene of `meta`, the network, observation and joint
    action terms its `pre_trained_policy` term describes, its control rate), checked; None without one."""
    term = low_level_term(meta)
    if term is None:
        return None
    p, control = term.params, meta.control
    try:
        decimation = int(p["low_level_decimation"])
        if decimation < 1 or control.decimation % decimation:
            raise MetadataError(
                f"Action term {term.name!r}: the runtime runs the low-level policy at a fixed rate, so the "
                f"decimation ({control.decimation}) must be a multiple of low_level_decimation ({decimation})."
            )
        observations = _obs_specs(p["observations"])
        low = replace(
            meta,
            control=replace(
                control,
                decimation=decimation,
                step_dt=control.physics_dt * decimation,
                max_episode_length=control.max_episode_length * (control.decimation // decimation),
            ),
            policy=_policy_spec(p["policy"]),
            observations=observations,
            cameras=[],
            actions=[ActionTermSpec(**a) for a in p["actions"]],
            commands={
                t.params["command_name"]: t.dim for t in observations if t.func == "generated_commands"
            },
            command_terms=[],
        )
    except (KeyError, TypeError) as err:
        raise MetadataError(
            f"Action term {term.name!r}: its low-level policy layout is incomplete or malformed ({err!r}); "
            "export the policy again."
        ) from err
    low.check()
    return low


def check_images(meta: PolicyMetadata) -> None:
    """Each image input is made of its group's image terms, whose frames stacked on channels give its shape;
    each image term reads a described camera of the right size and output."""
    terms = [t for t in meta.observations or [] if t.shape is not None]
    cameras = {c.name: c for c in meta.cameras}
    inputs = {i.name: i for i in meta.policy.images}
    for t in terms:
        sensor = t.params.get("sensor_name")
        camera = cameras.get(sensor) if isinstance(sensor, str) else None
        if camera is None:
            raise MetadataError(
                f"Image term {t.name!r} reads camera {sensor!r}, which the metadata does not describe "
                f"(cameras: {', '.join(cameras) or 'none'}); export the policy again."
            )
        if t.group not in inputs or list((t.shape or [])[1:]) != [camera.height, camera.width]:
            raise MetadataError(
                f"Image term {t.name!r} ({t.shape}) does not fit an image input of group {t.group!r} or its "
                f"camera {sensor!r} ({camera.height}x{camera.width})."
            )
    for name, spec in inputs.items():
        channels = sum(t.dim * max(t.history_length, 1) for t in terms if t.group == name)
        mine = [t.name for t in terms if t.group == name]
        if mine != spec.terms or channels != spec.shape[0]:
            raise MetadataError(
                f"Image input {name!r} {spec.shape} is made of terms {spec.terms}, but the image terms of group "
                f"{name!r} are {mine} with {channels} channels."
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


def resolve_policy(path: str | Path) -> Path:
    """The exported policy file `path` names: the file, or POLICY_FILE in a folder (the export's). A training
    checkpoint (CHECKPOINT_SUFFIXES) is refused before ONNX Runtime reads it, naming `roboforge export`."""
    path = Path(path)
    if path.suffix == ".pt" and (path.parent / "policy.json").is_file():  # `export --format jit` wrote it
        raise UserInputError(
            f"{path} is a TorchScript export; deploy runs ONNX ({POLICY_FILE}): export again without "
            "--format jit (ONNX is the default) and deploy the policy.onnx it writes."
        )
    if path.suffix in CHECKPOINT_SUFFIXES:
        raise UserInputError(
            f"{path} is a training checkpoint; deploy runs the exported {POLICY_FILE} (ONNX Runtime, no "
            f"torch): run `roboforge export TASK --checkpoint {path}` first and deploy the {POLICY_FILE} it "
            "writes (in <run folder>/exported/ by default)."
        )
    if path.is_dir():
        if not (path / POLICY_FILE).is_file():
            raise NotFoundError(
                f"{path} has no {POLICY_FILE}; pass an exported {POLICY_FILE} or the folder `roboforge "
                "export` wrote it to (<run folder>/exported/ by default)."
            )
        return path / POLICY_FILE
    if not path.is_file():
        raise NotFoundError(f"Policy file not found: {path}")
    return path


def load_metadata(path: str | Path) -> PolicyMetadata:
    """Metadata of an exported policy: from `policy.onnx` (embedded, also given as its folder) or a
    `policy.json` file."""
    path = resolve_policy(path)
    if path.suffix == ".json":
        return PolicyMetadata.from_dict(json.loads(path.read_text()))
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as err:
        raise MetadataError(f"ONNX Runtime cannot load {path}: {err}") from err
    return metadata_of_session(session, path)


def metadata_of_session(session: Any, path: Path) -> PolicyMetadata:
    """The metadata embedded in an ONNX Runtime session's model (metadata_props)."""
    props = session.get_modelmeta().custom_metadata_map
    if ONNX_METADATA_KEY not in props and LOW_LEVEL_KEY in props:
        raise MetadataError(
            f"{path} is the low-level policy of an exported {props[LOW_LEVEL_KEY]} policy; deploy the policy.onnx "
            "beside it (it runs this file)."
        )
    if ONNX_METADATA_KEY not in props:
        raise MetadataError(
            f"{path} has no roboforge metadata ({ONNX_METADATA_KEY!r}); export it with `roboforge export`."
        )
    return PolicyMetadata.from_dict(json.loads(props[ONNX_METADATA_KEY]))

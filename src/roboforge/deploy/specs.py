"""The parts of the policy metadata: control rate, network interface, observation and action terms,
robot joints, reset and termination terms, scene. Joint arrays are in the training robot's joint
order; unbounded limits are `inf` (`null` in JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
class ImageInputSpec:
    """One image input of the network: an observation group of image terms, `(batch, C, H, W)` float32."""

    name: str
    """ONNX input name = the observation group's name ('policy')."""
    shape: list[int]
    """(C, H, W) of one observation: the terms' channels, each times its stacked frames, concatenated."""
    dtype: str = "float32"
    """Element type of the input."""
    terms: list[str] = field(default_factory=list)
    """The group's image terms in channel order (names of `observations` entries of this group)."""


@dataclass(kw_only=True)
class CameraSpec:
    """A camera sensor of the training scene that image terms read (the camera is in the scene MJCF)."""

    name: str
    """Sensor name (what image terms name as `sensor_name`)."""
    camera: str
    """Camera name in the scene MJCF (pose and field of view come from there)."""
    width: int
    """Image width (pixels)."""
    height: int
    """Image height (pixels)."""
    rgb: bool = True
    """Renders colour `(H, W, 3)` uint8."""
    depth: bool = False
    """Renders planar depth `(H, W, 1)` float32 metres (0: nothing hit)."""
    fovy: float = 45.0
    """Vertical field of view (degrees), as compiled in the training model."""
    update_period: float = 0.0
    """Seconds between new frames (0: every control step)."""


@dataclass(kw_only=True)
class PolicySpec:
    """The network's interface."""

    kind: str
    """'mlp', 'lstm', 'gru' or 'cnn'."""
    obs_dim: int
    """Size of the observation vector (0: a CNN policy that reads images only and has no 'obs' input)."""
    action_dim: int
    """Size of the action vector."""
    inputs: list[str]
    """ONNX input names ('obs', then 'h_in' and 'c_in' for recurrent policies, or the image groups' names)."""
    outputs: list[str]
    """ONNX output names ('actions', then 'h_out' and 'c_out')."""
    clip_actions: float | None = None
    """Actions are clipped to [-x, x] before they become targets (as in training)."""
    obs_normalization: bool = False
    """The observation normalizer is part of the network (nothing to do at deploy time)."""
    recurrent: RecurrentSpec | None = None
    """Recurrent state shape; None for feed-forward policies."""
    images: list[ImageInputSpec] = field(default_factory=list)
    """Image inputs in input order (after 'obs' where the policy has vector groups too)."""

    @property
    def state_inputs(self) -> list[str]:
        """Recurrent state inputs: the inputs after the observation and image inputs."""
        skip = len(self.images) + (1 if "obs" in self.inputs else 0)
        return self.inputs[skip:]


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
    shape: list[int] | None = None
    """Image terms: (C, H, W) of one frame (`dim` is C); None for vector terms."""


@dataclass(kw_only=True)
class ActionTermSpec:
    """One action term: `target = offset + scale * action` for its joints ('joint_*' types);
    'binary_joint_position': one action, its sign picks `params` 'close' (< 0) or 'open' positions;
    'graded_joint_position': one action, 'close' at and below `params` 'closed_at', 'open' at and above 'open_at',
    linear between;
    'speed_joint_position': one action, clipped to -1..1, times `params` 'opening_per_action' moves the opening
    (0 'close' .. 1 'open') each policy step, open at an episode's start;
    'planar_velocity': (vx, vy, wz) body-frame velocity fractions of `params` 'max_lin_speed'/'max_ang_speed',
    turned by the heading into velocity targets of the x, y and yaw joints; 'differential_ik' /
    'operational_space': an end-effector pose (root frame) turned into joint position targets / torques by the
    training controller, whose frame, mode and gains are in `params` (`deploy/task_space.py`)."""

    name: str
    """Term name in the task config."""
    type: str
    """'joint_position', 'joint_velocity', 'joint_effort' or one of the types above."""
    joint_names: list[str]
    """Driven joints in action order."""
    scale: list[float]
    """Per-joint action scale."""
    offset: list[float]
    """Per-joint offset (includes the default joint positions where the term adds them)."""
    params: dict[str, Any] = field(default_factory=dict)
    """Type-specific values (presets, speeds) of the other action types."""


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
    """Default root pos (3), quat w x y z (4), lin vel world (3), ang vel body (3); fixed bases: the mount."""


@dataclass(kw_only=True)
class EventSpec:
    """An event term of the training env (the reset distribution, for the sim-to-sim check)."""

    name: str
    """Term name in the task config."""
    func: str
    """Function name ('reset_joints_by_offset' ...)."""
    params: dict[str, Any] = field(default_factory=dict)
    """Parameters with joint regexes resolved to `joint_names`."""
    mode: str = "reset"
    """'startup', 'reset' or 'interval'."""


@dataclass(kw_only=True)
class TerminationSpec:
    """A termination term of the training env (for the sim-to-sim check)."""

    name: str
    """Term name in the task config."""
    func: str
    """Function name ('time_out', 'joint_pos_out_of_manual_limit' ...)."""
    params: dict[str, Any] = field(default_factory=dict)
    """Parameters with joint regexes resolved to `joint_names`."""
    time_out: bool = False
    """A time-out rather than a failure."""


@dataclass(kw_only=True)
class TerrainSpec:
    """A generated terrain's patches, every level and kind, row by row: the sim-to-sim check starts each episode on
    one drawn at random (as the rough play config does) and reports `Terrain/survived/<kind>` and `level_<i>`."""

    origins: list[list[float]]
    """Each patch's origin (x, y, z), where a robot of that patch spawns."""
    levels: list[int]
    """Each patch's difficulty level (its row)."""
    kinds: list[str]
    """Each patch's sub-terrain kind ('pyramid_stairs', ...)."""


@dataclass(kw_only=True)
class SceneSpec:
    """The compiled training scene as MJCF, so deployment needs no roboforge training code."""

    mjcf: str
    """MJCF text of the scene (physics options, robot, actuators)."""
    entity_prefix: str
    """Name prefix of the robot's joints/actuators in the scene ('robot/')."""
    assets: list[str] = field(default_factory=list)
    """Mesh/texture files the MJCF references, stored in `scene_assets/` beside the policy."""
    terrain: TerrainSpec | None = None
    """The patches of a generated terrain (None: no terrain)."""


@dataclass(kw_only=True)
class CommandSpec:
    """A command term of the training env (how the sim-to-sim check samples commands)."""

    name: str
    """Command name ('ee_pose')."""
    type: str
    """Config class name ('UniformPoseCommandCfg')."""
    params: dict[str, Any] = field(default_factory=dict)
    """The term's config fields (JSON)."""

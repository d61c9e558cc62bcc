"""Asset sources (user MJCF/URDF files, Menagerie), actuator configs and their errors."""

from __future__ import annotations

import math
import re
from pathlib import Path

import mujoco
import pytest
import torch

from conftest import all_worlds, requires_go1
from roboforge.assets import (
    ArticulationCfg,
    AssetError,
    FileSpawnCfg,
    IdealPDActuatorCfg,
    ImplicitActuatorCfg,
    InitialStateCfg,
    MenagerieSpawnCfg,
)
from roboforge.assets.actuators import ActuatorGroup, per_joint
from roboforge.scene import Scene, SceneCfg
from roboforge.sim import SimCfg, make_simulator
from roboforge.utils.config import ConfigError

TWO_LINK_URDF = """<?xml version="1.0"?>
<robot name="two_link_arm">
  <link name="base_link">
    <inertial><mass value="1.0"/><inertia ixx="0.01" ixy="0" ixz="0" iyy="0.01" iyz="0" izz="0.01"/></inertial>
    <collision><geometry><box size="0.1 0.1 0.1"/></geometry></collision>
  </link>
  <link name="upper_arm">
    <inertial><origin xyz="0 0 0.25"/><mass value="0.5"/>
      <inertia ixx="0.01" ixy="0" ixz="0" iyy="0.01" iyz="0" izz="0.001"/></inertial>
    <collision><origin xyz="0 0 0.25"/><geometry><cylinder radius="0.03" length="0.5"/></geometry></collision>
  </link>
  <link name="forearm">
    <inertial><origin xyz="0 0 0.2"/><mass value="0.3"/>
      <inertia ixx="0.005" ixy="0" ixz="0" iyy="0.005" iyz="0" izz="0.001"/></inertial>
    <collision><origin xyz="0 0 0.2"/><geometry><cylinder radius="0.025" length="0.4"/></geometry></collision>
  </link>
  <joint name="shoulder" type="revolute">
    <parent link="base_link"/><child link="upper_arm"/><origin xyz="0 0 0.05"/><axis xyz="0 1 0"/>
    <limit lower="-2.0" upper="2.0" effort="50" velocity="5"/>
  </joint>
  <joint name="elbow" type="revolute">
    <parent link="upper_arm"/><child link="forearm"/><origin xyz="0 0 0.5"/><axis xyz="0 1 0"/>
    <limit lower="-2.5" upper="2.5" effort="30" velocity="5"/>
  </joint>
</robot>
"""


@pytest.fixture
def urdf_path(tmp_path) -> Path:
    path = tmp_path / "two_link_arm.urdf"
    path.write_text(TWO_LINK_URDF)
    return path


def arm_cfg(path: Path, **kwargs) -> ArticulationCfg:
    kwargs.setdefault(
        "actuators", {"arm": ImplicitActuatorCfg(joint_names_expr=[".*"], stiffness=200.0, damping=10.0)}
    )
    return ArticulationCfg(spawn=FileSpawnCfg(path=str(path)), **kwargs)


def bound_scene(cfg: ArticulationCfg, num_envs: int = 2) -> Scene:
    scene = Scene(SceneCfg(num_envs=num_envs, entities={"arm": cfg}))
    sim = make_simulator(scene.model, num_envs, SimCfg(backend="mujoco"))
    scene.bind(sim)
    return scene


# --- file errors ---------------------------------------------------------------------------------------------------
def test_missing_mjcf_file_names_the_path(tmp_path):
    path = tmp_path / "nowhere" / "robot.xml"
    with pytest.raises(AssetError) as err:
        FileSpawnCfg(path=str(path)).load()
    assert str(path) in str(err.value)
    assert "not found" in str(err.value)


def test_unparsable_xml_reports_mujoco_message_and_file(tmp_path):
    path = tmp_path / "broken.xml"
    path.write_text("<mujoco>\n  <worldbody>\n    <body name='b'><geom type='sphere' size='0.1'/></body>\n")
    with pytest.raises(ValueError) as mj_err:
        mujoco.MjSpec.from_file(str(path))
    with pytest.raises(AssetError) as err:
        FileSpawnCfg(path=str(path)).load()
    msg = str(err.value)
    assert "broken.xml" in msg
    assert str(mj_err.value).strip() in msg


def test_schema_violation_reports_attribute_and_file(tmp_path):
    path = tmp_path / "bad_attr.xml"
    path.write_text(
        "<mujoco><worldbody><body><joint type='hinge'/>"
        "<geom type='sphere' size='0.1' bogus='1'/></body></worldbody></mujoco>"
    )
    with pytest.raises(AssetError, match=r"bad_attr\.xml.*unrecognized attribute: 'bogus'"):
        FileSpawnCfg(path=str(path)).load()


def test_model_that_parses_but_does_not_compile_is_reported(tmp_path):
    path = tmp_path / "massless.xml"
    # a moving body without mass or inertia: MuJoCo's compiler rejects it
    path.write_text("<mujoco><worldbody><body><joint type='hinge'/></body></worldbody></mujoco>")
    with pytest.raises(AssetError, match=r"massless\.xml.*mass"):
        FileSpawnCfg(path=str(path)).load()


def test_wrong_file_type_is_rejected(tmp_path):
    path = tmp_path / "robot.stl"
    path.write_bytes(b"solid x\nendsolid x\n")
    with pytest.raises(AssetError, match=r"robot\.stl must be MJCF \(\.xml\) or URDF \(\.urdf\)"):
        FileSpawnCfg(path=str(path)).load()


def test_a_model_path_that_cannot_be_opened_is_one_short_line(tmp_path):
    """A symlink loop and '~nobody' were internal errors (RuntimeError), a NUL byte too (ValueError), a name
    too long an OSError echoing the whole path; a folder was 'not found'."""
    (tmp_path / "a.xml").symlink_to(tmp_path / "b.xml")
    (tmp_path / "b.xml").symlink_to(tmp_path / "a.xml")
    (tmp_path / "robot.xml").mkdir()
    cases = {
        tmp_path / "a.xml": "a.xml cannot be opened (RuntimeError: Symlink loop",
        "~no_such_user_here/robot.xml": "cannot be opened (RuntimeError",
        "robot\0.xml": "cannot be opened (ValueError: embedded null byte)",
        tmp_path / ("x" * 5000 + ".xml"): "cannot be opened (OSError: [Errno 36]",
        tmp_path / "robot.xml": "robot.xml is a folder; give the MJCF or URDF file in it",
        None: "A model file's path must be a string, got NoneType None",
    }
    for path, words in cases.items():
        with pytest.raises(AssetError) as err:
            FileSpawnCfg(path=path).load()
        assert words in str(err.value) and len(str(err.value)) < 800, str(err.value)[:1000]


def test_asset_error_reaches_scene_build(tmp_path):
    with pytest.raises(AssetError, match=r"missing\.xml"):
        Scene(SceneCfg(num_envs=1, entities={"arm": arm_cfg(tmp_path / "missing.xml")}))


# --- URDF ----------------------------------------------------------------------------------------------------------------
def test_urdf_arm_builds_in_scene_and_tracks_targets(urdf_path):
    cfg = arm_cfg(urdf_path, init_state=InitialStateCfg(pos=(0.0, 0.0, 0.5), joint_pos={"shoulder": 0.3}))
    scene = bound_scene(cfg)
    arm = scene["arm"]
    assert arm.joint_names == ["shoulder", "elbow"]
    assert not arm.is_floating
    assert scene.model.nu == 2  # one actuator per joint
    torch.testing.assert_close(arm.joint_pos_limits, torch.tensor([[-2.0, 2.0], [-2.5, 2.5]]))
    torch.testing.assert_close(arm.default_joint_pos, torch.tensor([[0.3, 0.0], [0.3, 0.0]]))
    sim = arm.sim
    sim.reset(all_worlds(2))
    scene.reset_to_default(all_worlds(2))
    torch.testing.assert_close(arm.data.joint_pos, arm.default_joint_pos)
    target = torch.tensor([[0.5, -0.5], [1.0, 0.2]])
    arm.joint_pos_target[:] = target
    for _ in range(500):
        scene.apply_actuators()
        sim.step()
    assert (arm.data.joint_pos - target).abs().max() < 0.05
    # the forearm hangs off the upper arm: its height depends on the shoulder angle
    z = arm.data.body_pos_w[:, arm.body_names.index("forearm"), 2]
    assert z[0] > z[1] + 0.1


def test_urdf_also_loads_on_its_own(urdf_path):
    spec = FileSpawnCfg(path=str(urdf_path)).load()
    assert [j.name for j in spec.joints] == ["shoulder", "elbow"]


# --- regex errors ---------------------------------------------------------------------------------------------------------
def test_actuator_regex_matching_nothing_names_available_joints(urdf_path):
    cfg = arm_cfg(
        urdf_path, actuators={"wrist": ImplicitActuatorCfg(joint_names_expr=["wrist_.*"], stiffness=10.0)}
    )
    with pytest.raises(ValueError) as err:
        Scene(SceneCfg(num_envs=1, entities={"arm": cfg}))
    msg = str(err.value)
    assert "'wrist'" in msg and "wrist_.*" in msg
    assert "Available: shoulder, elbow" in msg


def test_init_state_joint_regex_matching_nothing_raises(urdf_path):
    cfg = arm_cfg(urdf_path, init_state=InitialStateCfg(joint_pos={"knee": 0.5}))
    with pytest.raises(ValueError) as err:
        bound_scene(cfg)
    msg = str(err.value)
    assert "arm.init_state.joint_pos" in msg and "'knee'" in msg
    assert "shoulder, elbow" in msg


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        (
            {"actuators": {"arm": ImplicitActuatorCfg(joint_names_expr=["*"])}},
            "actuators['arm'].joint_names_expr",
        ),
        (
            {"actuators": {"arm": ImplicitActuatorCfg(joint_names_expr=[".*"], stiffness={"*": 1.0})}},
            "actuators['arm'].stiffness",
        ),
        ({"init_state": InitialStateCfg(joint_pos={"*": 0.1})}, "Entity 'arm': init_state.joint_pos"),
        ({"init_state": InitialStateCfg(joint_vel={"*": 0.1})}, "Entity 'arm': init_state.joint_vel"),
        ({"collision_geoms": ["*"]}, "collision_geoms"),
    ],
)
def test_a_pattern_that_is_not_a_regex_names_the_field(urdf_path, kwargs, field):
    """A glob ('*') where a regex belongs was an internal error (re.error: nothing to repeat)."""
    with pytest.raises(ConfigError) as err:
        bound_scene(arm_cfg(urdf_path, **kwargs))
    assert f"{field}: '*' is not a regex (nothing to repeat" in str(err.value), err.value


@pytest.mark.parametrize(
    ("init_state", "words"),
    [
        (
            InitialStateCfg(joint_pos={".*": "x"}),
            "init_state.joint_pos['.*'] must be a finite number, got 'x'",
        ),
        (InitialStateCfg(joint_pos={".*": math.nan}), "init_state.joint_pos['.*'] must be a finite number"),
        (InitialStateCfg(pos=(0.0, 0.0)), "init_state.pos must be 3 finite numbers, got (0.0, 0.0)"),  # type: ignore[arg-type]
        (InitialStateCfg(rot=(0.0, 0.0, 0.0, 0.0)), "init_state.rot is all zeros"),
        (InitialStateCfg(lin_vel=(0.0, math.inf, 0.0)), "init_state.lin_vel must be 3 finite numbers"),
    ],
)
def test_an_initial_state_that_cannot_place_the_robot_names_the_field(urdf_path, init_state, words):
    """A string joint value and a 2-vector position were internal errors; NaN joints and a zero quaternion
    built a robot in no pose at all, silently."""
    with pytest.raises(ConfigError) as err:
        bound_scene(arm_cfg(urdf_path, init_state=init_state))
    assert str(err.value).startswith("Entity 'arm': init_state.") and words in str(err.value), err.value


def test_entity_find_joints_and_unknown_entity(urdf_path):
    scene = bound_scene(arm_cfg(urdf_path))
    arm = scene["arm"]
    assert arm.find_joints("elb.*") == ([1], ["elbow"])
    with pytest.raises(ValueError, match="Available: shoulder, elbow"):
        arm.find_joints(["hip"])
    with pytest.raises(ConfigError, match=r"No entity 'robot'.*Entities: arm"):
        scene["robot"]


# --- Menagerie -------------------------------------------------------------------------------------------------------------
def test_unknown_menagerie_robot_raises_asset_error():
    with pytest.raises(AssetError, match=r"'no_such_robot_xyz' is not in MENAGERIE_ROOT.*unitree_go1"):
        MenagerieSpawnCfg(robot="no_such_robot_xyz", file="robot.xml").load()


@requires_go1
def test_menagerie_missing_file_names_it():
    with pytest.raises(AssetError, match=r"Model file not found: .*unitree_go1.*go2\.xml"):
        MenagerieSpawnCfg(robot="unitree_go1", file="go2.xml").load()


@requires_go1
def test_menagerie_go1_loads_with_its_joints():
    spec = MenagerieSpawnCfg(robot="unitree_go1", file="go1.xml").load()
    names = [j.name for j in spec.joints]
    assert "FR_calf_joint" in names and len([n for n in names if n.endswith("_joint")]) == 12


# --- actuator models -----------------------------------------------------------------------------------------------------
def test_per_joint_expands_scalars_and_regex_dicts():
    names = ["hip", "thigh", "calf"]
    assert per_joint(2.0, names, 0.0) == [2.0, 2.0, 2.0]
    assert per_joint(None, names, -1.0) == [-1.0, -1.0, -1.0]
    assert per_joint({"th.*": 5.0, "calf": 7.0}, names, 1.0) == [1.0, 5.0, 7.0]


@pytest.mark.parametrize(
    ("group", "message"),
    [
        (
            ImplicitActuatorCfg(joint_names_expr=[".*"], stiffness=float("nan")),
            "stiffness must be finite and >= 0",
        ),
        (
            IdealPDActuatorCfg(joint_names_expr=[".*"], damping={"elbow": -1.0}),
            "damping must be finite and >= 0",
        ),
        (
            ImplicitActuatorCfg(joint_names_expr=[".*"], effort_limit=-5.0),
            "effort_limit must be > 0 (or None)",
        ),
        (
            IdealPDActuatorCfg(joint_names_expr=[".*"], velocity_limit=0.0),
            "velocity_limit must be > 0 (or None)",
        ),
        (
            ImplicitActuatorCfg(joint_names_expr=[".*"], armature=float("inf")),
            "armature must be finite and >= 0",
        ),
        (ImplicitActuatorCfg(joint_names_expr=[".*"], stiffness="400"), "stiffness must be finite and >= 0"),
    ],
)
def test_an_actuator_gain_or_limit_out_of_range_names_the_field(urdf_path, group, message):
    """A NaN or negative gain or limit built a robot that exploded or pushed the wrong way, silently (a string
    was an internal error)."""
    with pytest.raises(ConfigError, match=re.escape(f"Entity 'arm': actuators['arm'].{message}")):
        bound_scene(arm_cfg(urdf_path, actuators={"arm": group}))


def test_ideal_pd_actuator_torque_is_pd_plus_feedforward_clipped():
    cfg = IdealPDActuatorCfg(
        joint_names_expr=[".*"], stiffness=10.0, damping=2.0, effort_limit={"a": 5.0, "b": 100.0}
    )
    group = ActuatorGroup(cfg, [0, 1], ["a", "b"], [0, 1], "cpu")
    pos = torch.tensor([[0.0, 0.0]])
    vel = torch.tensor([[1.0, 1.0]])
    torque = group.compute(
        pos, vel, torch.tensor([[1.0, 1.0]]), torch.zeros(1, 2), torch.tensor([[0.5, 0.5]])
    )
    # 10 * (1 - 0) + 2 * (0 - 1) + 0.5 = 8.5; joint 'a' is clipped to 5
    torch.testing.assert_close(torque, torch.tensor([[5.0, 8.5]]))


def test_implicit_actuator_passes_position_targets_and_sets_gains(urdf_path):
    cfg = arm_cfg(
        urdf_path,
        actuators={
            "arm": ImplicitActuatorCfg(
                joint_names_expr=[".*"],
                stiffness={"shoulder": 300.0, "elbow": 100.0},
                damping=5.0,
                effort_limit=40.0,
            )
        },
    )
    scene = bound_scene(cfg)
    model = scene.model
    kp = [float(model.actuator_gainprm[i, 0]) for i in range(model.nu)]
    assert kp == [300.0, 100.0]
    assert [float(model.actuator_forcerange[i, 1]) for i in range(model.nu)] == [40.0, 40.0]
    arm = scene["arm"]
    arm.joint_pos_target[:] = torch.tensor([0.2, -0.3])
    scene.apply_actuators()
    torch.testing.assert_close(arm.sim.ctrl.float(), torch.tensor([[0.2, -0.3], [0.2, -0.3]]))

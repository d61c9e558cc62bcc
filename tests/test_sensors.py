"""Contact sensor (forces, air/contact timers), IMU, and robot collision filtering."""

from __future__ import annotations

import mujoco
import pytest
import torch

from conftest import all_worlds, requires_go1, world_mask
from roboforge.assets import ArticulationCfg, BuiltinSpawnCfg, InitialStateCfg, RigidObjectCfg
from roboforge.scene.scene import Scene, SceneCfg
from roboforge.sensors import ContactSensorCfg, ImuCfg
from roboforge.sim import SimCfg
from roboforge.sim.factory import make_simulator

BALL_MASS = 2.0


def ball_spec() -> mujoco.MjSpec:
    spec = mujoco.MjSpec()
    body = spec.worldbody.add_body(name="ball")
    body.add_freejoint()
    body.add_geom(name="shell", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.1, 0, 0], mass=BALL_MASS)
    body.add_site(name="imu_site")
    return spec


def ball_scene(num_envs: int, height: float = 0.1, sensors: dict | None = None) -> tuple[Scene, object]:
    """A ball resting `height` above the ground, with the contact and IMU sensors below (or `sensors`)."""
    cfg = SceneCfg(
        num_envs=num_envs,
        entities={
            "ball": RigidObjectCfg(
                spawn=BuiltinSpawnCfg(builder=ball_spec), init_state=InitialStateCfg(pos=(0.0, 0.0, height))
            )
        },
        sensors=sensors
        or {
            "contact": ContactSensorCfg(entity_name="ball", body_names=["ball"]),
            "contact_geom": ContactSensorCfg(entity_name="ball", geom_names=["shell"], track_air_time=False),
            "imu": ImuCfg(entity_name="ball", site_name="imu_site"),
        },
    )
    scene = Scene(cfg)
    sim = make_simulator(scene.model, num_envs, SimCfg(backend="mujoco"))
    scene.bind(sim)
    return scene, sim


def test_contact_force_of_a_resting_ball_is_its_weight():
    scene, sim = ball_scene(2)
    for _ in range(200):
        sim.step()
    scene.update_sensors(0.002)
    for name in ("contact", "contact_geom"):
        data = scene.sensors[name].data
        assert data.in_contact.all()
        force = data.net_force_w.norm(dim=-1)
        torch.testing.assert_close(force, torch.full_like(force, BALL_MASS * 9.81), rtol=1e-3, atol=0.0)


def test_other_geom_keeps_only_the_contacts_against_that_geom():
    """A resting ball: against the ground it reads its weight; against its own shell (never in contact) 0."""
    scene, sim = ball_scene(
        2,
        sensors={
            "on_ground": ContactSensorCfg(entity_name="ball", body_names=["ball"], other_geom="ground"),
            "on_shell": ContactSensorCfg(entity_name="ball", body_names=["ball"], other_geom="ball/shell"),
        },
    )
    for _ in range(200):
        sim.step()
    scene.update_sensors(0.002)
    on_ground = scene.sensors["on_ground"].data.net_force_w.norm(dim=-1)
    torch.testing.assert_close(on_ground, torch.full_like(on_ground, BALL_MASS * 9.81), rtol=1e-3, atol=0.0)
    assert (scene.sensors["on_shell"].data.net_force_w == 0.0).all()


def test_air_and_contact_timers_follow_touch_down():
    scene, sim = ball_scene(2, height=0.3)  # starts 0.2 m above the ground: falls ~0.2 s
    sensor = scene.sensors["contact"]
    dt = 0.01
    steps_per_update = round(dt / sim.timestep)
    touched_down_at = None
    for k in range(60):
        for _ in range(steps_per_update):
            sim.step()
        scene.update_sensors(dt)
        if touched_down_at is None and bool(sensor.data.in_contact[0, 0]):
            touched_down_at = k
            assert sensor.compute_first_contact(dt)[0, 0]
            assert sensor.data.last_air_time[0, 0] == pytest.approx((k + 1) * dt, abs=1e-6)
            assert sensor.data.current_air_time[0, 0] == 0.0
    assert touched_down_at is not None and 15 <= touched_down_at <= 25
    assert sensor.data.current_contact_time[0, 0] > 0.3
    assert not sensor.compute_first_contact(dt)[0, 0]


def test_sensor_reset_clears_only_selected_worlds():
    scene, sim = ball_scene(2)
    for _ in range(50):
        sim.step()
        scene.update_sensors(sim.timestep)
    scene.reset_sensors(world_mask(True, False))
    data = scene.sensors["contact"].data
    assert data.current_contact_time[0, 0] == 0.0 and data.current_contact_time[1, 0] > 0.0
    assert not data.in_contact[0, 0] and data.in_contact[1, 0]


def test_imu_reads_gravity_and_rest():
    scene, sim = ball_scene(1)
    for _ in range(200):
        sim.step()
    sim.forward(all_worlds(1))
    imu = scene.sensors["imu"]
    torch.testing.assert_close(imu.projected_gravity_b, torch.tensor([[0.0, 0.0, -1.0]]), atol=1e-4, rtol=0)
    torch.testing.assert_close(imu.lin_acc_b, torch.tensor([[0.0, 0.0, 9.81]]), atol=1e-2, rtol=0)
    assert imu.ang_vel_b.abs().max() < 1e-3


def test_contact_sensor_errors_name_the_fix():
    with pytest.raises(ValueError, match=r"match no bodies.*Named bodies: ball"):
        Scene(
            SceneCfg(
                entities={"ball": RigidObjectCfg(spawn=BuiltinSpawnCfg(builder=ball_spec))},
                sensors={"c": ContactSensorCfg(entity_name="ball", body_names=["foot"])},
            )
        )
    with pytest.raises(ValueError, match="exactly one of body_names or geom_names"):
        Scene(
            SceneCfg(
                entities={"ball": RigidObjectCfg(spawn=BuiltinSpawnCfg(builder=ball_spec))},
                sensors={"c": ContactSensorCfg(entity_name="ball")},
            )
        )
    with pytest.raises(ValueError, match="which the scene lacks"):
        Scene(SceneCfg(sensors={"c": ContactSensorCfg(entity_name="robot", body_names=["x"])}))
    with pytest.raises(
        ValueError, match=r"ContactSensorCfg.other_geom: the scene has no geom 'floor'.*'ground'"
    ):
        Scene(
            SceneCfg(
                entities={"ball": RigidObjectCfg(spawn=BuiltinSpawnCfg(builder=ball_spec))},
                sensors={"c": ContactSensorCfg(entity_name="ball", body_names=["ball"], other_geom="floor")},
            )
        )
    with pytest.raises(ValueError, match="no site 'imu'"):
        Scene(
            SceneCfg(
                entities={"ball": RigidObjectCfg(spawn=BuiltinSpawnCfg(builder=ball_spec))},
                sensors={"imu": ImuCfg(entity_name="ball", site_name="imu")},
            )
        )


@requires_go1
def test_collision_filtering_and_priority():
    from roboforge.assets.robots.unitree import go1_cfg

    def colliding(cfg: ArticulationCfg) -> tuple[mujoco.MjModel, list[int]]:
        model = Scene(SceneCfg(entities={"robot": cfg})).model
        return model, [g for g in range(model.ngeom) if model.geom_contype[g] or model.geom_conaffinity[g]]

    model, geoms = colliding(go1_cfg())
    robot = [g for g in geoms if model.geom(g).name != "ground"]
    assert all(
        model.geom_contype[g] == 2 and model.geom_conaffinity[g] == 1 for g in robot
    )  # no self-contacts
    assert all(model.geom_priority[g] == 1 for g in robot)
    feet_only = go1_cfg()
    feet_only.collision_geoms = ["[FR][LR]"]
    model, geoms = colliding(feet_only)
    assert sorted(model.geom(g).name for g in geoms) == [
        "ground",
        "robot/FL",
        "robot/FR",
        "robot/RL",
        "robot/RR",
    ]
    feet_only.collision_geoms = ["paw"]
    with pytest.raises(ValueError, match=r"collision_geoms .* match no colliding geom"):
        colliding(feet_only)


@requires_go1
def test_go1_feet_carry_its_weight_standing():
    from conftest import make_task_env

    env = make_task_env("velocity-flat-go1", num_envs=2)
    actions = torch.zeros(env.num_envs, env.num_actions)
    for _ in range(50):
        env.step(actions)
    feet = env.scene.sensors["feet_contact"].data
    mass = float(env.sim.model_field("body_mass")[0].sum())  # with the randomized base mass
    total = feet.net_force_w[..., 2].abs().sum(dim=1)
    assert feet.in_contact.all()
    torch.testing.assert_close(total, torch.full_like(total, mass * 9.81), rtol=0.35, atol=0.0)


@requires_go1
def test_dropping_visual_geoms_keeps_the_physics():
    from roboforge.assets.robots.unitree import go1_cfg

    full = Scene(SceneCfg(entities={"robot": go1_cfg()})).model
    lean = Scene(SceneCfg(entities={"robot": go1_cfg()}, visual_geoms=False)).model
    assert lean.nbuffer < full.nbuffer / 50 and lean.nmesh == 0
    for name in ("body_mass", "body_inertia", "body_ipos"):
        torch.testing.assert_close(torch.as_tensor(getattr(lean, name)), torch.as_tensor(getattr(full, name)))
    states = []
    for model in (full, lean):
        data = mujoco.MjData(model)
        for _ in range(100):
            mujoco.mj_step(model, data)
        states.append(torch.as_tensor(data.qpos.copy()))
    torch.testing.assert_close(states[0], states[1], atol=1e-9, rtol=0)

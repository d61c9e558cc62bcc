"""Classic locomotion tasks: 'ant', 'humanoid' (direct envs) and 'ant-manager' build and step on both
backends, fall when the torso drops, log their bar metrics, stay graph-safe; PPO makes the ant run."""

from __future__ import annotations

import json
import time

import mujoco
import numpy as np
import pytest
import torch

from conftest import BACKENDS, make_task_env
from graph_util import HostCallRecorder
from roboforge.tasks.classic.heading import heading_state, joint_pos_unit

TASKS = {"ant": (8, 36), "humanoid": (21, 75), "ant-manager": (8, 36), "humanoid-manager": (21, 75)}
"""Task -> (actions, policy observations)."""
N = 4
SPEED, FALL_FREE = "Metrics/target/forward_speed", "Metrics/target/fall_free"


def random_actions(steps: int, num_actions: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(steps, N, num_actions, generator=g) * 2 - 1


FALLEN = {
    "ant": [0.0, 0.0, 0.26, 0.0, 1.0, 0.0, 0.0],  # on its back, the torso sphere on the ground
    "humanoid": [0.0, 0.0, 0.2, 0.7071, 0.0, -0.7071, 0.0],  # lying on its back
}
"""Root poses (position, quaternion) on the ground, below the fall heights (0.31 m, 0.8 m)."""


def fall(env, world: int) -> None:
    """Put the robot of `world` on the ground in its `FALLEN` pose, at rest."""
    robot = env.scene["robot"]
    pose = torch.tensor(FALLEN["ant" if robot.num_joints == 8 else "humanoid"], dtype=torch.float64)
    env.sim.qpos[world, robot.root_qpos_adr : robot.root_qpos_adr + 7] = pose
    env.sim.qvel[world] = 0.0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("task", sorted(TASKS))
def test_task_builds_and_steps_with_declared_shapes(task, backend):
    num_actions, obs_dim = TASKS[task]
    env = make_task_env(task, N, backend)
    assert env.num_actions == num_actions and env.obs_dims == {"policy": obs_dim}
    obs, _ = env.reset(seed=1)
    assert obs["policy"].shape == (N, obs_dim)
    for action in random_actions(6, num_actions):
        obs, reward, terminated, time_outs, _ = env.step(action)
        assert obs["policy"].shape == (N, obs_dim) and torch.isfinite(obs["policy"]).all()
        assert reward.shape == (N,) and torch.isfinite(reward).all()
        assert not (terminated | time_outs).any(), "random motor commands topple no robot in 6 steps"
    robot = env.scene["robot"]
    assert robot.num_joints == num_actions
    assert float(obs["policy"][:, 0].min()) > 0.3, "the torso height leads the observation"
    assert env.pop_episode_stats()["nan_resets"] == 0.0


@pytest.mark.parametrize("task", sorted(TASKS))
def test_a_fallen_torso_ends_the_episode_and_counts_as_a_fall(task):
    env = make_task_env(task, N)
    zero = torch.zeros(N, env.num_actions)
    for _ in range(3):
        env.step(zero)
    env.pop_episode_stats()
    robot = env.scene["robot"]
    fall(env, world=0)
    env.episode_length_buf[1] = env.max_episode_length - 1  # world 1 times out
    _, reward, terminated, time_outs, _ = env.step(zero)
    assert terminated.tolist() == [True, False, False, False]
    assert time_outs.tolist() == [False, True, False, False]
    assert float(reward[0]) < float(reward[2]), "a fall costs reward"
    assert float(robot.data.root_pos_w[0, 2]) > 0.5, "the fallen world starts over standing"
    stats = env.pop_episode_stats()
    assert stats[FALL_FREE] == 0.5, stats
    assert SPEED in stats and abs(stats[SPEED]) < 1.0
    assert stats["nan_resets"] == 0.0


@pytest.mark.parametrize(("direct", "num_actions"), [("ant", 8), ("humanoid", 21)])
def test_the_manager_based_twin_is_the_direct_task(direct, num_actions):
    """Same seed and actions: the same observations and the same falls, and rewards equal up to the manager's
    dt scaling, until the first fall (the humanoid falls within the 40 steps). After a reset the two draw their
    joint noise from differently used random streams; a new episode observes a zero last action in both. The
    direct task names the twin as its deploy_twin."""
    from roboforge.envs import load_cfg

    twin = f"{direct}-manager"
    assert load_cfg(direct).deploy_twin == twin
    actions = random_actions(40, num_actions, seed=4)
    out = {}
    for task in (direct, twin):
        env = make_task_env(task, N)
        steps = [env.step(a) for a in actions]
        rewards = torch.stack([s[1] for s in steps]) / (env.step_dt if task == twin else 1.0)
        dones = torch.stack([s[2] | s[3] for s in steps])
        after_reset = torch.stack([s[0]["policy"][:, -num_actions:] for s in steps])[dones]
        out[task] = (torch.stack([s[0]["policy"] for s in steps]), rewards, dones, after_reset)
    first = int(out[direct][2].any(1).float().argmax()) if out[direct][2].any() else len(actions)
    torch.testing.assert_close(out[direct][0][:first], out[twin][0][:first])
    torch.testing.assert_close(out[direct][1][:first], out[twin][1][:first], atol=1e-4, rtol=1e-5)
    assert torch.equal(out[direct][2][: first + 1], out[twin][2][: first + 1])
    for task in (direct, twin):
        assert not out[task][3].any(), f"{task}: a reset world observes a stale action"


def test_heading_state_reads_speed_and_angles_in_the_torso_heading():
    yaw = torch.tensor([0.0, 0.5 * torch.pi])
    quat = torch.stack((torch.cos(yaw / 2), torch.zeros(2), torch.zeros(2), torch.sin(yaw / 2)), 1)
    pos = torch.tensor([[0.0, 0.0, 0.5], [0.0, 0.0, 0.5]])
    vel = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    s = heading_state(pos, quat, vel, torch.zeros(2, 3), torch.tensor([[1000.0, 0.0], [1000.0, 0.0]]))
    torch.testing.assert_close(s.progress, torch.tensor([2.0, 0.0]))
    torch.testing.assert_close(s.lin_vel_h, torch.tensor([[2.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))
    torch.testing.assert_close(s.angle_to_target, torch.tensor([0.0, -0.5 * torch.pi]))
    torch.testing.assert_close(s.heading_proj, torch.tensor([1.0, 0.0]), atol=1e-6, rtol=0)
    torch.testing.assert_close(s.up_proj, torch.ones(2))
    limits = torch.tensor([[0.0, 2.0], [-1.0, 3.0]])
    torch.testing.assert_close(
        joint_pos_unit(torch.tensor([[0.0, 3.0]]), limits), torch.tensor([[-1.0, 1.0]])
    )


@pytest.mark.parametrize("task", sorted(TASKS))
def test_falls_and_time_outs_make_no_host_calls(task):
    env = make_task_env(task, N)
    zero = torch.zeros(N, env.num_actions)
    env.step(zero)
    fall(env, world=0)  # a fall ...
    env.episode_length_buf[1] = env.max_episode_length - 1  # ... and a time-out in the recorded steps
    recorder = HostCallRecorder()
    with recorder:
        for _ in range(3):
            env.step(zero)
    assert not recorder.calls, f"{task}: the env step makes host calls {sorted(set(recorder.calls))}"


@pytest.mark.parametrize("task", ["ant", "humanoid"])
def test_contact_buffers_hold_a_flailing_and_a_fallen_robot(task):
    """C MuJoCo counts contacts and constraint rows as MuJoCo Warp does: random full-range torques from the
    standing and from the fallen pose stay within half of the task's `nconmax` and `njmax`."""
    env = make_task_env(task, 1)
    model, rng = env.scene.model, np.random.default_rng(0)
    data, most = mujoco.MjData(model), [0, 0]
    for pose in (None, FALLEN[task]):
        mujoco.mj_resetData(model, data)
        if pose is not None:
            data.qpos[:7] = pose
        for _ in range(200):
            data.ctrl[:] = rng.uniform(-1.0, 1.0, model.nu) * model.actuator_ctrlrange[:, 1]
            mujoco.mj_step(model, data)
            most = [max(most[0], data.ncon), max(most[1], data.nefc)]
    assert most[0] >= 1, "the robot touches the ground"
    assert 2 * most[0] <= env.cfg.sim.nconmax and 2 * most[1] <= env.cfg.sim.njmax, most


@pytest.mark.slow
def test_ant_runs_faster_while_training(tmp_path):
    """20 iterations of PPO (rsl_rl, the shipped agent) on 64 worlds of the CPU (41 K env steps, C MuJoCo) with
    2 s episodes: the episodes' mean forward speed rises from about 0 to about 0.3 m/s."""
    from roboforge.rl.session import build_session
    from roboforge.rl.trainer import Trainer

    start = time.perf_counter()
    session = build_session(
        "ant", num_envs=64, device="cpu", sim="mujoco", seed=1, env_overrides={"episode_length_s": 2.0}
    )
    Trainer(session, tmp_path, max_iterations=20, quiet=True).train()
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    speed = [r[SPEED] for r in rows if SPEED in r]
    early, late = sum(speed[:3]) / 3, sum(speed[-3:]) / 3
    print(f"forward speed {early:.2f} -> {late:.2f} m/s ({time.perf_counter() - start:.0f} s)")
    assert late > early + 0.15, speed


DEFAULT_CAP = "the task's default"


def set_progress_cap(task: str, cfg, cap: float | None) -> None:
    """The speed (m/s) above which the progress reward pays no more, in a direct or manager-based config."""
    if task.endswith("-manager"):
        progress = cfg.rewards["progress"]
        progress.params = {**progress.params, "max_speed": cap}  # the terms share one params dict
    else:
        cfg.rewards.max_progress_speed = cap


@pytest.mark.parametrize(
    ("task", "cap", "cap_speed"),
    [
        ("humanoid", 2.0, 2.0),
        ("ant-manager", 2.0, 2.0),
        ("ant", DEFAULT_CAP, 6.0),
        ("ant-manager", DEFAULT_CAP, 6.0),
    ],
)
def test_a_progress_cap_pays_no_more_above_the_cap_speed(task, cap, cap_speed):
    """World 0 flies at 20 m/s along +x (towards the target): with a cap its step reward falls by the
    progress weight times (20 m/s - the cap) against no cap; the standing worlds are unaffected. The ant's
    default cap is 6 m/s."""
    from roboforge.envs import load_cfg, make_env

    rewards, dt = {}, 1.0
    for setting in (None, cap):
        cfg = load_cfg(task, num_envs=N)
        cfg.sim.backend = "mujoco"
        if setting is not DEFAULT_CAP:
            set_progress_cap(task, cfg, setting)
        env = make_env(task, cfg)
        env.reset(seed=0)
        robot = env.scene["robot"]
        env.sim.qpos[0, robot.root_qpos_adr + 2] += 1.0  # in the air: no ground friction slows it
        env.sim.qvel[0, robot.root_dof_adr] = 20.0
        rewards[setting] = env.step(torch.zeros(N, env.num_actions))[1]
        dt = env.step_dt if task == "ant-manager" else 1.0  # manager rewards are per second x dt
    drop = rewards[None] - rewards[cap]
    assert float(drop[0]) == pytest.approx((20.0 - cap_speed) * dt, rel=0.01), drop
    torch.testing.assert_close(drop[1:], torch.zeros(N - 1), atol=1e-5, rtol=0)


@pytest.mark.parametrize("cap", [0.0, -1.0])
def test_a_progress_cap_must_be_positive(cap):
    from roboforge.utils.config import ConfigError

    env = make_task_env("humanoid", N)
    env.cfg.rewards.max_progress_speed = cap
    with pytest.raises(ConfigError, match="must be > 0"):
        env.step(torch.zeros(N, env.num_actions))

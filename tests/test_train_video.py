"""`roboforge train --video-interval`: clips of the training env, off by default, graph-safe state copies,
command markers that leave the training state untouched, bad options, and the service's latest clip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cli_util import flat, invoke
from conftest import make_task_env
from graph_util import HostCallRecorder
from roboforge.render import RenderCfg
from roboforge.rl.session import build_session
from roboforge.rl.train_video import StateTap, TrainVideo
from roboforge.rl.train_video_cfg import TrainVideoCfg
from roboforge.rl.trainer import Trainer

imageio = pytest.importorskip("imageio.v2")
pytest.importorskip("imageio_ffmpeg")

SMALL = RenderCfg(width=96, height=72)


def frames_of(path: Path) -> list[np.ndarray]:
    return [frame for frame in imageio.get_reader(path)]


def not_blank(frame: np.ndarray) -> bool:
    """Several distinct colours and a share of lit pixels (the cart-pole on black)."""
    return len(np.unique(frame.reshape(-1, 3), axis=0)) > 20 and (frame.max(axis=-1) > 30).mean() > 0.005


def changed_pixels(a: np.ndarray, b: np.ndarray, by: int = 60) -> int:
    return int((np.abs(a.astype(int) - b.astype(int)).max(axis=-1) > by).sum())


def test_train_records_a_clip_every_interval_into_the_run_and_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = invoke(
        "train", "cartpole", "--num-envs", "8", "--max-iterations", "4", "--video-interval", "2",
        "--video-length", "6", "--device", "cpu", "--run-dir", str(tmp_path), "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "cartpole").iterdir()
    clips = sorted(p.name for p in (run / "videos").iterdir())
    assert clips == ["iter_000000.mp4", "iter_000002.mp4"]  # complete files only, no .part.mp4 left
    for name in clips:
        frames = frames_of(run / "videos" / name)
        assert len(frames) == 6 and frames[0].shape == (360, 480, 3)
        assert all(not_blank(f) for f in frames)
        assert changed_pixels(frames[0], frames[-1]) > 50  # the pole moves: states of different steps
    events = EventAccumulator(str(run), size_guidance={"images": 0})
    events.Reload()
    gifs = events.Images("Videos/train")
    assert [g.step for g in gifs] == [0, 2]
    assert gifs[0].encoded_image_string[:6] == b"GIF89a" and (gifs[0].width, gifs[0].height) == (240, 180)


def test_off_by_default_nothing_is_attached_or_written(tmp_path):
    session = build_session("cartpole", num_envs=8, device="cpu", sim="mujoco")
    trainer = Trainer(session, tmp_path, max_iterations=1, quiet=True)
    trainer.train()
    assert trainer.video is None and session.learner.recorder.taps == []
    assert not (tmp_path / "videos").exists()


def test_a_clip_spans_iterations_and_the_last_one_keeps_the_steps_it_has(tmp_path):
    """16 env steps per iteration: a 20-step clip from iteration 0 is full after iteration 1; the one that
    starts at iteration 2 has 16 steps when training ends."""
    session = build_session("cartpole", num_envs=8, device="cpu", sim="mujoco")
    video = TrainVideoCfg(interval=1, length=20, render=SMALL)
    Trainer(session, tmp_path, max_iterations=3, quiet=True, video=video).train()
    counts = {p.name: len(frames_of(p)) for p in sorted((tmp_path / "videos").iterdir())}
    assert counts == {"iter_000000.mp4": 20, "iter_000002.mp4": 16}


@pytest.mark.parametrize(
    ("library", "algorithm"),
    [
        ("skrl", "ppo"),
        pytest.param("sb3", "sac", marks=pytest.mark.slow),
        pytest.param("rl_games", "ppo", marks=pytest.mark.slow),
    ],
)
def test_every_library_records_clips(tmp_path, library, algorithm):
    """The tap sits on the step recorder that every library's rollout reports to (sb3: its numpy VecEnv)."""
    pytest.importorskip({"sb3": "stable_baselines3", "skrl": "skrl", "rl_games": "rl_games"}[library])
    session = build_session(
        "cartpole", num_envs=4, device="cpu", sim="mujoco", library=library, algorithm=algorithm
    )
    video = TrainVideoCfg(interval=1, length=5, render=SMALL)
    Trainer(session, tmp_path, max_iterations=2, quiet=True, video=video).train()
    clips = sorted((tmp_path / "videos").iterdir())
    assert [p.name for p in clips] == ["iter_000000.mp4", "iter_000001.mp4"]
    assert all(len(frames_of(p)) == 5 for p in clips)


def test_the_state_copy_is_graph_safe_and_stops_when_full():
    env = make_task_env("cartpole", num_envs=4)
    env.reset()
    tap = StateTap({"qpos": lambda: env.sim.qpos}, worlds=2, length=3)
    actions = torch.zeros(env.num_envs, env.num_actions)
    seen = []
    env.step(actions + 0.5)
    tap()  # idle (the cursor at the end): writes nothing
    assert not tap.buffers["qpos"].any() and env.sim.qpos[:2].any()
    tap.start()
    recorder = HostCallRecorder()
    for _ in range(5):
        env.step(actions + 0.5)
        with recorder:
            tap()
        seen.append(env.sim.qpos[:2].clone())
    assert not recorder.calls, f"the state copy makes host calls {sorted(set(recorder.calls))}"
    assert tap.recorded() == 3
    rows = tap.rows(3)["qpos"]
    assert torch.equal(rows, torch.stack(seen[:3]).to(rows.dtype))  # steps 4 and 5 wrote nothing


def test_inside_the_rsl_rl_rollout_step_no_host_calls_markers_drawn_and_the_state_left_as_it_was(tmp_path):
    """reach-ur5e draws its target: the tap copies qpos, qvel, sensordata and the command each step of
    rsl_rl's device rollout step (the function CUDA captures) without a host call; rendering puts recorded
    rows into the env for the markers and restores the live ones bit for bit."""
    from roboforge.rl.libraries.rsl_rl_rollout import RolloutStep

    session = build_session("reach-ur5e", num_envs=4, device="cpu", sim="mujoco")
    env, learner = session.env, session.learner
    cfg = TrainVideoCfg(interval=1, length=6, render=RenderCfg(width=320, height=240))
    video = TrainVideo(env, learner.recorder, tmp_path, cfg)
    assert video.draws_markers
    learner.alg.train_mode()
    rollout = RolloutStep(learner.alg, env, learner.recorder, learner.clip_actions, cuda_graph=False)
    video.before_iteration(0)
    calls = HostCallRecorder()
    with torch.no_grad():
        rollout._step()  # the first call allocates rsl_rl's buffers
        with calls:
            for _ in range(cfg.length - 1):
                rollout._step()
    assert not calls.calls, f"the rollout step with the tap makes host calls {sorted(set(calls.calls))}"
    term = env.command_manager.terms["ee_pose"]
    live = [env.sim.qpos, env.sim.qvel, env.sim.sensordata, term.command]
    before = [t.clone() for t in live]
    assert torch.equal(video.tap.rows(cfg.length)["qpos"][-1], env.sim.qpos[:1])  # the last step's state
    path = video.after_iteration(None)
    assert path is not None and path == tmp_path / "videos" / "iter_000000.mp4"
    for now, then in zip(live, before, strict=True):
        assert torch.equal(now, then)
    frames = frames_of(path)
    plain = video.renderer.frame(video.tap.rows(1)["qpos"][0].numpy().astype(np.float64))
    assert len(frames) == 6 and changed_pixels(frames[0], plain, by=40) > 20  # target axes, ee sphere
    video.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--video-interval", "0"], "--video-interval must be >= 1, got 0."),
        (["--video-interval", "2", "--video-length", "0"], "--video-length 0: give 1 to 2000 env steps."),
        (["--video-interval", "2", "--video-worlds", "17"], "--video-worlds 17: give 1 to 16."),
        (["--video-length", "50"], "shape the clips of --video-interval; add --video-interval N."),
        (
            ["--video-interval", "2", "--video-worlds", "9", "--num-envs", "4"],
            "--video-worlds 9: give 1 to 4 (the env has 4).",
        ),
    ],
)
def test_bad_video_options_are_one_line(tmp_path, args, message):
    result = invoke(
        "train", "cartpole", "--max-iterations", "1", "--device", "cpu", "--run-dir", str(tmp_path), *args
    )
    assert result.exit_code == 2 and message in flat(result.output), result.output
    assert "Traceback" not in result.output


def test_without_the_video_extra_the_error_names_it(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "imageio_ffmpeg" else real(name, *a)
    )
    result = invoke(
        "train", "cartpole", "--video-interval", "5", "--device", "cpu", "--run-dir", str(tmp_path)
    )
    assert result.exit_code == 2
    assert "pip install 'roboforge[video]'" in flat(result.output)


def test_without_opengl_the_error_names_the_packages(tmp_path):
    env = {**os.environ, "MUJOCO_GL": "glfw"}  # GLFW without a display: no OpenGL context
    env.pop("DISPLAY", None)
    cmd = [sys.executable, "-m", "roboforge", "train", "cartpole", "--num-envs", "4", "--max-iterations", "1",
           "--video-interval", "1", "--device", "cpu", "--run-dir", str(tmp_path), "--quiet"]  # fmt: skip
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "apt-get install libegl1 libgl1-mesa-dri" in " ".join(out.stderr.split())


# ---- the job service ------------------------------------------------------------------------------------

JOB = {"task": "cartpole", "policy_type": "PPO", "num_envs": 32, "device": "cpu", "num_iterations": 20}


def test_service_job_records_clips_and_serves_the_latest(client, cfg):
    from roboforge.service.jobspec import train_command

    started = client.post("/reinforcement-learning", json={**JOB, "video_interval": 5})
    assert started.status_code == 202, started.text
    job_id = started.json()["job_id"]
    view = client.get(f"/jobs/{job_id}").json()
    assert view["video_interval"] == 5 and view["latest_video_link"].endswith(
        f"/jobs/{job_id}/videos/latest.mp4"
    )
    assert json.loads((cfg.jobs_dir / job_id / "job.json").read_text())["video_interval"] == 5
    cmd = train_command(client.app.state.ctx.store.get(job_id), None)
    assert cmd[cmd.index("--video-interval") + 1] == "5"

    latest = client.get(f"/jobs/{job_id}/videos/latest.mp4")
    assert latest.status_code == 404 and "no training clip yet" in latest.json()["detail"]
    videos = cfg.jobs_dir / job_id / "cartpole" / "2026-01-01_00-00-00" / "videos"
    (videos.parent / "params").mkdir(parents=True)
    videos.mkdir()
    for name, data in (
        ("iter_000000.mp4", b"clip-0"),
        ("iter_000010.mp4", b"clip-10"),
        ("iter_000015.part.mp4", b"x"),
    ):
        (videos / name).write_bytes(data)
    latest = client.get(f"/jobs/{job_id}/videos/latest.mp4")
    assert latest.status_code == 200 and latest.content == b"clip-10"
    assert latest.headers["content-type"] == "video/mp4"
    kinds = {
        a["path"].rsplit("/", 1)[-1]: a["kind"]
        for a in client.get(f"/jobs/{job_id}/artifacts").json()["artifacts"]
    }
    assert kinds.get("iter_000010.mp4") == "video" and "iter_000015.part.mp4" not in kinds
    (videos / "iter_000020.mp4").symlink_to(cfg.data_dir / "outside.mp4")  # a link out of the job's folder
    (cfg.data_dir / "outside.mp4").write_bytes(b"secret")
    assert client.get(f"/jobs/{job_id}/videos/latest.mp4").content == b"clip-10"
    plain = client.post("/reinforcement-learning", json=JOB).json()["job_id"]
    assert client.get(f"/jobs/{plain}").json()["latest_video_link"] is None
    assert client.get("/jobs/no_such_job/videos/latest.mp4").status_code == 404


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"video_interval": 0}, "greater than or equal to 1"),
        ({"video_interval": "5"}, "valid integer"),
        (
            {"video_interval": 1, "num_iterations": 500},
            "500 iterations with a clip every 1 make 500 clips; at most 100",
        ),
    ],
)
def test_service_bad_video_interval_is_a_422_naming_it(client, change, message):
    response = client.post("/reinforcement-learning", json={**JOB, **change})
    assert response.status_code == 422, response.text
    assert "video_interval" in response.json()["message"] and message in response.json()["message"]
    assert client.get("/jobs").json()["count"] == 0


def test_service_sweeps_record_no_clips(client):
    body = {
        **JOB,
        "video_interval": 5,
        "trials": 2,
        "params": ["agent.algorithm.learning_rate=loguniform:1e-4:1e-2"],
    }
    response = client.post("/sweeps", json=body)
    assert response.status_code == 422 and "record no clips" in response.json()["message"]


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="Debian chromium not installed")
def test_dashboard_plays_the_latest_clip_of_a_real_job(tmp_path):
    """A job with video_interval runs `roboforge train --video-interval`; its page's <video> plays the clip."""
    from playwright.sync_api import sync_playwright

    from service_util import LiveServer, kill_job_processes, wait_status

    server = LiveServer(tmp_path / "svc", max_concurrent=1).start()
    try:
        with server.client() as api:
            body = {**JOB, "num_envs": 8, "num_iterations": 2, "video_interval": 1}
            job_id = api.post("/reinforcement-learning", json=body).json()["job_id"]
            job = wait_status(api, job_id, ("succeeded", "failed"), timeout=180)
            assert job["status"] == "succeeded", api.get(f"/logs/{job_id}.log").text
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"]
            )
            page = browser.new_page()
            page.goto(f"{server.url}/#/jobs/{job_id}")
            page.wait_for_function(
                "() => { const v = document.getElementById('j-video'); return v.readyState >= 1 && v.videoWidth > 0; }",
                timeout=30_000,
            )
            assert page.evaluate("document.getElementById('j-video').videoWidth") == 480
            # 200 steps do not fit in 2 x 16: the clip of iteration 0 was written with 32 when training ended
            assert "iter_000000.mp4" in page.locator("#video-name").inner_text()
            browser.close()
    finally:
        server.stop()
        kill_job_processes(server.data_dir)

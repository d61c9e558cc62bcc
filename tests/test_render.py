"""Rendering for people: every task's frame, determinism, command markers, MP4s that survive a crash, errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from roboforge.envs import list_tasks, load_cfg, make_env
from roboforge.managers import CommandMarker
from roboforge.render import RenderCfg, VideoWriter, WorldRenderer
from roboforge.render.frames import software_opengl
from roboforge.utils.errors import UserInputError

pytest.importorskip("imageio_ffmpeg")

SMALL = RenderCfg(width=96, height=72)


def cpu_env(task: str, num_envs: int = 2, **overrides):
    cfg = load_cfg(task, num_envs=num_envs)
    cfg.sim.backend = "mujoco"
    if hasattr(cfg.scene, "visual_geoms"):
        cfg.scene.visual_geoms = True
    env = make_env(task, cfg)
    env.reset(seed=1)
    return env


def frame_count(path) -> int:
    import imageio_ffmpeg

    return imageio_ffmpeg.count_frames_and_secs(str(path))[0]


def qpos_of(env, worlds: int = 1) -> np.ndarray:
    return env.sim.qpos[:worlds].numpy().astype(np.float64)


@pytest.mark.parametrize("task", sorted(list_tasks()))
def test_every_task_renders_a_picture(task):
    env = cpu_env(task)
    renderer = WorldRenderer(env.scene.model, SMALL)
    frame = renderer.frame(qpos_of(env))
    renderer.close()
    assert frame.shape == (72, 96, 3) and frame.dtype == np.uint8
    # not blank: several distinct colours, a good share of pixels lit
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 20
    assert (frame.max(axis=-1) > 30).mean() > 0.02


def test_the_same_state_gives_the_same_frame_and_another_state_another():
    env = cpu_env("cartpole")
    renderer = WorldRenderer(env.scene.model, SMALL)
    first = renderer.frame(qpos_of(env))
    assert np.array_equal(first, renderer.frame(qpos_of(env)))
    moved = qpos_of(env).copy()
    moved[0, 1] += 0.8  # swing the pole
    assert not np.array_equal(first, renderer.frame(moved))


def test_shadows_are_drawn_when_asked_and_off_by_default_on_a_cpu_opengl():
    """A CPU OpenGL (Mesa's llvmpipe, as on the test machines) drew the Go1 5x slower with shadows."""
    env = cpu_env("velocity-flat-go1", num_envs=1)
    frames = {}
    for shadows in (True, False, None):
        renderer = WorldRenderer(env.scene.model, RenderCfg(width=96, height=72, shadows=shadows))
        frames[shadows] = renderer.frame(qpos_of(env))
        software = software_opengl()  # the renderer's context is current
        assert renderer.shadows is (shadows if shadows is not None else not software)
        renderer.close()
    assert not np.array_equal(frames[True], frames[False]), "the shadow is drawn"
    assert np.array_equal(frames[None], frames[not software])


def test_worlds_tile_into_a_grid():
    env = cpu_env("cartpole", num_envs=4)
    frame = WorldRenderer(env.scene.model, RenderCfg(width=96, height=72, worlds=3)).frame(qpos_of(env, 3))
    assert frame.shape == (2 * 72, 2 * 96, 3)
    assert frame[72:, 96:].max() == 0  # the fourth tile of a 2x2 grid stays empty


def test_reach_draws_its_target_pose():
    env = cpu_env("reach-ur5e")
    renderer = WorldRenderer(env.scene.model, RenderCfg(width=160, height=120))
    markers = env.command_manager.markers(0)
    assert {m.kind for m in markers} == {"frame", "sphere"}
    plain = renderer.frame(qpos_of(env), [[]])
    drawn = renderer.frame(qpos_of(env), [markers])
    changed = np.abs(drawn.astype(int) - plain.astype(int)).max(axis=-1) > 40
    assert changed.sum() > 20  # the target's axes and the end-effector sphere are in the picture


def test_velocity_task_draws_commanded_and_actual_velocity():
    env = cpu_env("velocity-flat-go1")
    markers = env.command_manager.markers(0)
    assert [m.kind for m in markers] == ["arrow", "arrow"]
    base = env.scene["robot"].data.root_pos_w[0]
    assert markers[0].start[2] == pytest.approx(base[2].item() + 0.3)
    commanded = env.command_manager.get_command("base_velocity")[0]
    length = np.linalg.norm(np.subtract(markers[0].end, markers[0].start))
    assert length == pytest.approx(commanded[:2].norm().item(), abs=1e-5)


def test_markers_fit_a_full_scene():
    env = cpu_env("cartpole")
    renderer = WorldRenderer(env.scene.model, SMALL)
    many = [CommandMarker("sphere", (0.0, 0.0, 0.0))] * (
        renderer.renderer.scene.maxgeom + 5
    )  # more than fit: skipped
    assert renderer.frame(qpos_of(env), [many]).shape == (72, 96, 3)


def test_a_scene_without_meshes_still_shows_its_robot():
    """The training scene of a legged task drops the robot's meshes (`scene.visual_geoms=False`, and the
    exported scene that `deploy --video` renders is that one): the robot is drawn by its collision shapes,
    so moving its joints changes the picture."""
    cfg = load_cfg("velocity-flat-go1", num_envs=1)
    cfg.sim.backend = "mujoco"
    assert not cfg.scene.visual_geoms
    env = make_env("velocity-flat-go1", cfg)
    env.reset(seed=1)
    renderer = WorldRenderer(env.scene.model, RenderCfg(width=96, height=72, markers=False))
    standing = qpos_of(env)
    bent = standing.copy()
    bent[0, 7:] += 0.5  # the joints only: the base, which the camera follows, stays put
    changed = (renderer.frame(standing) != renderer.frame(bent)).any(-1).mean()
    renderer.close()
    assert changed > 0.05


def test_video_writer_writes_every_frame(tmp_path):
    imageio = pytest.importorskip("imageio.v2")
    writer = VideoWriter(tmp_path / "clip.mp4", fps=25)
    for i in range(12):
        writer.append(np.full((64, 96, 3), i * 20, dtype=np.uint8))
    path = writer.close()
    assert path.is_file() and not list(tmp_path.glob("*.part*"))
    frames = [frame for frame in imageio.get_reader(path)]
    assert len(frames) == 12 and frames[0].shape == (64, 96, 3)
    assert frames[-1].mean() > frames[0].mean() + 100


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_while_playing_still_leaves_a_playable_video(tmp_path, monkeypatch, stop):
    """Ctrl-C or SIGTERM (which killed the process and lost the video) in the middle of `play --video`: the
    frames so far are a finished MP4."""
    from roboforge.rl.play import VideoRequest, play_policy
    from roboforge.rl.session import build_session
    from roboforge.rl.trainer import Trainer

    session = build_session("cartpole", num_envs=8, device="cpu", sim="mujoco")
    (tmp_path / "run").mkdir()
    Trainer(session, tmp_path / "run", max_iterations=1, quiet=True).train()
    checkpoint = sorted((tmp_path / "run").glob("model_*.pt"))[-1]
    env = session.env
    real_step, calls = env._step_impl, [0]

    def step_then_interrupt(action):
        calls[0] += 1
        if calls[0] == 7:
            os.kill(os.getpid(), stop)
        return real_step(action)

    monkeypatch.setattr(env, "_step_impl", step_then_interrupt)
    request = VideoRequest(tmp_path / "v.mp4", length=50, render=SMALL)
    with pytest.raises(KeyboardInterrupt):
        play_policy(session, checkpoint, steps=50, video=request)
    assert frame_count(tmp_path / "v.mp4") == 6


def test_render_sizes_are_checked():
    with pytest.raises(UserInputError, match=r"--worlds 17: give 1 to 16"):
        RenderCfg(worlds=17).check(num_envs=64)
    with pytest.raises(UserInputError, match=r"--worlds 3: give 1 to 2 \(the env has 2\)"):
        RenderCfg(worlds=3).check(num_envs=2)
    with pytest.raises(UserInputError, match="at most"):
        RenderCfg(width=4000, height=3000).check(num_envs=1)
    with pytest.raises(UserInputError, match=r"ending in \.mp4"):
        VideoWriter(Path("clip.avi"), fps=30)


def test_without_an_opengl_context_the_error_names_the_packages():
    code = (
        "from roboforge.envs import load_cfg, make_env\n"
        "from roboforge.render import RenderCfg, WorldRenderer\n"
        "cfg = load_cfg('cartpole', num_envs=1); cfg.sim.backend = 'mujoco'\n"
        "env = make_env('cartpole', cfg)\n"
        "try:\n"
        "    WorldRenderer(env.scene.model, RenderCfg())\n"
        "except Exception as err:\n"
        "    print(type(err).__name__, err)\n"
    )
    # GLFW without a display: MuJoCo imports, but no OpenGL context can be made
    env = {**os.environ, "MUJOCO_GL": "glfw"}
    env.pop("DISPLAY", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert "UserInputError" in out.stdout, out.stdout + out.stderr
    assert "apt-get install libegl1 libgl1-mesa-dri" in out.stdout


def test_play_video_command_writes_an_mp4(tmp_path):
    from cli_util import invoke

    result = invoke(
        "train", "cartpole", "--num-envs", 8, "--max-iterations", 1, "--run-dir", tmp_path,
        "--device", "cpu", "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    clip = tmp_path / "clip.mp4"
    result = invoke(
        "play", "cartpole", "--checkpoint", tmp_path / "cartpole", "--device", "cpu", "--num-envs", 2,
        "--steps", 10, "--video", "--video-length", 10, "--worlds", 2, "--video-path", clip, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert clip.is_file() and clip.stat().st_size > 1000
    bad = invoke(
        "play", "cartpole", "--checkpoint", tmp_path / "cartpole", "--device", "cpu", "--steps", 5, "--video"
    )
    assert bad.exit_code == 2 and "--video-length 200 is more than --steps 5" in " ".join(bad.output.split())


def test_deploy_video_records_sim_episodes_without_torch(tmp_path):
    from export_util import exported_cartpole

    _, policy = exported_cartpole(tmp_path / "export")
    clip = tmp_path / "deploy.mp4"
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from roboforge.cli import app\n"
        f"args = ['deploy', {str(policy)!r}, '--episodes', '2', '--video', '--video-length', '12',\n"
        f"        '--video-path', {str(clip)!r}, '--json']\n"
        "result = CliRunner().invoke(app, args)\n"
        "assert result.exit_code == 0, result.output\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print(result.stdout)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert frame_count(clip) == 12 and '"video"' in out.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "roboforge", "deploy", str(policy), "--bench", "--video"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert bad.returncode == 2 and "--video records sim episodes" in " ".join(bad.stderr.split())
    blocked = subprocess.run(
        [sys.executable, "-m", "roboforge", "deploy", str(policy), "--video", "--video-path", str(clip / "v.mp4")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert blocked.returncode == 2 and f"{clip} is a file, not a folder" in " ".join(blocked.stderr.split())


def test_without_libegl_roboforge_leaves_mujocos_opengl_choice_alone():
    """A headless machine without libEGL: `import roboforge` must not pick EGL (MuJoCo's import would fail)."""
    code = (
        "import ctypes.util, os\n"
        "ctypes.util.find_library = lambda name: None\n"
        "import roboforge, mujoco\n"
        "print(os.environ.get('MUJOCO_GL'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "DISPLAY")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "None"


@pytest.mark.slow
def test_readme_pictures_script_draws_the_robots(tmp_path):
    """`scripts/readme_pictures.py` writes the README's three pictures with the robots in them: the dark Go1
    (about 4% of the picture below the sky; 0.04% without its meshes), the white Panda, the cart-pole's
    orange pole and blue cart."""
    import imageio.v3 as iio

    script = Path(__file__).parents[1] / "scripts" / "readme_pictures.py"
    subprocess.run([sys.executable, str(script), str(tmp_path)], check=True, capture_output=True, timeout=600)
    go1, panda, cartpole = (iio.imread(tmp_path / n)[..., :3].astype(int) for n in PICTURES)
    assert (go1[40:].max(-1) < 50).mean() > 0.01
    assert (panda[40:].min(-1) > 200).mean() > 0.005
    red, blue = cartpole[..., 0], cartpole[..., 2]
    assert ((red > 150) & (blue < 100)).mean() > 0.0003 and ((blue > 150) & (red < 100)).mean() > 0.001


PICTURES = ("go1.png", "lift_panda.png", "cartpole_rgb.png")


def test_only_the_terrain_tiles_near_the_robot_are_drawn():
    """A generated terrain has dozens of height-field tiles; a frame draws those within `terrain_radius` of
    the tracked body, and the env's own model keeps its geom groups."""
    import mujoco

    cfg = load_cfg("velocity-rough-go1", num_envs=1)
    cfg.sim.backend = "mujoco"
    env = make_env("velocity-rough-go1", cfg)
    env.reset(seed=1)
    model = env.scene.model
    groups_before = model.geom_group.copy()
    tiles = np.flatnonzero(model.geom_type == mujoco.mjtGeom.mjGEOM_HFIELD)
    assert len(tiles) > 20

    def drawn_tiles(radius: float) -> int:
        renderer = WorldRenderer(model, RenderCfg(width=96, height=72, markers=False, terrain_radius=radius))
        frame = renderer.frame(qpos_of(env))
        scene = renderer.renderer.scene
        drawn = sum(scene.geoms[i].type == mujoco.mjtGeom.mjGEOM_HFIELD for i in range(scene.ngeom))
        renderer.close()
        assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 20  # the robot and the ground near it
        return drawn

    near, everything = drawn_tiles(12.0), drawn_tiles(1e4)
    assert everything == len(tiles) and 1 <= near <= 9
    assert np.array_equal(model.geom_group, groups_before)
    with pytest.raises(UserInputError, match="terrain_radius"):
        RenderCfg(terrain_radius=0.0).check(1)

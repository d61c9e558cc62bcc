"""The command line: task list, help, override parsing, JSON on a clean stdout."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from cli_util import flat, invoke
from roboforge.cli import app, parse_overrides


def test_list_json_includes_cartpole_tasks():
    result = invoke("list", "--json")
    assert result.exit_code == 0
    tasks = json.loads(result.stdout)
    assert "cartpole" in tasks and "cartpole-direct" in tasks
    assert "Balance" in tasks["cartpole"]["description"]
    assert tasks["cartpole"]["libraries"] == {
        "rsl_rl": ["ppo"], "skrl": ["ppo", "sac"], "rl_games": ["ppo"], "sb3": ["ppo", "sac"]
    }  # fmt: skip
    assert tasks["cartpole-lstm"]["libraries"] == {"rsl_rl": ["ppo"]}


def test_list_table():
    result = invoke("list")
    assert result.exit_code == 0
    assert "cartpole-direct" in result.stdout and "skrl (+sac)" in result.stdout


def test_override_format_errors():
    result = invoke("train", "cartpole", "--device", "cpu", "--override", "decimation=4")
    assert result.exit_code == 2
    assert "env.<path>=<value>" in flat(result.output)
    assert parse_overrides(
        ["env.decimation=4", "agent.algorithm.learning_rate=1e-4", "env.sim.backend=mjwarp"]
    ) == (
        {"decimation": 4, "sim.backend": "mjwarp"},
        {"algorithm.learning_rate": 1e-4},
    )


def command_names() -> list[str]:
    return [c.name or c.callback.__name__ for c in app.registered_commands]


def test_all_commands_are_there():
    assert {"list", "train", "eval", "play", "bench"} <= set(command_names())


@pytest.mark.parametrize("command", command_names())
def test_every_command_has_help(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output and command in result.output
    assert "--help" in result.output


def test_top_level_help_lists_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    for name in command_names():
        assert name in result.output


def test_json_output_survives_c_level_writes_to_stdout():
    """MuJoCo Warp's kernel warnings are printf to fd 1; `--json` must still print only the JSON."""
    code = (
        "import os\n"
        "from roboforge.cli.run import run_command\n"
        "def body():\n"
        "    os.write(1, b'solver warning from C\\n')\n"
        "    print('python noise')\n"
        "    return {'ok': 1}\n"
        "run_command(body, as_json=True)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == {"ok": 1}
    assert "solver warning from C" in result.stderr and "python noise" in result.stderr


def test_a_native_crash_prints_where_it_happened():
    """A fatal signal in native code (here an abort) still leaves the Python stack in the log."""
    code = "import os, roboforge.cli as cli; cli.app = lambda: os.abort(); cli.main()"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == -signal.SIGABRT
    assert "Fatal Python error: Aborted" in result.stderr and "in <lambda>" in result.stderr, result.stderr


def test_export_lists_a_folder_of_many_files_as_one_line():
    from pathlib import Path

    from roboforge.cli.export import file_listing

    out = Path("/runs/exported")
    tiles = [out / "scene_assets" / f"terrain_{i}_{j}.bin" for i in range(7) for j in range(12)]
    meshes = [out / "scene_assets" / f"{m}.stl" for m in ("trunk", "hip", "calf")]
    files = [out / "policy.onnx", out / "scene.xml", *meshes, *tiles, out / "policy.json"]
    assert file_listing(files) == [
        "/runs/exported/policy.onnx",
        "/runs/exported/scene.xml",
        "/runs/exported/policy.json",
        "/runs/exported/scene_assets/ (87 files: 84 .bin, 3 .stl)",
    ]
    one_mesh = [out / "policy.onnx", out / "scene_assets" / "arm.stl"]
    assert file_listing(one_mesh) == [str(f) for f in one_mesh]

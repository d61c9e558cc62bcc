"""Where the command line writes (issue: no traceback, nothing lost): an output path blocked by a file, or
one the system refuses, is one line naming the path and the fix; nothing already there is overwritten."""

# ruff: noqa: F811  (`cli_run` is a pytest fixture imported from cli_util)
from __future__ import annotations

from pathlib import Path

from cli_util import cli_run, invoke, one_line_error  # noqa: F401  (cli_run is a fixture)


def test_run_dir_that_is_a_file_is_one_line(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    one_line_error(invoke("train", "cartpole", "--device", "cpu", "--run-dir", path), "is a file")


def test_export_output_that_is_a_file_is_one_line(cli_run, tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    one_line_error(
        invoke("export", "cartpole", "--checkpoint", cli_run, "--output", path), "--output", "is a file"
    )
    inside = path / "exported"
    one_line_error(
        invoke("export", "cartpole", "--checkpoint", cli_run, "--output", inside),
        f"{inside}: {path} is a file",
    )
    assert path.read_text() == "x"


def test_a_folder_the_system_refuses_is_one_line_naming_it(cli_run):
    """mkdir under /proc fails (ENOENT, even for root): the line names the folder and says what to check,
    not Python's `[Errno 2] ...: '/proc/...'`; exit 1 as for a full disk."""
    refused = Path("/proc/roboforge-test")
    result = invoke("export", "cartpole", "--checkpoint", cli_run, "--output", refused / "exported")
    one_line_error(result, f"error: {refused}: No such file or directory; check the path", code=1)
    assert "Errno" not in result.output


def test_a_file_where_an_output_folder_goes_is_one_line(cli_run, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for args, option in (
        (
            ("play", "cartpole", "--checkpoint", cli_run, "--video", "--video-path", blocker / "v.mp4"),
            "--video-path",
        ),
        (("plot", cli_run, "-o", blocker / "curves.png"), "--out"),
        (("serve", "--data-dir", blocker / "svc"), "data_dir (--data-dir)"),
    ):
        one_line_error(invoke(*args), option, f"{blocker} is a file, not a folder")
    assert blocker.read_text() == "x"

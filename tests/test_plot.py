"""`roboforge plot`: curves of real training runs drawn into a PNG, and its input errors."""

# ruff: noqa: F811  (`cli_run` is a pytest fixture imported from cli_util)

from __future__ import annotations

import json

import numpy as np
import pytest

from cli_util import cli_run, flat, invoke  # noqa: F401  (cli_run is a fixture)

pytest.importorskip("matplotlib")

BLUE, ORANGE = (0x1F, 0x77, 0xB4), (0xFF, 0x7F, 0x0E)  # matplotlib's first two line colours


def pixels_near(png, rgb, tol=12) -> int:
    import matplotlib.image as mpimg

    image = (mpimg.imread(png)[..., :3] * 255).astype(int)
    return int((np.abs(image - np.array(rgb)).max(axis=-1) <= tol).sum())


def copy_of_run(run, tmp_path, name, reward_scale):
    """A second run folder: the same records with the reward scaled (a different curve)."""
    other = tmp_path / "cartpole" / name
    other.mkdir(parents=True)
    lines = []
    for line in (run / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        record["Train/mean_reward"] = record["Train/mean_reward"] * reward_scale
        lines.append(json.dumps(record))
    (other / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    return other


def test_plot_of_a_training_run_draws_its_curves(cli_run):
    result = invoke("plot", cli_run, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    png = cli_run / "curves.png"
    assert payload["png"] == str(png) and png.is_file()
    assert {"Train/mean_reward", "Train/mean_episode_length", "Loss/value", "Perf/total_fps"} <= set(
        payload["panels"]
    )
    assert pixels_near(png, BLUE) > 50  # the run's lines are drawn


def test_plot_overlays_runs_with_their_labels(cli_run, tmp_path):
    other = copy_of_run(cli_run, tmp_path, "other", reward_scale=0.5)
    out = tmp_path / "compare.png"
    result = invoke(
        "plot", cli_run, other, "--label", "first", "--label", "second",
        "--metric", "Train/mean_reward", "-o", out, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["panels"] == ["Train/mean_reward"]
    assert pixels_near(out, BLUE) > 20 and pixels_near(out, ORANGE) > 20


def test_plot_says_what_it_wrote_in_words(cli_run, tmp_path):
    result = invoke("plot", cli_run, "--metric", "Train/mean_reward", "-o", tmp_path / "c.png")
    assert result.exit_code == 0, result.output
    assert "(1 panel, 1 run)" in flat(result.output)  # was "(1 panels, 1 runs)"


def test_a_task_folder_plots_its_newest_run(cli_run, tmp_path):
    result = invoke("plot", cli_run.parent, "-o", tmp_path / "c.png", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["runs"] == [str(cli_run)]
    said = flat(invoke("plot", cli_run.parent, "-o", tmp_path / "c.png").output)
    assert f"its newest run, {cli_run.name}" in said, said  # which run a task folder stood for


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{missing}"], "no metrics.jsonl there"),
        (["{run}", "--metric", "Metrics/(("], "is not a regular expression"),
        (["{run}", "--metric", "Nothing/.*"], "matches no metric of these runs; they have:"),
        (["{run}", "--label", "a", "--label", "b"], "--label given 2 times for 1 run;"),
        (["{run}", "-o", "{tmp}/curves.jpg"], "give a file name ending in .png"),
    ],
)
def test_plot_input_errors_are_one_line(cli_run, tmp_path, args, message):
    fill = {"run": str(cli_run), "missing": str(tmp_path / "nope"), "tmp": str(tmp_path)}
    result = invoke("plot", *[a.format(**fill) for a in args])
    assert result.exit_code == 2, result.output
    assert message in flat(result.output) and "Traceback" not in result.output


def test_damaged_lines_of_metrics_jsonl_are_skipped(cli_run, tmp_path):
    """A line that is JSON but no object, or bytes that are no UTF-8, was an internal error of plot."""
    run = tmp_path / "cartpole" / "damaged"
    run.mkdir(parents=True)
    good = (cli_run / "metrics.jsonl").read_bytes()
    (run / "metrics.jsonl").write_bytes(b"[1, 2]\n\xff\xfe garbage\n" + good + b'"x"\n')
    result = invoke("plot", run, "-o", tmp_path / "c.png", "--json")
    assert result.exit_code == 0, result.output
    assert "Train/mean_reward" in json.loads(result.stdout)["panels"]
    (run / "metrics.jsonl").write_bytes(b"[1, 2]\n\xff\xfe\n")
    result = invoke("plot", run, "-o", tmp_path / "c.png")
    assert result.exit_code == 2 and "has no iteration records yet" in flat(result.output), result.output

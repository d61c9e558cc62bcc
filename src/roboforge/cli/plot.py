"""`roboforge plot`: training curves of runs as a PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from roboforge.cli.app import Json, app
from roboforge.cli.run import run_command
from roboforge.utils.console import count, err_console
from roboforge.utils.files import check_folder


@app.command(
    epilog="Examples: roboforge plot runs/cartpole -o curves.png | roboforge plot runs/go1/a runs/go1/b "
    "--label lr=1e-3 --label lr=3e-4 --metric 'Metrics/.*' -o compare.png"
)
def plot(
    runs: Annotated[
        list[Path], typer.Argument(metavar="RUN", help="Run folders (or task folders: their newest run).")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="PNG to write (default: curves.png in the first run).")
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            help="Regular expression of the metrics to draw (repeatable; default: reward, episode length, "
            "Metrics/.*, Loss/.*, Policy/.*, env-steps/s).",
        ),
    ] = None,
    label: Annotated[
        list[str] | None, typer.Option("--label", help="Legend label per run, in order (default: task/run).")
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="Figure title.")] = None,
    as_json: Json = False,
) -> None:
    """Plot mean reward, episode length, each task metric, the losses and env-steps/s of RUNS, overlaid."""

    def body() -> dict:
        from roboforge.rl import plot as curves
        from roboforge.utils.errors import UserInputError

        labels = label or []
        if labels and len(labels) != len(runs):
            raise UserInputError(
                f"--label given {count(len(labels), 'time')} for {count(len(runs), 'run')}; give one per run."
            )
        folders = [curves.run_folder(run) for run in runs]
        loaded = [curves.load_curves(f, labels[i] if labels else None) for i, f in enumerate(folders)]
        panels = curves.choose_panels(loaded, metric)
        if out is not None:
            check_folder("--out", out, file=True)
        path = curves.plot_runs(loaded, panels, out or folders[0] / "curves.png", title)
        if not as_json:
            for given, folder in zip(runs, folders, strict=True):
                if folder != given:
                    err_console().print(f"{given}: its newest run, {folder.name}")
            err_console().print(f"wrote {path} ({count(len(panels), 'panel')}, {count(len(loaded), 'run')})")
        return {"png": str(path), "panels": panels, "runs": [str(f) for f in folders]}

    run_command(body, as_json)

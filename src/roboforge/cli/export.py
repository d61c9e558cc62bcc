"""`roboforge export`: checkpoint -> policy.onnx / policy.pt with metadata, optionally parity-checked."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from roboforge.cli.app import Checkpoint, Imports, Json, app
from roboforge.cli.imports import import_modules, import_run_modules
from roboforge.cli.run import parse_overrides, run_command
from roboforge.export.formats import check_format
from roboforge.utils.console import err_console
from roboforge.utils.errors import UserInputError

console = err_console()


@app.command(
    "export",
    epilog="Examples: roboforge export cartpole --checkpoint runs/cartpole --check | "
    "roboforge export cartpole-lstm --checkpoint runs/cartpole-lstm/<run> --format jit",
)
def export_cmd(
    task: Annotated[str, typer.Argument(metavar="TASK", help="Task id the policy was trained on.")],
    checkpoint: Checkpoint,
    output: Annotated[
        Path | None, typer.Option(help="Output folder (default: <run folder>/exported).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="onnx (deployment) or jit (TorchScript).")] = "onnx",
    check: Annotated[
        bool,
        typer.Option(help="Compare 1000 random observations (and a 200-step recurrent sequence) to 1e-5."),
    ] = False,
    override: Annotated[
        list[str] | None,
        typer.Option(
            "--override",
            "-o",
            help="Env override 'env.a.b=VALUE' on top of the run's own (params/args.json).",
        ),
    ] = None,
    imports: Imports = None,
    as_json: Json = False,
) -> None:
    """Export a trained actor (normalizer, deterministic head, recurrent state I/O) with its metadata."""

    def body():
        check_format(fmt)  # before the imports below, which take seconds
        from roboforge.export import export_policy
        from roboforge.rl.checkpoints import resolve_checkpoint

        import_modules(imports)
        import_run_modules(task, lambda: resolve_checkpoint(checkpoint, task).parent)
        env_o, agent_o = parse_overrides(override)
        if agent_o:
            raise UserInputError(
                "export takes env.* overrides only; the agent config comes from the run folder."
            )
        with console.status(f"exporting {task} ({fmt})..."):
            result = export_policy(task, checkpoint, output, fmt, check, env_o)
        for warning in result.warnings:
            console.print(f"[bold yellow]warning:[/] {warning}")
        overrides = result.env_overrides
        if overrides:
            shown = " ".join(f"env.{k}={json.dumps(v)}" for k, v in overrides.items())
            console.print(f"env overrides: {shown}", highlight=False, markup=False)
        if as_json:
            return json.loads(json.dumps(asdict(result), default=str))
        console.print(f"[bold green]exported[/] {result.kind} policy of {task} from {result.checkpoint}")
        for line in file_listing(result.files):
            console.print(f"  {line}", highlight=False, markup=False)
        p = result.parity
        if p is not None:
            seq = (
                f", {p.sequence_steps}-step sequence {p.sequence_max_abs_error:.2e}"
                if p.sequence_steps
                else ""
            )
            console.print(
                f"[bold green]check passed:[/] {p.samples} random observations, max |diff| "
                f"{p.max_abs_error:.2e}{seq}; max |diff| / max(1, |value|) {p.max_scaled_error:.2e} "
                f"<= {p.tolerance:.0e}"
            )
        low = result.low_level_parity
        if low is not None:
            console.print(
                f"[bold green]low-level check passed:[/] {low.samples} random observations, max |diff| "
                f"{low.max_abs_error:.2e}; max |diff| / max(1, |value|) {low.max_scaled_error:.2e}"
            )

    run_command(body, as_json)


def file_listing(files: list[Path]) -> list[str]:
    """The written files, one line each, except that a folder of several (a terrain's tiles, a robot's
    meshes) is one line with its count by suffix."""
    by_folder: dict[Path, list[Path]] = {}
    for f in map(Path, files):
        by_folder.setdefault(f.parent, []).append(f)
    top = min(by_folder, key=lambda d: len(d.parts)) if by_folder else None
    lines = []
    for folder, inside in by_folder.items():
        if folder == top or len(inside) == 1:
            lines += [str(f) for f in inside]
            continue
        suffixes = Counter(f.suffix or "(none)" for f in inside)
        kinds = ", ".join(f"{n} {s}" for s, n in sorted(suffixes.items()))
        lines.append(f"{folder}/ ({len(inside)} files: {kinds})")
    return lines

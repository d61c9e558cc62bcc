"""`export_policy`: checkpoint -> policy.onnx (or policy.pt) + policy.json + scene.xml (+ low_level_policy.onnx for
a task whose actions command a frozen low-level policy), optionally checked."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roboforge.export.formats import check_format
from roboforge.export.images import image_inputs
from roboforge.export.low_level import check_low_level, export_low_level
from roboforge.export.metadata import build_metadata, training_info
from roboforge.export.onnx_export import export_onnx, policy_io
from roboforge.export.parity import ParityError, ParityResult, check_jit, check_onnx
from roboforge.export.scene import scene_assets, scene_mjcf, terrain_patches, verify_scene, write_scene
from roboforge.rl.checkpoints import check_checkpoint_library, checkpoint_library, resolve_checkpoint
from roboforge.rl.evaluate import load_policy
from roboforge.rl.libraries import DEFAULT_LIBRARY, learner_class
from roboforge.rl.run_dir import saved_agent_overrides, saved_env_overrides, saved_library
from roboforge.rl.session import Session, build_session
from roboforge.utils.config import to_dict
from roboforge.utils.errors import UserInputError
from roboforge.utils.files import atomic_write_json, check_folder, staged_folder


@dataclass
class ExportResult:
    """What was written and how it was checked."""

    task: str
    checkpoint: Path
    output_dir: Path
    policy: Path
    files: list[Path]
    kind: str
    parity: ParityResult | None = None
    warnings: list[str] = field(default_factory=list)
    env_overrides: dict[str, Any] = field(default_factory=dict)
    """Env overrides applied: the run's own, then the ones given (paths without `env.`)."""
    low_level_parity: ParityResult | None = None
    """The check of the frozen low-level policy's file (tasks that have one)."""


def export_policy(
    task: str,
    checkpoint: str | Path,
    output: str | Path | None = None,
    fmt: str = "onnx",
    check: bool = False,
    env_overrides: dict[str, Any] | None = None,
) -> ExportResult:
    """Export the actor of `checkpoint` (file or run folder) for `task` into `output` (default `<run>/exported`)."""
    check_format(fmt)
    path = resolve_checkpoint(checkpoint, task)
    out_dir = Path(output) if output is not None else path.parent / "exported"
    check_folder("--output", out_dir)
    env_overrides = run_env_overrides(path, env_overrides or {})
    s = _session(task, path, env_overrides)
    actor = load_policy(s, path)
    images = image_inputs(s.env, actor)
    if images and fmt != "onnx":
        raise UserInputError(
            f"{task}: a policy that reads images (observation groups {[i['name'] for i in images]}) exports to "
            "ONNX only; use --format onnx."
        )
    io_spec = policy_io(actor, actor.obs_dim, s.env.num_actions, images)
    io_spec.update(clip_actions=s.learner.clip_actions, obs_normalization=bool(actor.obs_normalization))
    with staged_folder(out_dir) as stage:  # a failed check or a stop leaves an earlier export as it was
        meta, files = _write_scene_and_metadata(s, io_spec, training_info(s, path, env_overrides), stage)
        low_level = export_low_level(s.env, task, stage)
        files += [low_level] if low_level is not None else []
        policy, parity = _write_policy(actor, io_spec, meta, dict(s.env.obs_dims), stage, fmt, check)
        low_level_parity = check_low_level(s.env, low_level) if check and low_level is not None else None
        final = {p: out_dir / p.relative_to(stage) for p in [policy, *files]}
        _raise_if_failed(parity, "policy differs from the training actor", final[policy])
        if low_level is not None:
            what = "low-level policy differs from the module the env runs"
            _raise_if_failed(low_level_parity, what, final[low_level])
    return ExportResult(
        task,
        path,
        out_dir,
        final[policy],
        list(final.values()),
        io_spec["kind"],
        parity,
        _config_drift(s, path),
        env_overrides,
        low_level_parity,
    )


def _write_scene_and_metadata(
    s: Session, io_spec: dict[str, Any], training: dict[str, Any], out_dir: Path
) -> tuple[dict[str, Any], list[Path]]:
    """The scene's MJCF and assets (checked to load and step) and `policy.json`; returns the metadata and files."""
    xml, scene_files = scene_mjcf(s.env)
    assets = scene_assets(s.env) | scene_files
    verify_scene(xml, assets, s.env.physics_dt)
    scene = {"mjcf": xml, "entity_prefix": "", "assets": sorted(assets), "terrain": terrain_patches(s.env)}
    meta = build_metadata(s, io_spec, scene, training)
    meta["scene"]["entity_prefix"] = f"{meta['robot']['asset']}/"
    files = write_scene(out_dir, xml, assets)
    files.append(atomic_write_json(out_dir / "policy.json", meta))
    files[-1].chmod(0o644)  # readable like the other exported files (atomic writes start private)
    return meta, files


def _write_policy(
    actor: Any,
    io_spec: dict[str, Any],
    meta: dict[str, Any],
    group_dims: dict[str, int],
    out_dir: Path,
    fmt: str,
    check: bool,
) -> tuple[Path, ParityResult | None]:
    """`policy.onnx` (or `policy.pt`) and, with `check`, its parity with the training actor."""
    if fmt == "onnx":
        policy = export_onnx(actor, io_spec, meta, out_dir / "policy.onnx")
        return policy, check_onnx(actor, policy, io_spec, group_dims) if check else None
    from roboforge.export.jit_export import export_jit, load_jit

    policy = export_jit(actor, meta, out_dir / "policy.pt")
    return policy, check_jit(actor, load_jit(policy)[0], io_spec, group_dims) if check else None


def _raise_if_failed(parity: ParityResult | None, what: str, path: Path) -> None:
    if parity is not None and not parity.passed:
        raise ParityError(
            f"The exported {what}: max |diff| / max(1, |value|) = {parity.max_scaled_error:.2e} > "
            f"{parity.tolerance:.0e} ({path}, not written). Check the onnx/onnxruntime versions."
        )


def run_env_overrides(checkpoint: Path, env_overrides: dict[str, Any]) -> dict[str, Any]:
    """The env overrides the checkpoint's run was trained with (`params/args.json`), then `env_overrides`
    (paths without the `env.` scope)."""
    saved = {k.removeprefix("env."): v for k, v in saved_env_overrides(checkpoint.parent).items()}
    return {**saved, **env_overrides}


def _session(task: str, checkpoint: Path, env_overrides: dict[str, Any]) -> Session:
    """A one-world CPU session of the task's play config with the run's library and its own agent config
    (from the checkpoint's content when the run has no params/)."""
    library, algorithm = saved_library(checkpoint.parent) or (
        checkpoint_library(checkpoint) or DEFAULT_LIBRARY,
        "ppo",
    )
    check_checkpoint_library(checkpoint, library)
    agent_overrides = saved_agent_overrides(checkpoint.parent, learner_class(library).cfg_types[algorithm])
    return build_session(
        task, 1, "cpu", "mujoco", None, True, env_overrides, agent_overrides, library, algorithm
    )


def _config_drift(s: Session, checkpoint: Path) -> list[str]:
    """Warnings where the run's saved env config differs from the exported one in what the policy sees."""
    saved_path = checkpoint.parent / "params" / "env.json"
    if not saved_path.is_file():
        return [
            f"No params/env.json beside {checkpoint}: cannot confirm the env config matches the training run."
        ]
    saved, now = json.loads(saved_path.read_text()), json.loads(json.dumps(to_dict(s.env_cfg), default=str))
    keys = ("decimation", "actions")
    out = [
        f"env.{k} differs from the training run's params/env.json" for k in keys if saved.get(k) != now.get(k)
    ]
    if saved.get("sim", {}).get("timestep") != now.get("sim", {}).get("timestep"):
        out.append("env.sim.timestep differs from the training run's params/env.json")
    return out

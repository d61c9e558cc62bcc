"""The frozen low-level policy of a task whose action term is a `PreTrainedPolicyActionCfg` (`navigation-go1`),
exported beside the policy so the export folder is self-contained: the torch module the training env ran (rebuilt
from the rsl_rl checkpoint, TorchScript file or ONNX graph its `policy_path` names, `frozen_policy.py`) written as
`low_level_policy.onnx` (`obs -> actions`, dynamic batch), and checked against that module like the policy itself.
The metadata describes its interface, observation and action terms (`metadata._low_level_layout`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from roboforge.export.metadata import LOW_LEVEL_FILE, LOW_LEVEL_KEY
from roboforge.export.onnx_export import export_module, policy_io
from roboforge.export.parity import TOLERANCE, ParityResult, check_module
from roboforge.mdp.actions.pre_trained_policy_action import GROUP, PreTrainedPolicyAction
from roboforge.utils.errors import UserInputError


def low_level_term(env: Any) -> PreTrainedPolicyAction | None:
    """The env's frozen-low-level-policy action term (at most one), or None."""
    manager = getattr(env, "action_manager", None)
    terms = [t for t in getattr(manager, "terms", {}).values() if isinstance(t, PreTrainedPolicyAction)]
    if len(terms) > 1:
        raise UserInputError(f"{len(terms)} action terms run frozen low-level policies; export supports one.")
    return terms[0] if terms else None


def export_low_level(env: Any, task: str, out_dir: Path) -> Path | None:
    """Write the env's low-level policy as `out_dir/low_level_policy.onnx` (None: the env has none)."""
    term = low_level_term(env)
    if term is None:
        return None
    io_spec = policy_io(term.policy, term.observations.group_dims[GROUP], term.low_level.action_dim)
    return export_module(term.policy, io_spec, {LOW_LEVEL_KEY: task}, out_dir / LOW_LEVEL_FILE)


def check_low_level(env: Any, path: Path, tolerance: float = TOLERANCE) -> ParityResult:
    """The exported low-level file against the module the env runs, on random observations."""
    term = low_level_term(env)
    assert term is not None
    return check_module(term.policy, path, term.observations.group_dims[GROUP], tolerance=tolerance)

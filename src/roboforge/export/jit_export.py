"""TorchScript export (`--format jit`): the actor with normalizer and deterministic head, recurrent
state kept inside the module (`reset()` zeroes it); the metadata is stored as an extra file."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch

EXTRA_FILE = "roboforge.json"


def export_jit(actor: Any, metadata: dict[str, Any], path: Path) -> Path:
    """Script `actor.as_jit()` and save it to `path` with the metadata as an extra file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        warnings.catch_warnings()
    ):  # TorchScript is deprecated in torch 2.x but still the format C++ users load
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.script(actor.as_jit().to("cpu").eval())
        torch.jit.save(module, str(path), _extra_files={EXTRA_FILE: json.dumps(metadata)})
    return path


def load_jit(path: Path) -> tuple[torch.jit.ScriptModule, dict[str, Any]]:
    """The scripted policy and its metadata."""
    extra = {EXTRA_FILE: ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(str(path), _extra_files=extra)
    return module, json.loads(extra[EXTRA_FILE])

"""Export trained actors to ONNX (or TorchScript) with the metadata the deploy runtime needs.

Names are imported on first use, so `roboforge` commands that do not export (deploy) never load torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from roboforge.export.exporter import ExportResult, export_policy
    from roboforge.export.parity import ParityError, ParityResult

_HOME = {
    "ExportResult": "roboforge.export.exporter",
    "export_policy": "roboforge.export.exporter",
    "ParityError": "roboforge.export.parity",
    "ParityResult": "roboforge.export.parity",
}
__all__ = ["ExportResult", "ParityError", "ParityResult", "export_policy"]


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module 'roboforge.export' has no attribute {name!r}")

"""Export trained actors to ONNX (or TorchScript) with the metadata the deploy runtime needs.

Names are imported on first use, so `roboforge` commands that do not export (deploy) never load torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roboforge.utils.lazy import lazy_getattr

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


__getattr__ = lazy_getattr(__name__, _HOME)

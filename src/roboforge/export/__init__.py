"""Export trained actors to ONNX (or TorchScript) with the metadata the deploy runtime needs."""

from roboforge.export.exporter import ExportResult, export_policy
from roboforge.export.parity import ParityError, ParityResult

__all__ = ["ExportResult", "ParityError", "ParityResult", "export_policy"]

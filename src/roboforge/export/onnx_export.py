"""Write the actor as one self-contained ONNX file: normalizer baked in, deterministic action head,
dynamic batch, opset 18; feed-forward `obs -> actions`, LSTM `obs, h_in, c_in -> actions, h_out, c_out`,
GRU `obs, h_in -> actions, h_out`; the metadata JSON goes into the file's metadata_props."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import onnx
import torch

OPSET = 18
METADATA_KEY = "roboforge.metadata"


def policy_io(actor: Any, obs_dim: int, action_dim: int) -> dict[str, Any]:
    """The `policy` section of the metadata: kind, sizes, input/output names, recurrent state shape."""
    rnn = getattr(getattr(actor, "rnn", None), "rnn", None)
    if rnn is None:
        return {
            "kind": "mlp",
            "obs_dim": obs_dim,
            "action_dim": action_dim,
            "inputs": ["obs"],
            "outputs": ["actions"],
            "recurrent": None,
        }
    kind = "lstm" if isinstance(rnn, torch.nn.LSTM) else "gru"
    states = ["h", "c"] if kind == "lstm" else ["h"]
    return {
        "kind": kind,
        "obs_dim": obs_dim,
        "action_dim": action_dim,
        "inputs": ["obs"] + [f"{s}_in" for s in states],
        "outputs": ["actions"] + [f"{s}_out" for s in states],
        "recurrent": {"type": kind, "num_layers": rnn.num_layers, "hidden_size": rnn.hidden_size},
    }


@contextlib.contextmanager
def quiet_exporter() -> Iterator[None]:
    """Silence the exporter's progress prints, warnings and 'torchvision is not installed' logs."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def export_onnx(actor: Any, io_spec: dict[str, Any], metadata: dict[str, Any], path: Path) -> Path:
    """Export `actor` (an rsl_rl MLPModel/RNNModel) to `path` with `metadata` embedded; returns `path`."""
    module = actor.as_onnx(verbose=False).to("cpu").eval()
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    dummy: list[torch.Tensor] = [torch.zeros(2, io_spec["obs_dim"])]
    shapes: list[dict[int, Any]] = [{0: batch}]
    rec = io_spec.get("recurrent") or {}
    for _ in io_spec["inputs"][1:]:
        dummy.append(torch.zeros(rec["num_layers"], 2, rec["hidden_size"]))
        shapes.append({1: batch})
    with quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(
            module,
            tuple(dummy),
            dynamo=True,
            opset_version=OPSET,
            input_names=io_spec["inputs"],
            output_names=io_spec["outputs"],
            dynamic_shapes=tuple(shapes),
            external_data=False,
            optimize=True,
        )
    assert program is not None
    model = program.model_proto
    _check_interface(model, io_spec)
    onnx.helper.set_model_props(
        model, {METADATA_KEY: json.dumps(metadata), "roboforge.task": metadata["task"]}
    )
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(path), save_as_external_data=False)
    return path


def _check_interface(model: onnx.ModelProto, io_spec: dict[str, Any]) -> None:
    inputs = [i.name for i in model.graph.input]
    outputs = [o.name for o in model.graph.output]
    if inputs != io_spec["inputs"] or outputs != io_spec["outputs"]:
        raise RuntimeError(
            f"The exported graph has inputs {inputs} and outputs {outputs}, expected "
            f"{io_spec['inputs']} and {io_spec['outputs']}."
        )

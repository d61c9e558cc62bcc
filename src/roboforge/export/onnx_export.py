"""Write the actor as one self-contained ONNX file: normalizer baked in, deterministic action head,
dynamic batch, opset 18; feed-forward `obs -> actions`, LSTM `obs, h_in, c_in -> actions, h_out, c_out`,
GRU `obs, h_in -> actions, h_out`, CNN `[obs,] <image group>... -> actions` (one `(batch, C, H, W)` float input
per image group, named after it; `obs` only when the actor also reads vector groups); the metadata JSON goes
into the file's metadata_props."""

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


def policy_io(
    actor: Any, obs_dim: int, action_dim: int, images: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The `policy` section of the metadata: kind, sizes, input/output names, recurrent state shape, image
    inputs (`export.images.image_inputs`)."""
    rnn = getattr(getattr(actor, "rnn", None), "rnn", None)
    if images:
        return {
            "kind": "cnn",
            "obs_dim": obs_dim,
            "action_dim": action_dim,
            "inputs": (["obs"] if obs_dim else []) + [i["name"] for i in images],
            "outputs": ["actions"],
            "recurrent": None,
            "images": images,
        }
    if rnn is None:
        return {
            "kind": "mlp",
            "obs_dim": obs_dim,
            "action_dim": action_dim,
            "inputs": ["obs"],
            "outputs": ["actions"],
            "recurrent": None,
            "images": [],
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
        "images": [],
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
    """Export `actor` (an rsl_rl MLPModel/RNNModel/CNNModel) to `path` with `metadata` embedded; returns `path`."""
    module = actor.as_onnx(verbose=False).to("cpu").eval()
    props = {METADATA_KEY: json.dumps(metadata), "roboforge.task": metadata["task"]}
    return export_module(module, io_spec, props, path)


def export_module(module: Any, io_spec: dict[str, Any], props: dict[str, str], path: Path) -> Path:
    """Export a CPU module of the interface `io_spec` to `path` with `props` as metadata_props; returns `path`.
    A TorchScript module (feed-forward) goes through torch's TorchScript exporter, others through torch.export."""
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    if io_spec.get("images"):
        module, dummy, shapes = _image_module(module, io_spec, batch)
    else:
        dummy, shapes = [torch.zeros(2, io_spec["obs_dim"])], [{0: batch}]
        rec = io_spec.get("recurrent") or {}
        for _ in io_spec["inputs"][1:]:
            dummy.append(torch.zeros(rec["num_layers"], 2, rec["hidden_size"]))
            shapes.append({1: batch})
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(module, torch.jit.ScriptModule):
        model = _script_model(module, dummy, io_spec, path)
    else:
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
    onnx.helper.set_model_props(model, props)
    onnx.checker.check_model(model)
    onnx.save_model(model, str(path), save_as_external_data=False)
    return path


def _script_model(
    module: Any, dummy: list[torch.Tensor], io_spec: dict[str, Any], path: Path
) -> onnx.ModelProto:
    """A feed-forward TorchScript module through the TorchScript exporter (torch.export cannot trace one), written
    to `path` and read back."""
    axes = {name: {0: "batch"} for name in [*io_spec["inputs"], *io_spec["outputs"]]}
    with quiet_exporter(), torch.no_grad():
        torch.onnx.export(
            module,
            tuple(dummy),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=io_spec["inputs"],
            output_names=io_spec["outputs"],
            dynamic_axes=axes,
        )
    return onnx.load(str(path))


class _ImagesOnly(torch.nn.Module):
    """rsl_rl's ONNX CNN module for an actor without vector groups: images in, an empty `obs` made inside."""

    def __init__(self, module: torch.nn.Module):
        super().__init__()
        self.module = module

    def forward(self, *images: torch.Tensor) -> torch.Tensor:
        return self.module(images[0].new_zeros(images[0].shape[0], 0), *images)


def _image_module(
    module: torch.nn.Module, io_spec: dict[str, Any], batch: Any
) -> tuple[torch.nn.Module, list[Any], list[Any]]:
    """The module to export, its dummy inputs and dynamic batch dimensions (inputs in `io_spec` order; the
    images are the module's `*args`, so their shapes are one nested tuple, as torch.export wants)."""
    images = tuple(torch.zeros(2, *i["shape"]) for i in io_spec["images"])
    image_shapes = tuple({0: batch} for _ in images)
    if not io_spec["obs_dim"]:
        return _ImagesOnly(module), [*images], [image_shapes]
    return module, [torch.zeros(2, io_spec["obs_dim"]), *images], [{0: batch}, image_shapes]


def _check_interface(model: onnx.ModelProto, io_spec: dict[str, Any]) -> None:
    inputs = [i.name for i in model.graph.input]
    outputs = [o.name for o in model.graph.output]
    if inputs != io_spec["inputs"] or outputs != io_spec["outputs"]:
        raise RuntimeError(
            f"The exported graph has inputs {inputs} and outputs {outputs}, expected "
            f"{io_spec['inputs']} and {io_spec['outputs']}."
        )

"""A frozen policy file as a torch module on the env's device: a roboforge rsl_rl checkpoint (`model_<i>.pt`,
the actor rebuilt from its weights), a TorchScript export (`roboforge export --format jit`, `policy.pt`) or an
ONNX export (`policy.onnx`, its graph run by torch ops). Every form maps `obs (N, obs_dim) -> actions (N, k)`
with torch operations only, so it runs inside the env step and its CUDA graph.

Formats: rsl_rl's `OnPolicyRunner.save` layout (`actor_state_dict` with `obs_normalizer.*` and `mlp.<i>.*`,
rsl_rl 5.x `MLPModel`); ONNX operators as in the ONNX operator specification (onnx.ai/onnx/operators).
"""

from __future__ import annotations

import json
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from roboforge.utils.errors import NotFoundError, UserInputError

_ONNX_OPS: dict[str, Callable[..., torch.Tensor]] = {
    "Add": torch.add,
    "Sub": torch.sub,
    "Mul": torch.mul,
    "Div": torch.div,
    "Neg": torch.neg,
    "MatMul": torch.matmul,
    "Relu": torch.relu,
    "Tanh": torch.tanh,
    "Sigmoid": torch.sigmoid,
    "Softplus": nn.functional.softplus,
    "Identity": lambda x: x,
}
"""ONNX operators without attributes and their torch functions (Gemm, Elu ... are in `_OnnxGraph._run`)."""


def load_frozen_policy(path: str | Path, device: torch.device | str, activation: str = "elu") -> nn.Module:
    """The policy at `path` in eval mode, without gradients, on `device`; `activation` is that of an rsl_rl
    checkpoint's actor when no `params/agent.json` lies beside it. Bad files raise a one-line UserInputError."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise NotFoundError(f"No low-level policy file at {path}.")
    if path.suffix == ".onnx":
        module = _onnx_module(path)
    elif _is_torchscript(path):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location="cpu")
    else:
        module = _rsl_rl_actor(path, activation)
    module = module.to(device).eval()
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return module


def _is_torchscript(path: Path) -> bool:
    """A TorchScript archive (a zip with `code/` and `constants.pkl`), not a `torch.save` checkpoint."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("/constants.pkl") for name in archive.namelist())


def _rsl_rl_actor(path: Path, activation: str) -> nn.Module:
    """rsl_rl's MLP actor (normalizer + MLP, deterministic mean) rebuilt from a checkpoint's weights."""
    from rsl_rl.modules import MLP, EmpiricalNormalization

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise UserInputError(f"{path} is not a torch checkpoint, TorchScript or ONNX file.") from err
    actor = state.get("actor_state_dict") if isinstance(state, dict) else None
    if actor is None:
        raise UserInputError(
            f"{path} is not an rsl_rl checkpoint (no actor_state_dict); export other libraries' checkpoints "
            "with `roboforge export` and give the policy.onnx."
        )
    layers = sorted(int(k.split(".")[1]) for k in actor if k.startswith("mlp.") and k.endswith(".weight"))
    if not layers or any(k.startswith(("rnn.", "memory")) for k in actor):
        raise UserInputError(f"{path}: only feed-forward rsl_rl actors (MLPModel) can drive the low level.")
    weights = [actor[f"mlp.{i}.weight"] for i in layers]
    hidden = [int(w.shape[0]) for w in weights[:-1]]
    model = nn.Module()
    model.mlp = MLP(
        int(weights[0].shape[1]), int(weights[-1].shape[0]), hidden, _activation(path, activation)
    )
    normalized = "obs_normalizer._mean" in actor
    model.obs_normalizer = EmpiricalNormalization(int(weights[0].shape[1])) if normalized else nn.Identity()
    kept = {k: v for k, v in actor.items() if k.startswith(("mlp.", "obs_normalizer."))}
    try:
        model.load_state_dict(kept, strict=True)
    except RuntimeError as err:
        raise UserInputError(
            f"{path}: the actor's weights do not form an rsl_rl MLP ({_first_line(err)})."
        ) from err
    return _Sequential(model.obs_normalizer, model.mlp)


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def _activation(path: Path, default: str) -> str:
    """The actor's activation from the run's `params/agent.json` (beside the checkpoint), else `default`."""
    saved = path.parent / "params" / "agent.json"
    if not saved.is_file():
        return default
    try:
        return str(json.loads(saved.read_text())["actor"]["activation"])
    except (ValueError, KeyError, TypeError):
        return default


class _Sequential(nn.Module):
    """Normalizer then MLP (the deterministic output of rsl_rl's Gaussian actor is the MLP's mean)."""

    def __init__(self, normalizer: nn.Module, mlp: nn.Module):
        super().__init__()
        self.obs_normalizer = normalizer
        self.mlp = mlp

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.obs_normalizer(obs))


def _onnx_module(path: Path) -> nn.Module:
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(str(path))
    except Exception as err:
        raise UserInputError(f"{path} is not a readable ONNX file ({_first_line(err)}).") from err
    graph = model.graph
    constants = {t.name for t in graph.initializer}
    inputs = [i.name for i in graph.input if i.name not in constants]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise UserInputError(
            f"{path}: the low-level policy must map one input to one output (a feed-forward export), "
            f"it has inputs {inputs} and {len(graph.output)} outputs."
        )
    tensors = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            value = next(a.t for a in node.attribute if a.name == "value")
            tensors[node.output[0]] = torch.from_numpy(numpy_helper.to_array(value).copy())
    nodes = [_OnnxNode.of(node, path, tensors) for node in graph.node if node.op_type != "Constant"]
    return _OnnxGraph(inputs[0], graph.output[0].name, tensors, nodes)


class _OnnxNode:
    """One operator: its type, input and output names and the attributes it uses."""

    SUPPORTED = frozenset(_ONNX_OPS) | {
        "Gemm",
        "Elu",
        "LeakyRelu",
        "Selu",
        "Gelu",
        "Clip",
        "Reshape",
        "Flatten",
    }

    def __init__(self, op: str, inputs: list[str], output: str, attrs: dict[str, Any]):
        self.op, self.inputs, self.output, self.attrs = op, inputs, output, attrs

    @classmethod
    def of(cls, node: Any, path: Path, constants: dict[str, torch.Tensor]) -> _OnnxNode:
        """The node; a Reshape's target shape is read here from its constant input (no host read per step)."""
        from onnx import helper

        if node.op_type not in cls.SUPPORTED or len(node.output) != 1:
            raise UserInputError(
                f"{path}: ONNX operator {node.op_type} is not supported in a low-level policy "
                f"(supported: {', '.join(sorted(cls.SUPPORTED))})."
            )
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        inputs = list(node.input)
        if node.op_type == "Reshape":
            if inputs[1] not in constants:
                raise UserInputError(f"{path}: a Reshape with a computed shape is not supported.")
            attrs["shape"] = tuple(int(v) for v in constants[inputs[1]].tolist())
            inputs = inputs[:1]
        return cls(node.op_type, inputs, node.output[0], attrs)


class _OnnxGraph(nn.Module):
    """Runs an ONNX graph's nodes in order with torch functions; the initializers are buffers."""

    def __init__(
        self, input_name: str, output_name: str, tensors: dict[str, torch.Tensor], nodes: list[_OnnxNode]
    ):
        super().__init__()
        self.input_name, self.output_name, self.nodes = input_name, output_name, nodes
        self.names = {name: f"c{i}" for i, name in enumerate(tensors)}
        for name, value in tensors.items():
            self.register_buffer(self.names[name], value)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        values = {name: getattr(self, key) for name, key in self.names.items()}
        values[self.input_name] = obs
        for node in self.nodes:
            values[node.output] = self._run(node, [values[i] if i else None for i in node.inputs])
        return values[self.output_name]

    @staticmethod
    def _run(node: _OnnxNode, x: list[Any]) -> torch.Tensor:
        a = node.attrs
        if node.op in _ONNX_OPS:
            return _ONNX_OPS[node.op](*x)
        if node.op == "Gemm":
            left = x[0].transpose(-1, -2) if a.get("transA", 0) else x[0]
            right = x[1].transpose(-1, -2) if a.get("transB", 0) else x[1]
            out = a.get("alpha", 1.0) * (left @ right)
            return out + a.get("beta", 1.0) * x[2] if len(x) > 2 and x[2] is not None else out
        if node.op == "Elu":
            return nn.functional.elu(x[0], alpha=a.get("alpha", 1.0))
        if node.op == "LeakyRelu":
            return nn.functional.leaky_relu(x[0], a.get("alpha", 0.01))
        if node.op == "Selu":
            return a.get("gamma", 1.0507009873554805) * nn.functional.elu(
                x[0], a.get("alpha", 1.6732632423543772)
            )
        if node.op == "Gelu":
            return nn.functional.gelu(x[0], approximate=a.get("approximate", b"none").decode())
        if node.op == "Reshape":  # a 0 copies the input's size there unless `allowzero`
            keep = not a.get("allowzero", 0)
            return x[0].reshape([x[0].shape[i] if d == 0 and keep else d for i, d in enumerate(a["shape"])])
        if node.op == "Flatten":
            return (
                x[0].flatten(0, a.get("axis", 1) - 1).flatten(1) if a.get("axis", 1) else x[0].reshape(1, -1)
            )
        low = x[1] if len(x) > 1 else None  # Clip
        high = x[2] if len(x) > 2 else None
        return torch.clamp(x[0], low, high)

"""Checks of a job's resolved agent config that per-key bounds cannot make: sizes the libraries allocate
from several fields, network definitions inside lists, and strings a library runs as code.

skrl builds its models by `exec` of Python source that embeds each network's `input`, `layers`,
`activations` and `output`, and `eval`s the agent's `learning_rate_scheduler` and `*_preprocessor` names
(at any depth of its config): a request may set those only to the plain values below, so no override runs
code in a job. rl_games makes folders named after `params.config.name`, which must be a plain name. What
does not fit the world count (mini-batches, sb3's own argument checks) is each learner's `check_cfg`, which
validation.py runs at submission, so a bad value is a 422 rather than a failed job.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from typing import Any

from roboforge.service.limits import LAYERS, MAX_REPLAY, short_repr
from roboforge.utils.overrides import OverrideError

SKRL_NAMED: dict[str, tuple[str, ...]] = {
    "learning_rate_scheduler": ("KLAdaptiveLR",),
    "observation_preprocessor": ("RunningStandardScaler",),
    "state_preprocessor": ("RunningStandardScaler",),
    "value_preprocessor": ("RunningStandardScaler",),
    "amp_observation_preprocessor": ("RunningStandardScaler",),
    "shared_state_preprocessor": ("RunningStandardScaler",),
    "exploration_noise": (),
    "smooth_regularization_noise": (),
    "exploration_scheduler": (),
}
"""skrl config keys whose string value skrl `eval`s, and the values a job may give them (or null)."""
SKRL_ACTIVATIONS = (
    "",
    "elu",
    "leaky_relu",
    "relu",
    "selu",
    "sigmoid",
    "softmax",
    "softplus",
    "softsign",
    "tanh",
)
SKRL_TOKENS = ("OBSERVATIONS", "STATES", "ACTIONS", "ONE", "OBSERVATION_SPACE", "STATE_SPACE", "ACTION_SPACE",
               "NUM_OBSERVATIONS", "NUM_STATES", "NUM_ACTIONS")  # fmt: skip
SKRL_FUNCTIONS = ("concatenate", "permute", *SKRL_ACTIVATIONS[1:])
SKRL_CONTAINER_KEYS = ("name", "input", "layers", "activations")
MAX_CONTAINERS = 4
"""Most containers of one skrl network."""
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
_EXPRESSION_NODES = (ast.Expression, ast.Name, ast.Load, ast.Call, ast.List, ast.Tuple, ast.BinOp, ast.UnaryOp,
                     ast.Add, ast.Sub, ast.Mult, ast.Div, ast.USub, ast.UAdd)  # fmt: skip


def check_agent(library: str, cfg: Any, num_envs: int) -> None:
    """Raise OverrideError (naming the agent key) for a resolved agent config the service does not run."""
    if library == "skrl":
        check_skrl(cfg, num_envs)
    elif library == "rl_games":
        check_rl_games(cfg)


def check_skrl(cfg: Any, num_envs: int) -> None:
    """Replay memory size, network definitions and evaluated names of an skrl runner config."""
    data = cfg.to_skrl()
    memory = int(data["memory"]["memory_size"])
    if memory > 0 and num_envs * memory > MAX_REPLAY:
        raise OverrideError(
            "agent.memory.memory_size",
            f"num_envs x memory_size is at most {MAX_REPLAY:,} transitions, got {num_envs} x {memory}.",
        )
    for name, model in data["models"].items():
        if isinstance(model, Mapping):
            check_skrl_model(f"agent.models.{name}", model)
    for key, value in _items("agent", data):
        if key.rsplit(".", 1)[-1] in SKRL_NAMED:
            check_named(key, value, SKRL_NAMED[key.rsplit(".", 1)[-1]])


def check_named(key: str, value: Any, allowed: tuple[str, ...]) -> None:
    """`value` must be null or one of `allowed` (skrl evaluates it as Python)."""
    if value is not None and value not in allowed:
        choices = ", ".join([*map(repr, allowed), "null"])
        raise OverrideError(key, f"{short_repr(value)} is not allowed here; use {choices}.")


def check_skrl_model(key: str, model: Mapping[str, Any]) -> None:
    """An skrl model's `network` containers and `output` expression."""
    network = model.get("network")
    if not isinstance(network, list) or not 1 <= len(network) <= MAX_CONTAINERS:
        raise OverrideError(f"{key}.network", f"a list of 1 to {MAX_CONTAINERS} containers is needed.")
    names: list[str] = []
    for container in network:
        check_container(f"{key}.network", container, names)
        names.append(container["name"])
    output = model.get("output")
    if not isinstance(output, str):
        raise OverrideError(f"{key}.output", "an expression such as ACTIONS, tanh(ACTIONS) or ONE is needed.")
    check_expression(f"{key}.output", output, names)


def check_container(key: str, container: Any, earlier: list[str]) -> None:
    """`{name, input, layers, activations}`: an identifier, an expression, layer sizes, activation names."""
    if (
        not isinstance(container, Mapping)
        or set(container) - set(SKRL_CONTAINER_KEYS)
        or "name" not in container
    ):
        raise OverrideError(
            key, f"each container is an object with the keys {', '.join(SKRL_CONTAINER_KEYS)}."
        )
    name = container["name"]
    if not isinstance(name, str) or not _IDENTIFIER.match(name) or name in SKRL_TOKENS + SKRL_FUNCTIONS:
        raise OverrideError(key, f"name: {short_repr(name)} is not a plain identifier such as 'net'.")
    if not isinstance(container.get("input"), str):
        raise OverrideError(key, "input: an expression such as OBSERVATIONS is needed.")
    check_expression(key, container["input"], earlier, "input: ")
    layers = container.get("layers")
    if not isinstance(layers, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) for n in layers
    ):
        raise OverrideError(key, f"layers: a list of layer sizes is needed, got {short_repr(layers)}.")
    try:
        LAYERS.check(key, layers)
    except OverrideError as err:
        raise OverrideError(key, f"layers: {err.reason}") from None
    activations = container.get("activations", "")
    for activation in activations if isinstance(activations, list) else [activations]:
        if activation not in SKRL_ACTIVATIONS:
            raise OverrideError(
                key, f"activations: {short_repr(activation)} is not one of {', '.join(SKRL_ACTIVATIONS[1:])}."
            )


def check_expression(key: str, source: str, containers: list[str], what: str = "") -> None:
    """An skrl input/output expression: its tokens, earlier containers, numbers, + - * /, and calls of
    concatenate, permute and activations (skrl embeds it in the model's source code). `what` prefixes
    the error message ('input: ')."""
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        raise OverrideError(key, f"{what}{short_repr(source)} is not an expression.") from None
    problem = next((p for node in ast.walk(tree) if (p := _expression_problem(node, containers))), None)
    if problem:
        raise OverrideError(key, f"{what}{short_repr(source)}: {problem}.")


def _expression_problem(node: ast.AST, containers: list[str]) -> str | None:
    """What is not allowed about one node of an skrl expression, or None."""
    names = (*SKRL_TOKENS, *containers)
    if isinstance(node, ast.Constant):
        number = isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
        return None if number else f"{node.value!r} is not a number"
    if isinstance(node, ast.Call) and (
        node.keywords or not isinstance(node.func, ast.Name) or node.func.id not in SKRL_FUNCTIONS
    ):
        return f"only {', '.join(SKRL_FUNCTIONS)} may be called"
    if isinstance(node, ast.Name) and node.id not in names + SKRL_FUNCTIONS:
        return f"unknown name {node.id!r}; use {', '.join(names)}"
    if not isinstance(node, _EXPRESSION_NODES):
        return f"{type(node).__name__} is not allowed in an skrl expression"
    return None


def check_rl_games(cfg: Any) -> None:
    """rl_games names its run folders after `params.config.name`: a plain name."""
    name = cfg.params.config.name
    if not _PLAIN_NAME.match(name):
        raise OverrideError(
            "agent.params.config.name",
            f"{short_repr(name)} is not a plain name (letters, digits, _ . -; at most 64).",
        )


def _items(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    """`(dotted key, value)` of every entry of nested mappings (lists of mappings included)."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            key = f"{prefix}.{k}"
            yield key, v
            yield from _items(key, v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _items(prefix, v)

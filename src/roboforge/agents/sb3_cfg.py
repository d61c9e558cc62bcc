"""Typed stable-baselines3 agent files (`sb3_ppo_cfg.yaml`, `sb3_sac_cfg.yaml`), in the format Isaac Lab
ships: the keyword arguments of sb3's `PPO(...)` / `SAC(...)` plus `n_timesteps` and the observation and
reward normalization keys (`normalize_input`, `normalize_value`, `clip_obs`). `sb3_kwargs()` turns a config
into the constructor's keyword arguments.

`policy_kwargs.activation_fn` names a torch activation: `elu`, `relu`, `leaky_relu`, `tanh`, `selu`,
`gelu`, `silu` or `sigmoid` (case-insensitive; Isaac Lab's `nn.ELU` spelling is accepted too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from roboforge.utils.config import AT_LEAST_1, POSITIVE, UNIT_INTERVAL, ConfigError

ACTIVATIONS = {
    "elu": "ELU",
    "relu": "ReLU",
    "leaky_relu": "LeakyReLU",
    "tanh": "Tanh",
    "selu": "SELU",
    "gelu": "GELU",
    "silu": "SiLU",
    "sigmoid": "Sigmoid",
}
"""Activation names of agent files -> `torch.nn` class names."""


def activation_class(name: str) -> type:
    """The `torch.nn` class of an activation name (`elu`, `ELU`, `nn.ELU`, `torch.nn.ELU`); a ConfigError
    naming the field and the known names otherwise."""
    from torch import nn

    bare = name.removeprefix("torch.").removeprefix("nn.")
    for key, cls_name in ACTIVATIONS.items():
        if bare.lower() in (key, cls_name.lower()):
            return getattr(nn, cls_name)
    raise ConfigError(
        f"policy_kwargs.activation_fn: unknown activation {name!r}; use one of {', '.join(ACTIVATIONS)} "
        "(torch.nn activations; `nn.ELU` is read as `elu`)."
    )


def _net_arch(net_arch: list[int] | dict[str, list[int]], keys: tuple[str, str]) -> Any:
    """`net_arch` checked: a list of layer sizes shared by actor and critic, or a mapping with exactly `keys`."""
    if isinstance(net_arch, dict):
        if set(net_arch) != set(keys):
            raise ConfigError(
                f"policy_kwargs.net_arch: a mapping needs exactly the keys {' and '.join(keys)} "
                f"(actor and critic layers), got {', '.join(map(str, net_arch)) or 'none'}."
            )
        layers = [n for v in net_arch.values() for n in v]
        arch: Any = {k: list(v) for k, v in net_arch.items()}
    else:
        layers, arch = list(net_arch), list(net_arch)
    if any(n < 1 for n in layers):
        raise ConfigError(f"policy_kwargs.net_arch: layer sizes must be >= 1, got {net_arch}.")
    return arch


@dataclass(kw_only=True)
class Sb3PpoPolicyKwargsCfg:
    """`policy_kwargs` of PPO's `MlpPolicy`."""

    net_arch: list[int] | dict[str, list[int]] = field(default_factory=lambda: [64, 64])
    """Hidden layers of actor and critic: one list for both, or `{pi: [...], vf: [...]}`."""
    activation_fn: str = "tanh"
    """Activation of the hidden layers (see the module docstring for the names)."""
    log_std_init: float = 0.0
    """Initial log of the action noise std (0: std 1)."""
    ortho_init: bool = True
    """Orthogonal initialization of the layers (sb3's default)."""

    def to_sb3(self) -> dict[str, Any]:
        return {
            "net_arch": _net_arch(self.net_arch, ("pi", "vf")),
            "activation_fn": activation_class(self.activation_fn),
            "log_std_init": self.log_std_init,
            "ortho_init": self.ortho_init,
        }


@dataclass(kw_only=True)
class Sb3SacPolicyKwargsCfg:
    """`policy_kwargs` of SAC's `MlpPolicy`."""

    net_arch: list[int] | dict[str, list[int]] = field(default_factory=lambda: [256, 256])
    """Hidden layers of actor and critics: one list for both, or `{pi: [...], qf: [...]}`."""
    activation_fn: str = "relu"
    """Activation of the hidden layers (see the module docstring for the names)."""
    n_critics: int = 2
    """Q-networks (the target takes their minimum)."""

    def to_sb3(self) -> dict[str, Any]:
        if self.n_critics < 1:
            raise ConfigError(f"policy_kwargs.n_critics must be >= 1, got {self.n_critics}.")
        return {
            "net_arch": _net_arch(self.net_arch, ("pi", "qf")),
            "activation_fn": activation_class(self.activation_fn),
            "n_critics": self.n_critics,
        }


@dataclass(kw_only=True)
class _Sb3CommonCfg:
    """Keys of both algorithms' files that are not constructor arguments of sb3's algorithm."""

    seed: int = 42
    """Isaac Lab's key, kept so its files load; roboforge seeds sb3 with the env's seed (`--seed`)."""
    n_timesteps: float = field(default=1.0e6, metadata=POSITIVE)
    """Total env steps of training, summed over the worlds (`max_iterations` derives from it)."""
    policy: Literal["MlpPolicy"] = "MlpPolicy"
    """sb3's policy class: an MLP on the `policy` observation group."""
    device: str = "cpu"
    """Torch device of sb3's networks ('cpu', 'cuda', 'cuda:0' or 'auto'); sb3's MLPs are fastest on a CPU."""
    normalize_input: bool = False
    """Standardize observations with running statistics, inside the policy network (so they are part of
    the checkpoint and of the exported policy)."""
    normalize_value: bool = False
    """Scale rewards by a running std of the discounted return (sb3's `VecNormalize`), clipped to +-10."""
    clip_obs: float = field(default=10.0, metadata=POSITIVE)
    """Clip of the standardized observations (with `normalize_input`)."""
    clip_actions: float = field(default=1.0, metadata=POSITIVE)
    """roboforge's key: the action bounds [-clip_actions, clip_actions] sb3 sees. PPO clips its Gaussian
    samples to them, SAC squashes with tanh into them; the env's action terms scale them."""


@dataclass(kw_only=True)
class Sb3PpoCfg(_Sb3CommonCfg):
    """An `sb3_ppo_cfg.yaml`: sb3's `PPO(...)` arguments."""

    n_steps: int = field(default=2048, metadata=AT_LEAST_1)
    """Env steps per world in one rollout (one `iterate()`)."""
    batch_size: int = field(default=64, metadata=AT_LEAST_1)
    """Mini-batch size (samples over all worlds); capped at the rollout size `n_steps * num_envs`."""
    n_epochs: int = field(default=10, metadata=AT_LEAST_1)
    """Passes over each rollout."""
    gamma: float = field(default=0.99, metadata=UNIT_INTERVAL)
    """Discount factor."""
    gae_lambda: float = field(default=0.95, metadata=UNIT_INTERVAL)
    """GAE lambda."""
    clip_range: float = field(default=0.2, metadata=POSITIVE)
    """PPO policy clip range."""
    clip_range_vf: float | None = None
    """Value clip range (None: no value clipping)."""
    normalize_advantage: bool = True
    """Standardize advantages per mini-batch."""
    ent_coef: float = 0.0
    """Entropy bonus."""
    vf_coef: float = 0.5
    """Value loss weight."""
    max_grad_norm: float = 0.5
    """Gradient clipping norm."""
    target_kl: float | None = None
    """Stop an update's epochs early beyond this KL (None: never)."""
    learning_rate: float = field(default=3.0e-4, metadata=POSITIVE)
    """Adam learning rate (constant)."""
    policy_kwargs: Sb3PpoPolicyKwargsCfg = field(default_factory=Sb3PpoPolicyKwargsCfg)
    """Network sizes and activation."""

    def sb3_kwargs(self, seed: int, num_envs: int) -> dict[str, Any]:
        """Keyword arguments of `stable_baselines3.PPO(env=..., **kwargs)` for `num_envs` worlds."""
        if self.n_steps * num_envs < 2:
            raise ConfigError(f"n_steps * num_envs must be >= 2, got {self.n_steps} * {num_envs}.")
        return {
            "policy": self.policy,
            "learning_rate": self.learning_rate,
            "n_steps": self.n_steps,
            "batch_size": max(2, min(self.batch_size, self.n_steps * num_envs)),
            "n_epochs": self.n_epochs,
            "gamma": self.gamma,
            "gae_lambda": self.gae_lambda,
            "clip_range": self.clip_range,
            "clip_range_vf": self.clip_range_vf,
            "normalize_advantage": self.normalize_advantage,
            "ent_coef": self.ent_coef,
            "vf_coef": self.vf_coef,
            "max_grad_norm": self.max_grad_norm,
            "target_kl": self.target_kl,
            "policy_kwargs": self.policy_kwargs.to_sb3(),
            "seed": seed,
            "device": self.device,
            "verbose": 0,
        }


@dataclass(kw_only=True)
class Sb3SacCfg(_Sb3CommonCfg):
    """An `sb3_sac_cfg.yaml`: sb3's `SAC(...)` arguments."""

    learning_rate: float = field(default=3.0e-4, metadata=POSITIVE)
    """Adam learning rate of actor, critics and entropy coefficient (constant)."""
    buffer_size: int = field(default=1_000_000, metadata=AT_LEAST_1)
    """Replay buffer capacity in transitions (over all worlds)."""
    learning_starts: int = 100
    """Transitions (over all worlds) collected before the first update."""
    batch_size: int = field(default=256, metadata=AT_LEAST_1)
    """Transitions per gradient step."""
    tau: float = field(default=0.005, metadata=UNIT_INTERVAL)
    """Soft update rate of the target critics."""
    gamma: float = field(default=0.99, metadata=UNIT_INTERVAL)
    """Discount factor."""
    train_freq: int = field(default=1, metadata=AT_LEAST_1)
    """Env steps (of all worlds at once) between updates."""
    gradient_steps: int = 1
    """Gradient steps per update (-1: as many as env steps since the last update)."""
    ent_coef: float | str = "auto"
    """Entropy coefficient: a number, 'auto' (learned) or 'auto_<initial value>'."""
    target_update_interval: int = 1
    """Gradient steps between target critic updates."""
    target_entropy: float | str = "auto"
    """Target entropy of the learned coefficient ('auto': -number of actions)."""
    policy_kwargs: Sb3SacPolicyKwargsCfg = field(default_factory=Sb3SacPolicyKwargsCfg)
    """Network sizes and activation."""

    def sb3_kwargs(self, seed: int, num_envs: int) -> dict[str, Any]:
        """Keyword arguments of `stable_baselines3.SAC(env=..., **kwargs)` for `num_envs` worlds."""
        for name in ("ent_coef", "target_entropy"):
            value = getattr(self, name)
            if isinstance(value, str) and not (value == "auto" or value.startswith("auto_")):
                raise ConfigError(f"{name}: use a number, 'auto' or 'auto_<initial value>', got {value!r}.")
        return {
            "policy": self.policy,
            "learning_rate": self.learning_rate,
            "buffer_size": self.buffer_size,
            "learning_starts": self.learning_starts,
            "batch_size": self.batch_size,
            "tau": self.tau,
            "gamma": self.gamma,
            "train_freq": self.train_freq,
            "gradient_steps": self.gradient_steps,
            "ent_coef": self.ent_coef,
            "target_update_interval": self.target_update_interval,
            "target_entropy": self.target_entropy,
            "policy_kwargs": self.policy_kwargs.to_sb3(),
            "seed": seed,
            "device": self.device,
            "verbose": 0,
        }

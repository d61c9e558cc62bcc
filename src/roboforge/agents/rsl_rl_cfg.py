"""Typed rsl_rl 5.x PPO runner configs, converted to the dict rsl_rl expects by `to_rsl_rl()`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from roboforge.utils.config import AT_LEAST_1, POSITIVE, UNIT_INTERVAL, ConfigError

Activation = Literal[
    "elu",
    "selu",
    "relu",
    "crelu",
    "lrelu",
    "tanh",
    "sigmoid",
    "softplus",
    "gelu",
    "swish",
    "mish",
    "identity",
]
"""rsl_rl's activation names (`rsl_rl.utils.resolve_nn_activation`)."""


@dataclass(kw_only=True)
class RslRlCnnCfg:
    """Convolutional encoder of the image observation groups (rsl_rl's `CNN`), one per group, flattened into
    the MLP's input. Per-layer lists, or one value for every layer."""

    output_channels: list[int] = field(default_factory=lambda: [16, 32, 32])
    """Channels of each convolution."""
    kernel_size: list[int] = field(default_factory=lambda: [5, 3, 3])
    """Kernel size of each convolution."""
    stride: list[int] = field(default_factory=lambda: [2, 2, 2])
    """Stride of each convolution."""
    padding: str = "zeros"
    """'none', or 'zeros' / 'reflect' / 'replicate' / 'circular' (keeps size / stride)."""
    norm: str = "none"
    """Normalization after each convolution: 'none', 'batch' or 'layer'."""
    activation: str = "elu"
    """Activation after each convolution."""
    max_pool: bool = False
    """3x3 max pooling (stride 2) after each convolution."""
    global_pool: str = "none"
    """Pooling of the last feature map: 'none', 'max' or 'avg'."""

    def to_rsl_rl(self) -> dict[str, Any]:
        """rsl_rl's `cnn_cfg` (keyword arguments of `rsl_rl.modules.CNN`)."""
        cfg = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return {**cfg, "output_channels": list(self.output_channels), "flatten": True}


@dataclass(kw_only=True)
class RslRlModelCfg:
    """Actor or critic network."""

    hidden_dims: list[int] = field(default_factory=lambda: [256, 256, 256])
    """Hidden layer sizes of the MLP."""
    activation: Activation = "elu"
    """Activation function name."""
    obs_normalization: bool = False
    """Normalize inputs with running statistics (baked into exported policies)."""
    init_noise_std: float = field(default=1.0, metadata=POSITIVE)
    """Initial action noise std (actor only)."""
    state_dependent_std: bool = False
    """Actor only: the network outputs the noise std beside the mean (rsl_rl's
    `HeteroscedasticGaussianDistribution`), so exploration can differ between states; False: one learned
    std per action, the same in every state."""
    noise_std_min: float = 0.0
    """Actor only: lower bound of the action noise std (rsl_rl's `std_range`), for every action; 0 leaves rsl_rl's
    own floor. Keeps a rarely useful action explored after the std of the others has shrunk; the exported
    policy (the mean) is unaffected."""
    rnn_type: Literal["lstm", "gru", "LSTM", "GRU"] | None = None
    """'lstm' or 'gru' for a recurrent model (rsl_rl took any other word for an LSTM); None for an MLP."""
    rnn_hidden_dim: int = 256
    """Recurrent hidden size."""
    rnn_num_layers: int = 1
    """Recurrent layers."""
    cnn: RslRlCnnCfg | None = None
    """Convolutional encoder of image observation groups ('CNNModel'); None for vector observations only."""

    def to_rsl_rl(self, stochastic: bool) -> dict[str, Any]:
        """The rsl_rl model dict ('MLPModel', 'RNNModel' or 'CNNModel')."""
        if self.cnn is not None and self.rnn_type:
            raise ConfigError("agent: a model has both cnn and rnn_type; rsl_rl has no recurrent CNN model.")
        cfg: dict[str, Any] = {
            "class_name": "CNNModel" if self.cnn else "RNNModel" if self.rnn_type else "MLPModel",
            "hidden_dims": list(self.hidden_dims),
            "activation": self.activation,
            "obs_normalization": self.obs_normalization,
        }
        if self.cnn is not None:
            cfg["cnn_cfg"] = self.cnn.to_rsl_rl()
        if self.rnn_type:
            cfg.update(
                rnn_type=self.rnn_type, rnn_hidden_dim=self.rnn_hidden_dim, rnn_num_layers=self.rnn_num_layers
            )
        if self.noise_std_min < 0.0:
            raise ConfigError(f"agent: noise_std_min {self.noise_std_min} must be >= 0 (0: no floor).")
        if stochastic:
            cfg["distribution_cfg"] = {
                "class_name": (
                    "HeteroscedasticGaussianDistribution"
                    if self.state_dependent_std
                    else "GaussianDistribution"
                ),
                "init_std": self.init_noise_std,
                "std_type": "scalar",
            }
            if self.noise_std_min > 0.0:
                cfg["distribution_cfg"]["std_range"] = (self.noise_std_min, 1.0e6)
        return cfg


@dataclass(kw_only=True)
class RslRlPpoAlgorithmCfg:
    """PPO hyperparameters."""

    learning_rate: float = field(default=1.0e-3, metadata=POSITIVE)
    """Adam learning rate (initial value with the adaptive schedule)."""
    schedule: Literal["adaptive", "fixed"] = "adaptive"
    """'adaptive' (KL-based) or 'fixed'."""
    desired_kl: float = field(default=0.01, metadata=POSITIVE)
    """Target KL for the adaptive schedule."""
    gamma: float = field(default=0.99, metadata=UNIT_INTERVAL)
    """Discount factor."""
    lam: float = field(default=0.95, metadata=UNIT_INTERVAL)
    """GAE lambda."""
    clip_param: float = field(default=0.2, metadata=POSITIVE)
    """PPO clip range."""
    entropy_coef: float = 0.005
    """Entropy bonus."""
    value_loss_coef: float = 1.0
    """Value loss weight."""
    use_clipped_value_loss: bool = True
    """Clip the value loss like the policy loss."""
    num_learning_epochs: int = field(default=5, metadata=AT_LEAST_1)
    """Passes over each rollout."""
    num_mini_batches: int = field(default=4, metadata=AT_LEAST_1)
    """Mini-batches per epoch."""
    max_grad_norm: float = field(default=1.0, metadata=POSITIVE)
    """Gradient clipping norm."""

    def to_rsl_rl(self) -> dict[str, Any]:
        return {"class_name": "PPO", **{k: getattr(self, k) for k in self.__dataclass_fields__}}


@dataclass(kw_only=True)
class RslRlPpoRunnerCfg:
    """Everything the PPO runner needs besides the env."""

    num_steps_per_env: int = field(default=24, metadata=AT_LEAST_1)
    """Env steps per world per iteration (rollout length)."""
    max_iterations: int = field(default=300, metadata=AT_LEAST_1)
    """Training iterations."""
    save_interval: int = field(default=50, metadata=AT_LEAST_1)
    """Iterations between checkpoints (the last one is always saved)."""
    experiment_name: str = "default"
    """Name used in logs."""
    obs_groups: dict[str, list[str]] = field(
        default_factory=lambda: {"actor": ["policy"], "critic": ["policy"]}
    )
    """Which observation groups feed the actor and the critic."""
    clip_actions: float | None = None
    """Clip actions to [-x, x] before the env sees them."""
    torch_compile_mode: str | None = None
    """torch.compile the actor/critic ('default' or 'max-autotune-no-cudagraphs'); None: eager."""
    actor: RslRlModelCfg = field(default_factory=RslRlModelCfg)
    """Actor network."""
    critic: RslRlModelCfg = field(default_factory=RslRlModelCfg)
    """Critic network."""
    algorithm: RslRlPpoAlgorithmCfg = field(default_factory=RslRlPpoAlgorithmCfg)
    """PPO hyperparameters."""

    def to_rsl_rl(self) -> dict[str, Any]:
        """The train_cfg dict of rsl_rl 5.x."""
        return {
            "num_steps_per_env": self.num_steps_per_env,
            "save_interval": self.save_interval,
            "obs_groups": {k: list(v) for k, v in self.obs_groups.items()},
            "actor": self.actor.to_rsl_rl(stochastic=True),
            "critic": self.critic.to_rsl_rl(stochastic=False),
            "algorithm": self.algorithm.to_rsl_rl(),
            "multi_gpu": None,
            "check_for_nan": True,
            "torch_compile_mode": self.torch_compile_mode,
        }

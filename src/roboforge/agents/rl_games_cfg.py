"""Typed rl_games 1.6.5 PPO agent files: the `params:` tree that rl_games' `Runner.load()` reads, as Isaac Lab
ships it in `rl_games_ppo_cfg.yaml` (with its `params.env` block of wrapper clips). `to_rl_games()` returns the
dict `Runner.load()` takes, with the env name, world count, device and seed of the run filled in.

Feed-forward `actor_critic` networks with the `continuous_a2c_logstd` model (what Isaac Lab's files use);
optionally an asymmetric critic (`central_value_config`) that reads the task's 'critic' observations."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from roboforge.utils.config import AT_LEAST_1, POSITIVE, UNIT_INTERVAL

Activation = Literal["None", "relu", "tanh", "sigmoid", "elu", "selu", "swish", "gelu", "softplus"]
"""rl_games' activation names (`NetworkBuilder.BaseNetwork.activations_factory`)."""
InitializerName = Literal[
    "default",
    "const_initializer",
    "orthogonal_initializer",
    "glorot_normal_initializer",
    "glorot_uniform_initializer",
    "variance_scaling_initializer",
    "random_uniform_initializer",
    "kaiming_normal",
    "orthogonal",
]
"""rl_games' weight initializers (`NetworkBuilder.BaseNetwork.init_factory`)."""

ENV_NAME = "roboforge"
"""The rl_games env name roboforge registers its wrapped env under (Isaac Lab's files say `rlgpu`)."""


@dataclass(kw_only=True)
class RlGamesEnvCfg:
    """Isaac Lab's `params.env` block: the clips the env wrapper applies (rl_games itself ignores it)."""

    clip_observations: float | None = None
    """Clip every observation to [-x, x] before the networks; None: no clip."""
    clip_actions: float = 1.0
    """The action bounds the agent sees (`Box(-x, x)`); the wrapper also clips to them before the env."""


@dataclass(kw_only=True)
class RlGamesAlgoCfg:
    """`params.algo`."""

    name: Literal["a2c_continuous"] = "a2c_continuous"
    """rl_games' continuous PPO agent (`A2CAgent`)."""


@dataclass(kw_only=True)
class RlGamesModelCfg:
    """`params.model`."""

    name: Literal["continuous_a2c_logstd"] = "continuous_a2c_logstd"
    """Gaussian policy whose network outputs mean and log-std."""


@dataclass(kw_only=True)
class RlGamesInitializerCfg:
    """A weight initializer: `name` and the keyword arguments rl_games passes to it."""

    name: InitializerName = "default"
    """Initializer ('default': torch's own)."""
    val: float | None = None
    """Value of `const_initializer`."""
    gain: float | None = None
    """Gain of the orthogonal and glorot initializers."""
    scale: float | None = None
    """Scale of `variance_scaling_initializer`."""

    def to_rl_games(self) -> dict[str, Any]:
        return {k: v for k, v in _plain(self).items() if v is not None}


@dataclass(kw_only=True)
class RlGamesRegularizerCfg:
    """`mlp.regularizer` (read by no rl_games network; kept so Isaac Lab's files load)."""

    name: str = "None"
    """Regularizer name."""


@dataclass(kw_only=True)
class RlGamesMlpCfg:
    """`network.mlp`: the hidden layers."""

    units: list[int] = field(default_factory=lambda: [256, 128, 64])
    """Hidden layer sizes."""
    activation: Activation = "elu"
    """Activation after each hidden layer."""
    d2rl: bool = False
    """D2RL: feed the input to every hidden layer."""
    initializer: RlGamesInitializerCfg = field(default_factory=RlGamesInitializerCfg)
    """Initializer of the hidden layers."""
    regularizer: RlGamesRegularizerCfg = field(default_factory=RlGamesRegularizerCfg)
    """Unused by rl_games."""


@dataclass(kw_only=True)
class RlGamesContinuousSpaceCfg:
    """`network.space.continuous`: the Gaussian action head."""

    mu_activation: Activation = "None"
    """Activation of the action mean."""
    sigma_activation: Activation = "None"
    """Activation of the log-std."""
    mu_init: RlGamesInitializerCfg = field(default_factory=RlGamesInitializerCfg)
    """Initializer of the mean layer."""
    sigma_init: RlGamesInitializerCfg = field(
        default_factory=lambda: RlGamesInitializerCfg(name="const_initializer", val=0.0)
    )
    """Initializer of the log-std (a constant 0: std 1)."""
    fixed_sigma: bool = True
    """A state-independent log-std parameter (True) or a layer on the last hidden features (False)."""


@dataclass(kw_only=True)
class RlGamesSpaceCfg:
    """`network.space`."""

    continuous: RlGamesContinuousSpaceCfg = field(default_factory=RlGamesContinuousSpaceCfg)
    """Continuous actions (roboforge's action terms are all continuous)."""


@dataclass(kw_only=True)
class RlGamesNetworkCfg:
    """`params.network`: actor and critic MLPs."""

    name: Literal["actor_critic"] = "actor_critic"
    """rl_games' MLP actor-critic builder (`A2CBuilder`)."""
    separate: bool = False
    """Separate actor and critic MLPs (True) or one shared trunk with two heads (False)."""
    space: RlGamesSpaceCfg = field(default_factory=RlGamesSpaceCfg)
    """The action head."""
    mlp: RlGamesMlpCfg = field(default_factory=RlGamesMlpCfg)
    """Hidden layers."""


@dataclass(kw_only=True)
class RlGamesRewardShaperCfg:
    """`config.reward_shaper`: rl_games trains on `clip((reward + shift_value) * scale_value, min_val, max_val)`."""

    scale_value: float = 1.0
    """Reward scale."""
    shift_value: float = 0.0
    """Added before scaling."""
    min_val: float | None = None
    """Lower clip of the shaped reward; None: none."""
    max_val: float | None = None
    """Upper clip of the shaped reward; None: none."""

    def to_rl_games(self) -> dict[str, Any]:
        return {k: v for k, v in _plain(self).items() if v is not None}


@dataclass(kw_only=True)
class RlGamesCentralValueNetworkCfg:
    """`central_value_config.network`: the value MLP of the asymmetric critic."""

    name: Literal["actor_critic"] = "actor_critic"
    """rl_games' MLP builder."""
    central_value: bool = True
    """Value output only (rl_games needs True here)."""
    mlp: RlGamesMlpCfg = field(default_factory=RlGamesMlpCfg)
    """Hidden layers."""


@dataclass(kw_only=True)
class RlGamesCentralValueCfg:
    """`config.central_value_config`: an asymmetric critic on the 'critic' observations ("states"), trained
    with its own optimizer (rl_games' `CentralValueTrain`)."""

    minibatch_size: int | None = None
    """Samples per mini-batch (must divide horizon_length x worlds); None: from minibatch_size_per_env."""
    minibatch_size_per_env: int | None = None
    """Samples per world per mini-batch (must divide horizon_length): a mini-batch count independent of worlds."""
    mini_epochs: int = field(default=5, metadata=AT_LEAST_1)
    """Passes over each rollout."""
    learning_rate: float = field(default=1.0e-3, metadata=POSITIVE)
    """Adam learning rate."""
    lr_schedule: Literal["adaptive", "linear"] | None = None
    """'linear': decay over max_epochs; anything else keeps the critic's rate constant (rl_games)."""
    schedule_type: Literal["legacy", "standard"] = "standard"
    """Kept for Isaac Lab's files; the critic's rate follows lr_schedule only."""
    kl_threshold: float = 0.008
    """Kept for Isaac Lab's files; the critic's rate follows lr_schedule only."""
    clip_value: bool = True
    """Clip the value loss like the policy loss."""
    normalize_input: bool = True
    """Normalize the critic's observations with running statistics."""
    truncate_grads: bool = True
    """Clip the gradient norm to grad_norm."""
    grad_norm: float = 1.0
    """Gradient clipping norm."""
    network: RlGamesCentralValueNetworkCfg = field(default_factory=RlGamesCentralValueNetworkCfg)
    """The value network."""

    def to_rl_games(self) -> dict[str, Any]:
        out = _without_none(_plain(self), ("minibatch_size", "minibatch_size_per_env"))
        out["network"]["mlp"]["initializer"] = self.network.mlp.initializer.to_rl_games()
        return out


@dataclass(kw_only=True)
class RlGamesConfigCfg:
    """`params.config`: the PPO settings `A2CAgent` reads."""

    name: str = "roboforge"
    """Experiment name."""
    env_name: str = "rlgpu"
    """rl_games env name; roboforge registers its env and sets it when it builds the agent."""
    device: str = "cuda:0"
    """Training device; roboforge sets the env's device."""
    device_name: str = "cuda:0"
    """rl_games' player device; roboforge sets the env's device."""
    multi_gpu: bool = False
    """rl_games' multi-GPU training: must be False (roboforge switches it on itself in distributed runs)."""
    ppo: bool = True
    """Clipped PPO surrogate (False: plain policy gradient)."""
    mixed_precision: bool = False
    """bfloat16 autocast of the forward pass (CUDA only)."""
    normalize_input: bool = False
    """Normalize observations with running statistics (baked into exported policies)."""
    normalize_value: bool = False
    """Normalize value targets with running statistics."""
    value_bootstrap: bool = True
    """Add gamma x value to the reward of time-outs (episodes cut by the time limit, not failed)."""
    num_actors: int = -1
    """Worlds; roboforge sets the env's world count."""
    reward_shaper: RlGamesRewardShaperCfg = field(default_factory=RlGamesRewardShaperCfg)
    """Reward scaling."""
    normalize_advantage: bool = True
    """Standardize advantages per rollout."""
    gamma: float = field(default=0.99, metadata=UNIT_INTERVAL)
    """Discount factor."""
    tau: float = field(default=0.95, metadata=UNIT_INTERVAL)
    """GAE lambda."""
    learning_rate: float = field(default=3.0e-4, metadata=POSITIVE)
    """Adam learning rate (initial value with the adaptive schedule)."""
    lr_schedule: Literal["adaptive", "linear"] | None = "adaptive"
    """'adaptive' (KL-based), 'linear' (decay over max_epochs) or None: constant."""
    schedule_type: Literal["legacy", "standard"] = "legacy"
    """Adapt the learning rate after every mini-batch ('legacy') or every mini-epoch ('standard')."""
    kl_threshold: float = 0.008
    """Target KL of the adaptive schedule."""
    schedule_entropy: bool = False
    """Decay entropy_coef with the linear schedule too."""
    score_to_win: float = 20000.0
    """rl_games' own stop on a mean return; roboforge trains max_epochs and ignores it."""
    max_epochs: int = field(default=150, metadata=AT_LEAST_1)
    """Training iterations (epochs of one rollout and one update)."""
    save_best_after: int = 100
    """rl_games' best-return checkpoints; roboforge saves every save_frequency and ignores it."""
    save_frequency: int = 50
    """Iterations between checkpoints (the last one is always saved)."""
    grad_norm: float = 1.0
    """Gradient clipping norm."""
    entropy_coef: float = 0.0
    """Entropy bonus."""
    truncate_grads: bool = True
    """Clip the gradient norm to grad_norm."""
    e_clip: float = field(default=0.2, metadata=POSITIVE)
    """PPO clip range."""
    horizon_length: int = field(default=16, metadata=AT_LEAST_1)
    """Env steps per world per iteration (rollout length)."""
    minibatch_size: int | None = None
    """Samples per mini-batch (must divide horizon_length x worlds); None: from minibatch_size_per_env."""
    minibatch_size_per_env: int | None = None
    """Samples per world per mini-batch (must divide horizon_length): horizon_length / minibatch_size_per_env
    mini-batches whatever the world count, like rsl_rl's num_mini_batches."""
    mini_epochs: int = field(default=5, metadata=AT_LEAST_1)
    """Passes over each rollout."""
    critic_coef: float = 2.0
    """Value loss weight; rl_games adds 0.5 x critic_coef x the squared error (2.0 = rsl_rl's 1.0)."""
    clip_value: bool = True
    """Clip the value loss like the policy loss."""
    seq_length: int = 4
    """Sequence length of recurrent networks (read by rl_games even without one)."""
    bounds_loss_coef: float = 0.0001
    """Weight of the penalty on action means beyond +-1.1 (0: off)."""
    bound_loss_type: Literal["bound", "regularisation"] = "bound"
    """'bound': penalize means beyond +-1.1; 'regularisation': penalize their square."""
    clip_actions: bool = True
    """rl_games' action preprocessing: clamp to [-1, 1] and rescale to the action bounds (env.clip_actions);
    False: send the raw Gaussian sample (the wrapper still clips to env.clip_actions)."""
    weight_decay: float = 0.0
    """Adam weight decay."""
    central_value_config: RlGamesCentralValueCfg | None = None
    """An asymmetric critic on the 'critic' observations; None: the actor-critic's own value head on the
    policy observations. Setting one of its fields (in a file or an override) creates it with defaults."""


@dataclass(kw_only=True)
class RlGamesParamsCfg:
    """rl_games' `params` tree."""

    seed: int = 42
    """rl_games' seed; roboforge seeds the agent with the env's seed (--seed) instead."""
    env: RlGamesEnvCfg = field(default_factory=RlGamesEnvCfg)
    """Isaac Lab's wrapper clips."""
    algo: RlGamesAlgoCfg = field(default_factory=RlGamesAlgoCfg)
    """The algorithm."""
    model: RlGamesModelCfg = field(default_factory=RlGamesModelCfg)
    """The policy distribution."""
    network: RlGamesNetworkCfg = field(default_factory=RlGamesNetworkCfg)
    """The networks."""
    load_checkpoint: bool = False
    """Isaac Lab's resume flag; roboforge resumes with `roboforge train --resume` (must be False)."""
    load_path: str = ""
    """Isaac Lab's checkpoint to resume; unused by roboforge."""
    config: RlGamesConfigCfg = field(default_factory=RlGamesConfigCfg)
    """PPO settings."""


@dataclass(kw_only=True)
class RlGamesPpoCfg:
    """An rl_games PPO agent file (`rl_games_ppo_cfg.yaml`)."""

    params: RlGamesParamsCfg = field(default_factory=RlGamesParamsCfg)
    """rl_games' params tree."""

    def to_rl_games(
        self, num_actors: int, device: str, seed: int, env_name: str = ENV_NAME
    ) -> dict[str, Any]:
        """The dict `Runner.load()` takes, for `num_actors` worlds on `device` (rl_games' checkpoints and
        summaries are roboforge's business: the caller points `train_dir` at a throwaway folder)."""
        p = self.params
        net = _plain(p.network)
        net["mlp"]["initializer"] = p.network.mlp.initializer.to_rl_games()
        cont = net["space"]["continuous"]
        cont["mu_init"] = p.network.space.continuous.mu_init.to_rl_games()
        cont["sigma_init"] = p.network.space.continuous.sigma_init.to_rl_games()
        config = _without_none(_plain(p.config), ("minibatch_size", "minibatch_size_per_env"))
        config.pop("central_value_config")
        config.update(
            name=p.config.name,
            env_name=env_name,
            device=device,
            device_name=device,
            num_actors=num_actors,
            reward_shaper=p.config.reward_shaper.to_rl_games(),
            print_stats=False,
            torch_compile=False,
        )
        if p.config.central_value_config is not None:
            config["central_value_config"] = p.config.central_value_config.to_rl_games()
        return {
            "params": {
                "seed": seed,
                "torch_threads": 0,  # roboforge sets torch's thread count (--threads)
                "env": _plain(p.env),
                "algo": _plain(p.algo),
                "model": _plain(p.model),
                "network": net,
                "load_checkpoint": False,
                "load_path": "",
                "config": config,
            }
        }


_YAML12_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def yaml12_numbers(data: Any) -> Any:
    """`data` with the strings YAML 1.2 reads as floats made floats: PyYAML (YAML 1.1) reads `3e-4`, which
    Isaac Lab's rl_games files use and rl_games converts with float(), as a string."""
    if isinstance(data, dict):
        return {k: yaml12_numbers(v) for k, v in data.items()}
    if isinstance(data, list):
        return [yaml12_numbers(v) for v in data]
    if isinstance(data, str) and _YAML12_FLOAT.match(data):
        return float(data)
    return data


def _without_none(cfg: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """`cfg` without those of `keys` whose value is None (rl_games tests their presence, not their value)."""
    return {k: v for k, v in cfg.items() if not (k in keys and v is None)}


def _plain(cfg: Any) -> Any:
    """A config as plain dicts and lists (a typed central-value config included)."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {f.name: _plain(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, list):
        return [_plain(v) for v in cfg]
    return cfg

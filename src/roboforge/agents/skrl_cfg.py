"""Typed skrl 2.x runner configs (PPO and SAC), in the key names of `skrl.utils.runner.torch.Runner`'s YAML
files, converted to the dict the Runner takes by `to_skrl()`.

An Isaac Lab `skrl_ppo_cfg.yaml` written for skrl 1.x carries over: the keys skrl 2.x renamed or dropped
(`lambda`, `clip_predicted_values`, `shared_state_preprocessor`, PPO's `random_timesteps`/`learning_starts`)
are accepted here and handed to the Runner, which converts them (with a warning) as skrl itself does.
Fields named like Python keywords are declared `class_`/`lambda_` and spelled `class`/`lambda` in files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from roboforge.utils.config import AT_LEAST_1, POSITIVE, UNIT_INTERVAL, to_dict

Interval = int | Literal["auto"]

_DROP_WHEN_NONE = {
    "lambda",
    "clip_predicted_values",
    "shared_state_preprocessor",
    "shared_state_preprocessor_kwargs",
    "random_timesteps",
    "learning_starts",
    "observation_preprocessor",
    "state_preprocessor",
}
"""Agent keys left out of the Runner's dict while unset: the Runner reads their absence (e.g. a 1.x
`state_preprocessor` without `observation_preprocessor` becomes the observation preprocessor)."""


def _mlp(layers: list[int], input_: str = "OBSERVATIONS", activations: str = "elu") -> list[dict[str, Any]]:
    return [{"name": "net", "input": input_, "layers": list(layers), "activations": activations}]


@dataclass(kw_only=True)
class SkrlGaussianModelCfg:
    """A stochastic (Gaussian) model: the arguments of skrl's `gaussian_model` instantiator."""

    class_: Literal["GaussianMixin"] = "GaussianMixin"
    """Model kind (skrl's `GaussianMixin`)."""
    clip_actions: bool = False
    """Clip sampled actions to the action space (needs a bounded space: SAC)."""
    clip_mean_actions: bool = False
    """Clip the mean actions to the action space before sampling."""
    clip_log_std: bool = True
    """Clip the log standard deviation to [min_log_std, max_log_std]."""
    min_log_std: float = -20.0
    """Lower clip of the log standard deviation."""
    max_log_std: float = 2.0
    """Upper clip of the log standard deviation."""
    reduction: Literal["mean", "sum", "prod", "none"] = "sum"
    """How the per-action log probabilities are reduced."""
    initial_log_std: float = 0.0
    """Initial log standard deviation (0: std 1)."""
    fixed_log_std: bool = False
    """Keep the log standard deviation fixed (not learned)."""
    network: list[dict[str, Any]] = field(default_factory=lambda: _mlp([64, 64]))
    """Containers `{name, input, layers, activations}`; input OBSERVATIONS, STATES or an expression."""
    output: str = "ACTIONS"
    """Output expression, e.g. ACTIONS or tanh(ACTIONS)."""


@dataclass(kw_only=True)
class SkrlDeterministicModelCfg:
    """A deterministic model (value function, Q-function): the arguments of skrl's `deterministic_model`."""

    class_: Literal["DeterministicMixin"] = "DeterministicMixin"
    """Model kind (skrl's `DeterministicMixin`)."""
    clip_actions: bool = False
    """Clip the output to the action space."""
    network: list[dict[str, Any]] = field(default_factory=lambda: _mlp([64, 64]))
    """Containers `{name, input, layers, activations}`; input OBSERVATIONS, STATES, ACTIONS or an expression."""
    output: str = "ONE"
    """Output expression (ONE: a scalar)."""


@dataclass(kw_only=True)
class SkrlPpoModelsCfg:
    """The PPO models: a Gaussian policy and a value function."""

    separate: bool = True
    """Separate networks (False: one network with two heads, skrl's shared model)."""
    policy: SkrlGaussianModelCfg = field(default_factory=SkrlGaussianModelCfg)
    """Policy (actor)."""
    value: SkrlDeterministicModelCfg = field(default_factory=SkrlDeterministicModelCfg)
    """Value function (critic); reads STATES for an asymmetric critic."""


def _q_function() -> SkrlDeterministicModelCfg:
    return SkrlDeterministicModelCfg(network=_mlp([256, 256], "concatenate([OBSERVATIONS, ACTIONS])", "relu"))


@dataclass(kw_only=True)
class SkrlSacModelsCfg:
    """The SAC models: a Gaussian policy, two Q-functions and their targets."""

    separate: bool = True
    """Separate networks (SAC needs True)."""
    policy: SkrlGaussianModelCfg = field(
        default_factory=lambda: SkrlGaussianModelCfg(
            clip_actions=True, network=_mlp([256, 256], activations="relu"), output="tanh(ACTIONS)"
        )
    )
    """Policy (actor)."""
    critic_1: SkrlDeterministicModelCfg = field(default_factory=_q_function)
    """First Q-function `Q(observations, actions)`."""
    critic_2: SkrlDeterministicModelCfg = field(default_factory=_q_function)
    """Second Q-function."""
    target_critic_1: SkrlDeterministicModelCfg = field(default_factory=_q_function)
    """Target of the first Q-function (same network)."""
    target_critic_2: SkrlDeterministicModelCfg = field(default_factory=_q_function)
    """Target of the second Q-function (same network)."""


@dataclass(kw_only=True)
class SkrlMemoryCfg:
    """Transition memory (skrl's `RandomMemory`)."""

    class_: Literal["RandomMemory"] = "RandomMemory"
    """Memory kind."""
    memory_size: int = -1
    """Transitions per world; -1: the agent's rollouts (PPO)."""
    replacement: bool = False
    """Sample with replacement (SAC mini-batches)."""


@dataclass(kw_only=True)
class SkrlExperimentCfg:
    """skrl's logging and checkpoint settings (roboforge writes metrics and checkpoints itself and turns skrl's
    TensorBoard and checkpoint writing off; `checkpoint_interval` sets roboforge's save interval)."""

    directory: str = ""
    """skrl's experiment folder (unused by roboforge: runs go to the run folder)."""
    experiment_name: str = ""
    """skrl's experiment name (unused by roboforge)."""
    write_interval: Interval = "auto"
    """TensorBoard interval in timesteps (unused by roboforge)."""
    checkpoint_interval: Interval = "auto"
    """Timesteps between checkpoints; roboforge saves every `checkpoint_interval // steps per iteration`
    iterations ("auto" or <= 0: a tenth of the run)."""
    store_separately: bool = False
    """Save each module in its own file (unused by roboforge)."""
    wandb: bool = False
    """Log to Weights & Biases (unused by roboforge)."""
    wandb_kwargs: dict[str, Any] = field(default_factory=dict)
    """Weights & Biases settings (unused by roboforge)."""


@dataclass(kw_only=True)
class SkrlTrainerCfg:
    """skrl's trainer settings: roboforge reads `timesteps` (env steps per world of the whole run)."""

    class_: Literal["SequentialTrainer"] = "SequentialTrainer"
    """Trainer kind."""
    timesteps: int = field(default=100000, metadata=AT_LEAST_1)
    """Env steps per world of the whole run; iterations = timesteps // steps per iteration."""
    headless: bool = True
    """Do not render."""
    disable_progressbar: bool | None = True
    """Hide skrl's progress bar (roboforge shows its own)."""
    close_environment_at_exit: bool = False
    """Close the env when Python exits (roboforge closes it)."""
    environment_info: str = "episode"
    """Key of the env's extras logged by skrl's trainer."""
    stochastic_evaluation: bool = False
    """Evaluate with sampled rather than mean actions."""


@dataclass(kw_only=True)
class SkrlPpoAgentCfg:
    """skrl's PPO agent (`PPO_CFG` fields, plus the 1.x keys the Runner still converts)."""

    class_: Literal["PPO"] = "PPO"
    """Agent kind."""
    rollouts: int = field(default=16, metadata=AT_LEAST_1)
    """Env steps per world between updates (one roboforge iteration)."""
    learning_epochs: int = field(default=8, metadata=AT_LEAST_1)
    """Passes over each rollout."""
    mini_batches: int = field(default=2, metadata=AT_LEAST_1)
    """Mini-batches per epoch."""
    discount_factor: float = field(default=0.99, metadata=UNIT_INTERVAL)
    """Discount factor (gamma)."""
    gae_lambda: float = field(default=0.95, metadata=UNIT_INTERVAL)
    """GAE lambda."""
    learning_rate: float = field(default=1.0e-3, metadata=POSITIVE)
    """Adam learning rate (initial value with a scheduler)."""
    learning_rate_scheduler: str | None = None
    """Scheduler class, e.g. KLAdaptiveLR (adapts the rate to a target KL)."""
    learning_rate_scheduler_kwargs: dict[str, Any] | None = None
    """Scheduler arguments, e.g. {kl_threshold: 0.01}."""
    observation_preprocessor: str | None = None
    """Observation normalizer, e.g. RunningStandardScaler (baked into exported policies)."""
    observation_preprocessor_kwargs: dict[str, Any] | None = None
    """Observation normalizer arguments."""
    state_preprocessor: str | None = None
    """State (critic observation) normalizer; in a 1.x file without observation_preprocessor it is the
    observation normalizer."""
    state_preprocessor_kwargs: dict[str, Any] | None = None
    """State normalizer arguments."""
    value_preprocessor: str | None = None
    """Value normalizer, e.g. RunningStandardScaler."""
    value_preprocessor_kwargs: dict[str, Any] | None = None
    """Value normalizer arguments."""
    grad_norm_clip: float = 0.5
    """Gradient clipping norm (<= 0: none)."""
    ratio_clip: float = field(default=0.2, metadata=POSITIVE)
    """PPO clip range of the probability ratio."""
    value_clip: float = 0.2
    """Clip range of the predicted values (<= 0: none)."""
    entropy_loss_scale: float = 0.0
    """Entropy bonus."""
    value_loss_scale: float = 2.5
    """Value loss weight."""
    kl_threshold: float = 0.0
    """KL early-stopping threshold (0: off)."""
    rewards_shaper_scale: float = 1.0
    """Rewards are multiplied by this before learning."""
    time_limit_bootstrap: bool = False
    """Bootstrap the value at time-outs."""
    mixed_precision: bool = False
    """Automatic mixed precision."""
    experiment: SkrlExperimentCfg = field(default_factory=SkrlExperimentCfg)
    """Logging and checkpoints."""
    lambda_: float | None = None
    """skrl 1.x name of gae_lambda (converted by the Runner)."""
    clip_predicted_values: bool | None = None
    """skrl 1.x switch of value clipping (converted by the Runner into value_clip)."""
    shared_state_preprocessor: str | None = None
    """skrl 1.x name of state_preprocessor (converted by the Runner)."""
    shared_state_preprocessor_kwargs: dict[str, Any] | None = None
    """skrl 1.x name of state_preprocessor_kwargs."""
    random_timesteps: int | None = None
    """Off-policy setting found in 1.x PPO files; ignored (with a warning) by the Runner."""
    learning_starts: int | None = None
    """Off-policy setting found in 1.x PPO files; ignored (with a warning) by the Runner."""


@dataclass(kw_only=True)
class SkrlSacAgentCfg:
    """skrl's SAC agent (`SAC_CFG` fields)."""

    class_: Literal["SAC"] = "SAC"
    """Agent kind."""
    gradient_steps: int = field(default=1, metadata=AT_LEAST_1)
    """Gradient steps per env step."""
    batch_size: int = field(default=256, metadata=AT_LEAST_1)
    """Transitions per gradient step."""
    discount_factor: float = field(default=0.99, metadata=UNIT_INTERVAL)
    """Discount factor (gamma)."""
    polyak: float = field(default=0.005, metadata=UNIT_INTERVAL)
    """Soft update rate of the target Q-functions."""
    learning_rate: float | list[float] = field(default=1.0e-3, metadata=POSITIVE)
    """Adam learning rate; a list of three: actor, critic, entropy coefficient."""
    learning_rate_scheduler: str | None = None
    """Scheduler class."""
    learning_rate_scheduler_kwargs: dict[str, Any] | None = None
    """Scheduler arguments."""
    observation_preprocessor: str | None = None
    """Observation normalizer, e.g. RunningStandardScaler (baked into exported policies)."""
    observation_preprocessor_kwargs: dict[str, Any] | None = None
    """Observation normalizer arguments."""
    state_preprocessor: str | None = None
    """State (critic observation) normalizer."""
    state_preprocessor_kwargs: dict[str, Any] | None = None
    """State normalizer arguments."""
    random_timesteps: int = 0
    """Env steps with uniformly random actions at the start."""
    learning_starts: int = 0
    """Env steps before the first update."""
    grad_norm_clip: float = 0.0
    """Gradient clipping norm (<= 0: none)."""
    learn_entropy: bool = True
    """Learn the entropy coefficient."""
    initial_entropy_value: float = 0.2
    """Initial entropy coefficient."""
    target_entropy: float | None = None
    """Target entropy (None: -number of actions)."""
    rewards_shaper_scale: float = 1.0
    """Rewards are multiplied by this before learning."""
    mixed_precision: bool = False
    """Automatic mixed precision."""
    experiment: SkrlExperimentCfg = field(default_factory=SkrlExperimentCfg)
    """Logging and checkpoints."""


def _runner_dict(cfg: Any) -> dict[str, Any]:
    """`to_dict(cfg)` without the agent keys that are unset and must stay absent for the Runner."""
    data = to_dict(cfg)
    agent = data["agent"]
    for key in _DROP_WHEN_NONE & set(agent):
        if agent[key] is None:
            del agent[key]
    if isinstance(agent.get("learning_rate"), list):
        agent["learning_rate"] = tuple(agent["learning_rate"])
    return data


@dataclass(kw_only=True)
class SkrlPpoCfg:
    """An skrl PPO runner file (`skrl_ppo_cfg.yaml`)."""

    seed: int | None = None
    """skrl's seed; roboforge seeds skrl with the env's seed (--seed) instead."""
    models: SkrlPpoModelsCfg = field(default_factory=SkrlPpoModelsCfg)
    """Policy and value networks."""
    memory: SkrlMemoryCfg = field(default_factory=SkrlMemoryCfg)
    """Rollout memory."""
    agent: SkrlPpoAgentCfg = field(default_factory=SkrlPpoAgentCfg)
    """PPO hyperparameters."""
    trainer: SkrlTrainerCfg = field(default_factory=SkrlTrainerCfg)
    """Run length."""

    def to_skrl(self) -> dict[str, Any]:
        """The config dict of `skrl.utils.runner.torch.Runner`."""
        return _runner_dict(self)


@dataclass(kw_only=True)
class SkrlSacCfg:
    """An skrl SAC runner file (`skrl_sac_cfg.yaml`)."""

    seed: int | None = None
    """skrl's seed; roboforge seeds skrl with the env's seed (--seed) instead."""
    models: SkrlSacModelsCfg = field(default_factory=SkrlSacModelsCfg)
    """Policy, Q-functions and target Q-functions."""
    memory: SkrlMemoryCfg = field(default_factory=lambda: SkrlMemoryCfg(memory_size=100000))
    """Replay buffer (transitions per world)."""
    agent: SkrlSacAgentCfg = field(default_factory=SkrlSacAgentCfg)
    """SAC hyperparameters."""
    trainer: SkrlTrainerCfg = field(default_factory=SkrlTrainerCfg)
    """Run length."""

    def to_skrl(self) -> dict[str, Any]:
        """The config dict of `skrl.utils.runner.torch.Runner`."""
        return _runner_dict(self)

"""skrl's PPO and SAC on a roboforge env, driven one iteration at a time.

skrl's own pieces do the work: `wrap_env(env, wrapper="isaaclab")` wraps the env (its 'critic' observation
group becomes skrl's `states`), `skrl.utils.runner.torch.Runner` builds the models, memory and agent from
the task's skrl runner file (`skrl_ppo_cfg.yaml`, `skrl_sac_cfg.yaml`), and `iterate()` runs the steps of
skrl's `SequentialTrainer.train` (pre_interaction, act, env step, record_transition, post_interaction,
carry the observations over: the env resets finished worlds itself). skrl's TensorBoard and checkpoint
writing is off; roboforge writes metrics and checkpoints.

Checkpoints are what skrl's `Agent.save` writes (a dict of the modules', optimizers' and preprocessors'
state dicts by name), so skrl's own `agent.load(path)` reads them.

SAC acts in a bounded action space: `BoundedActions` presents `[-1, 1]` per action to skrl and clamps what
reaches the env, and `policy()` ends with the same clamp.

Distributed runs (`rl/distributed.py`) use skrl's own multi-process mode, switched on through the fields of
`skrl.config.torch` (`use_rank`): skrl's PPO then broadcasts the policy and value parameters when it is built,
all-reduces their gradients every minibatch and the KL of its adaptive learning rate; `SharedMoments` merges
its normalizers (`RunningStandardScaler`), which skrl leaves per rank.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

import torch
from torch import nn

from roboforge.rl import distributed

# skrl builds `skrl.config.torch` when it is first imported and, seeing torchrun's WORLD_SIZE > 1, calls
# `torch.distributed.init_process_group("nccl")` itself (skrl/__init__.py:_Config.PyTorch.__init__). roboforge
# has joined the job already (`distributed.join`: gloo on the CPU, a timeout), and a second init is an error,
# so skrl is imported as a single process and `use_rank` sets the same config fields afterwards.
with distributed.world_size_hidden():
    import skrl
from skrl.envs.wrappers.torch import Wrapper, wrap_env
from skrl.utils import set_seed
from skrl.utils.runner.torch import Runner

from roboforge.agents.skrl_cfg import SkrlPpoCfg, SkrlSacCfg
from roboforge.envs.wrappers.skrl import BoundedActions
from roboforge.rl.checkpoints import checkpoint_iteration, read_torch_checkpoint
from roboforge.rl.libraries.base import (
    FeedForwardPolicy,
    Learner,
    RescaleActions,
    Standardize,
    StepRecorder,
    load_error_detail,
)
from roboforge.utils.errors import UserInputError
from roboforge.utils.overrides import SettingError

logging.getLogger("skrl").setLevel(logging.WARNING)  # its INFO lines (seed, wrapper) would clutter the CLI

SAC_STEPS_PER_ITERATION = 32
"""Env steps per world in one SAC iteration (skrl's SAC updates after every env step; an iteration is the
unit of roboforge's metrics and checkpoints: one host sync per 32 env steps)."""
SAC_ACTION_BOUND = 1.0
"""SAC's actions lie in [-1, 1] (the action terms' `scale` sets the physical range)."""
_NEVER = 1 << 62
"""A TensorBoard write interval that is never reached: makes skrl record its losses without writing."""

PPO_TAGS = {
    "Loss / Policy loss": "Loss/surrogate",
    "Loss / Value loss": "Loss/value",
    "Loss / Entropy loss": "Loss/entropy_loss",
}
SAC_TAGS = {
    "Loss / Policy loss": "Loss/actor",
    "Loss / Critic loss": "Loss/critic",
    "Coefficient / Entropy coefficient": "Loss/entropy_coef",
    "Loss / Entropy loss": "Loss/entropy_loss",
}
"""skrl's tracking tags and the roboforge (rsl_rl-style) tags they are reported under."""


class SkrlLearner(Learner):
    """skrl PPO or SAC through skrl's Isaac Lab wrapper, built by skrl's Runner from the agent file."""

    library = "skrl"
    cfg_types = {"ppo": SkrlPpoCfg, "sac": SkrlSacCfg}

    def __init__(self, env: Any, cfg: SkrlPpoCfg | SkrlSacCfg, algorithm: str, recorder: StepRecorder):
        super().__init__(env, cfg, algorithm, recorder)
        rank = distributed.current()
        use_rank(rank)  # before the agent is built: skrl's PPO broadcasts its parameters in __init__
        # skrl's set_seed adds the rank in distributed runs (skrl/utils/__init__.py); the env's seed has it already
        seed = int(env.cfg.seed) - rank.rank if rank.world_size > 1 else int(env.cfg.seed)
        set_seed(seed)  # before wrapping: skrl's wrapper resets the env with skrl's seed
        self.action_bound = SAC_ACTION_BOUND if algorithm == "sac" else None
        source = env if self.action_bound is None else BoundedActions(env, self.action_bound)
        self.wrapped = cast(Wrapper, wrap_env(source, wrapper="isaaclab"))  # single-agent
        self.agent = build_agent(self.wrapped, cfg, seed)
        self.moments = distributed.SharedMoments(scalers(self.agent))
        self.steps_per_iteration, self.max_iterations = self.iteration_plan(cfg, algorithm, env.num_envs)
        self.save_interval = save_interval(
            cfg.agent.experiment.checkpoint_interval, self.steps_per_iteration, self.max_iterations
        )
        self.timestep = 0
        """Env steps per world taken by this learner (skrl's trainer timestep)."""
        self.observations, _ = self.wrapped.reset()
        self.states = self.wrapped.state()

    @classmethod
    def iteration_plan(cls, cfg: SkrlPpoCfg | SkrlSacCfg, algorithm: str, num_envs: int) -> tuple[int, int]:
        """PPO: `rollouts` steps per iteration; SAC: SAC_STEPS_PER_ITERATION; `trainer.timesteps` in all."""
        steps = cfg.agent.rollouts if isinstance(cfg, SkrlPpoCfg) else SAC_STEPS_PER_ITERATION
        return steps, max(1, cfg.trainer.timesteps // steps)

    @classmethod
    def check_cfg(cls, cfg: SkrlPpoCfg | SkrlSacCfg, algorithm: str, num_envs: int) -> None:
        """skrl's PPO splits one rollout of `rollouts x num_envs` samples into `mini_batches`; more
        mini-batches than samples make empty ones, whose losses are NaN."""
        if not isinstance(cfg, SkrlPpoCfg):
            return
        samples = cfg.agent.rollouts * num_envs
        if cfg.agent.mini_batches > samples:
            raise SettingError(
                "agent.agent.mini_batches",
                f"{cfg.agent.mini_batches} mini-batches of one rollout of {samples} samples (rollouts "
                f"{cfg.agent.rollouts} x num_envs {num_envs}) would leave some empty; give at most {samples}.",
            )

    def iterate(self) -> dict[str, float]:
        agent = self.agent
        agent.enable_training_mode(True)
        timesteps = self.max_iterations * self.steps_per_iteration
        self.moments.mark()
        for step in range(self.steps_per_iteration):
            t = self.timestep
            agent.pre_interaction(timestep=t, timesteps=timesteps)
            with torch.no_grad():
                actions, _ = agent.act(self.observations, self.states, timestep=t, timesteps=timesteps)
                observations, rewards, terminated, truncated, infos = self.wrapped.step(actions)
                states = self.wrapped.state()
                self.recorder.step(actions, rewards, terminated | truncated)
                agent.record_transition(
                    observations=self.observations,
                    states=self.states,
                    actions=actions,
                    rewards=rewards,
                    next_observations=observations,
                    next_states=states,
                    terminated=terminated,
                    truncated=truncated,
                    infos=infos,
                    timestep=t,
                    timesteps=timesteps,
                )
            with self._track_losses(step == self.steps_per_iteration - 1):
                agent.post_interaction(timestep=t, timesteps=timesteps)
            self.observations, self.states = observations, states
            self.timestep += 1
        self.moments.share()
        return self._pop_losses()

    @contextlib.contextmanager
    def _track_losses(self, enabled: bool) -> Iterator[None]:
        """Let skrl record its losses in `tracking_data` (SAC only does with a positive write interval, and
        syncs with the host to do so: only in the last update of an iteration) without writing TensorBoard."""
        if enabled:
            self.agent.write_interval = _NEVER
        try:
            yield
        finally:
            self.agent.write_interval = 0

    def _pop_losses(self) -> dict[str, float]:
        """The iteration's losses under rsl_rl's tags where they mean the same; clears skrl's tracking."""
        data = self.agent.tracking_data
        tags = PPO_TAGS if self.algorithm == "ppo" else SAC_TAGS
        out = {tag: float(sum(data[k]) / len(data[k])) for k, tag in tags.items() if data.get(k)}
        data.clear()
        optimizer = self.agent.optimizer if self.algorithm == "ppo" else self.agent.policy_optimizer
        out["Loss/learning_rate"] = float(optimizer.param_groups[0]["lr"])
        distribution = self.agent.policy.distribution(role="policy")
        if distribution is not None:  # the last update's action distribution
            out["Policy/mean_std"] = float(distribution.stddev.detach().mean())
            if self.algorithm == "ppo":
                out["Loss/entropy"] = float(distribution.entropy().detach().sum(-1).mean())
        return out

    def save(self, file: BinaryIO) -> None:
        # What skrl's `Agent.save` writes: each checkpoint module's state dict by name.
        modules = {
            name: module.state_dict() if hasattr(module, "state_dict") else module
            for name, module in self.agent.checkpoint_modules.items()
        }
        torch.save(modules, file)

    def load(self, path: Path, training: bool) -> None:
        state = read_torch_checkpoint(path, self.device)
        check_skrl_checkpoint(path, state, set(self.agent.checkpoint_modules))
        try:
            self.agent.load(str(path))
        except RuntimeError as err:
            raise UserInputError(
                f"Checkpoint {path} does not fit the task's skrl networks ({load_error_detail(err)}). "
                "The network settings come from params/agent.json beside it: keep that file with the "
                "checkpoint, and use the task it was trained on."
            ) from err
        if training:  # skrl's checkpoint holds no step count: continue it from the file's iteration
            self.timestep = (checkpoint_iteration(path) + 1) * self.steps_per_iteration

    def policy(self) -> Any:
        layers: list[nn.Module] = []
        preprocessor = self.agent.checkpoint_modules.get("observation_preprocessor")
        if preprocessor is not None:
            layers.append(standardize_like(preprocessor))
        layers.append(MeanActions(model_copy(self.agent.policy)))
        if self.action_bound is not None:
            bound = torch.full((self.env.num_actions,), self.action_bound, device=self.device)
            layers.append(RescaleActions(-bound, bound, squash="clip"))
        policy = FeedForwardPolicy(
            net=nn.Sequential(*layers),
            obs_groups=["policy"],
            obs_dim=int(self.env.obs_dims["policy"]),
            obs_normalization=preprocessor is not None,
        )
        return policy.eval()


class MeanActions(nn.Module):
    """skrl's deterministic action: the policy model's mean (`outputs["mean_actions"]` of its `act`),
    computed from preprocessed observations."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.model.compute({"observations": observations}, role="policy")[0]  # type: ignore[operator]


def use_rank(rank: distributed.Rank) -> None:
    """skrl's multi-process mode for this process (off on a single process): the fields `skrl.config.torch`
    reads from LOCAL_RANK, RANK and WORLD_SIZE when skrl is imported under torchrun. skrl has no setter for
    them; its agents read `is_distributed` (broadcast, gradient and KL all-reduce), `rank` and `world_size`."""
    config = skrl.config.torch
    config._local_rank, config._rank, config._world_size = rank.local_rank, rank.rank, rank.world_size
    config._is_distributed = rank.world_size > 1


def scalers(agent: Any) -> list[distributed.RunningMoments]:
    """The agent's `RunningStandardScaler`s (observation, state and value preprocessors)."""
    return [
        distributed.RunningMoments(module, "running_mean", "running_variance", "current_count")
        for module in agent.checkpoint_modules.values()
        if isinstance(module, nn.Module) and hasattr(module, "running_variance")
    ]


def model_copy(model: nn.Module) -> nn.Module:
    """A deep copy of an skrl model without the action distribution of its last call (whose tensors belong to
    an autograd graph and cannot be copied)."""
    memo: dict[int, Any] = {
        id(v): None for v in vars(model).values() if isinstance(v, torch.distributions.Distribution)
    }
    return copy.deepcopy(model, memo)


def standardize_like(scaler: Any) -> Standardize:
    """skrl's `RunningStandardScaler` as a `Standardize`: `clamp((x - mean) / (sqrt(var) + eps), +-clip)`."""
    std = torch.sqrt(scaler.running_variance.float()) + scaler.epsilon
    return Standardize(scaler.running_mean.float(), std**2, eps=0.0, clip=scaler.clip_threshold)


def runner_cfg(cfg: SkrlPpoCfg | SkrlSacCfg, seed: int) -> dict[str, Any]:
    """The Runner's dict of `cfg`, seeded with `seed`, with skrl's TensorBoard, checkpoint, progress bar and
    exit hook off (roboforge does these)."""
    data = cfg.to_skrl()
    data["seed"] = seed
    data["agent"]["experiment"].update(write_interval=0, checkpoint_interval=0, wandb=False)
    data["trainer"].update(headless=True, disable_progressbar=True, close_environment_at_exit=False)
    return data


def build_agent(wrapped: Any, cfg: SkrlPpoCfg | SkrlSacCfg, seed: int) -> Any:
    """skrl's agent (models, memory, agent, initialized by its trainer) from `cfg`, built by skrl's Runner;
    a model or agent setting skrl rejects is a UserInputError."""
    try:
        return Runner(wrapped, runner_cfg(cfg, seed)).agent
    except (ValueError, TypeError, KeyError, NameError, SyntaxError) as err:
        raise UserInputError(
            f"skrl cannot build the agent from the skrl agent config: {type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else err!r}. Check the models, memory and agent sections."
        ) from err


def save_interval(checkpoint_interval: int | str, steps_per_iteration: int, max_iterations: int) -> int:
    """Iterations between checkpoints: skrl's `checkpoint_interval` (timesteps) in iterations, or a tenth of
    the run when it is "auto" or off."""
    if isinstance(checkpoint_interval, int) and checkpoint_interval > 0:
        return max(1, checkpoint_interval // steps_per_iteration)
    return max(1, max_iterations // 10)


def check_skrl_checkpoint(path: Path, state: dict, modules: set[str]) -> None:
    """Raise UserInputError unless `state` is an skrl checkpoint with the agent's `modules`."""
    if "actor_state_dict" in state:
        raise UserInputError(
            f"{path} is an rsl_rl checkpoint, not skrl's; train or load it with --library rsl_rl."
        )
    if "model" in state:
        raise UserInputError(f"{path} is an rl_games checkpoint, not skrl's; use --library rl_games.")
    if "policy" not in state or not all(isinstance(v, dict) for v in state.values()):
        raise UserInputError(
            f"{path} is not an skrl checkpoint (a dict of module state dicts with 'policy'); "
            "use a model_<iteration>.pt of an skrl run."
        )
    if set(state) != modules:
        raise UserInputError(
            f"Checkpoint {path} holds the skrl modules {sorted(state)}, the task's agent has {sorted(modules)} "
            "(another algorithm or preprocessor settings); use the agent config it was trained with."
        )


LEARNER = SkrlLearner

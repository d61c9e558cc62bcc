"""rl_games' PPO (`A2CAgent`) on a roboforge env, driven one epoch at a time.

The agent is rl_games' own: `Runner.load()` reads the task's `rl_games_ppo_cfg.yaml` (with the run's world
count, device and seed), and the Runner's algo factory builds `A2CAgent` on the env that `register_env`
entered in rl_games' registries. `iterate()` is one pass of `A2CBase.train()`'s loop (`update_epoch()` +
`train_epoch()`: rollout of horizon_length steps and the PPO update) without its printing, tensorboard
summaries and checkpoint files, which roboforge's trainer writes instead.

Checkpoints are `agent.get_full_state_weights()` saved with `torch.save`, so rl_games' own
`agent.restore(path)` (and Isaac Lab's rl_games play script) read them; `load` also reads checkpoints of
rl_games runs outside roboforge (including `torch.compile`d ones) when the networks fit.

Distributed runs (`rl/distributed.py`) use rl_games' own multi-GPU code paths (`use_rank`): the gradient
all-reduce of every minibatch, the all-reduced KL and rank 0's learning rate (`update_lr`); the parameter
broadcast that `A2CBase.train()` does first is done by `_start`, and `SharedMoments` merges the running
mean/std normalizers, which rl_games leaves per rank.
"""

from __future__ import annotations

import contextlib
import copy
import io
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from rl_games.common.algo_observer import AlgoObserver
from rl_games.torch_runner import Runner
from torch import nn

from roboforge.agents.rl_games_cfg import ENV_NAME, RlGamesPpoCfg, yaml12_numbers
from roboforge.envs.wrappers.rl_games import RlGamesVecEnvWrapper, register_env
from roboforge.rl import distributed
from roboforge.rl.checkpoints import read_torch_checkpoint
from roboforge.rl.libraries.base import (
    FeedForwardPolicy,
    Learner,
    Standardize,
    StepRecorder,
    load_error_detail,
)
from roboforge.utils.errors import UserInputError
from roboforge.utils.overrides import SettingError

OBS_NORM_CLIP = 5.0
"""rl_games' `RunningMeanStd` clips normalized observations to +-5."""
COMPILED_PREFIX = "_orig_mod."
"""Key prefix of a `torch.compile`d model's state dict (rl_games' loader strips it too)."""


class RlGamesLearner(Learner):
    """rl_games `A2CAgent` (continuous PPO, optional asymmetric central-value critic) through the
    `RlGamesVecEnvWrapper`."""

    library = "rl_games"
    cfg_types = {"ppo": RlGamesPpoCfg}

    def __init__(self, env: Any, cfg: RlGamesPpoCfg, algorithm: str, recorder: StepRecorder):
        super().__init__(env, cfg, algorithm, recorder)
        config = cfg.params.config
        check_supported(cfg, env.num_envs)
        self.venv = RlGamesVecEnvWrapper(
            env,
            recorder,
            clip_actions=cfg.params.env.clip_actions,
            clip_observations=cfg.params.env.clip_observations,
            state_groups=state_groups(cfg, env.obs_dims),
        )
        self.agent = build_agent(self.venv, cfg, str(env.device), int(env.cfg.seed))
        use_rank(self.agent, distributed.current())
        self.moments = distributed.SharedMoments(running_mean_stds(self.agent))
        self.steps_per_iteration, self.max_iterations = self.iteration_plan(cfg, algorithm, env.num_envs)
        self.save_interval = config.save_frequency if config.save_frequency > 0 else config.max_epochs
        self.clip_actions = None  # policy() bounds its actions as rl_games does
        self.central_value_loss: float | None = None
        self._started = False

    @classmethod
    def iteration_plan(cls, cfg: RlGamesPpoCfg, algorithm: str, num_envs: int) -> tuple[int, int]:
        """One epoch of `horizon_length` steps per iteration, `max_epochs` of them."""
        return cfg.params.config.horizon_length, cfg.params.config.max_epochs

    @classmethod
    def check_cfg(cls, cfg: RlGamesPpoCfg, algorithm: str, num_envs: int) -> None:
        """The mini-batches of the policy and of a central-value critic split one rollout evenly."""
        config = cfg.params.config
        where = "agent.params.config"
        check_minibatch(
            where, config.minibatch_size, config.minibatch_size_per_env, config.horizon_length, num_envs
        )
        cv = config.central_value_config
        if cv is not None:
            where += ".central_value_config"
            check_minibatch(
                where, cv.minibatch_size, cv.minibatch_size_per_env, config.horizon_length, num_envs
            )

    @classmethod
    def file_data(cls, data: Any) -> Any:
        """YAML 1.2 floats such as `3e-4` (strings to PyYAML) read as numbers, as rl_games' own loader does,
        so Isaac Lab's files carry over."""
        return yaml12_numbers(data)

    def plan(self, total_iterations: int) -> None:
        """rl_games' `linear` learning-rate schedule (and its epoch count) run over the run's iterations."""
        super().plan(total_iterations)
        self.agent.max_epochs = total_iterations
        scheduler = self.agent.scheduler
        if getattr(scheduler, "use_epochs", False):
            scheduler.max_steps = total_iterations

    # --- training ---------------------------------------------------------------------------------
    def iterate(self) -> dict[str, float]:
        agent = self.agent
        if not self._started:
            self._start()
        agent.update_epoch()
        self.moments.mark()
        _, _, _, _, a_losses, c_losses, b_losses, entropies, kls, _, _ = agent.train_epoch()
        self.moments.share()
        agent.dataset.update_values_dict(None)  # frees the rollout, as A2CBase.train() does
        agent.frame += agent.curr_frames
        losses = (a_losses, c_losses, entropies, kls, b_losses)
        means = torch.stack([*(_mean(v, agent.ppo_device) for v in losses), self._mean_std()])
        surrogate, value, entropy, kl, bounds, mean_std = means.tolist()  # one host sync per iteration
        metrics = {
            "Loss/surrogate": surrogate,
            "Loss/value": value,
            "Loss/entropy": entropy,
            "Loss/bounds": bounds,
            "Loss/kl": kl,
            "Loss/learning_rate": float(agent.last_lr),
            "Policy/mean_std": mean_std,
        }
        if self.central_value_loss is not None:  # the critic of the advantages is the central value
            metrics["Loss/value_head"] = value  # the actor-critic's own value head (policy observations)
            metrics["Loss/value"] = self.central_value_loss
        return metrics

    def _start(self) -> None:
        """What `A2CBase.train()` does once before its loop; training starts from the env's current state
        (the trainer may have spread the first episodes' lengths, which a reset would undo)."""
        agent = self.agent
        agent.init_tensors()
        agent.last_mean_rewards = -1e9
        agent.obs = agent.obs_to_tensors(self.venv.observations())
        agent.curr_frames = agent.batch_size_envs
        if agent.multi_gpu:  # every rank starts from rank 0's weights (A2CBase.train() does this first too)
            nets = [agent.model, *([agent.central_value_net] if agent.has_central_value else [])]
            states = [net.state_dict() for net in nets]
            torch.distributed.broadcast_object_list(states, src=0)
            for net, state in zip(nets, states, strict=True):
                net.load_state_dict(state)
        if agent.has_central_value:
            self._record_central_value_loss()
        self._started = True

    def _record_central_value_loss(self) -> None:
        """Keep the loss `train_central_value()` returns (rl_games' `train_epoch()` drops it)."""
        train = self.agent.train_central_value

        def train_and_record() -> float:
            self.central_value_loss = float(train())
            return self.central_value_loss

        self.agent.train_central_value = train_and_record

    def _mean_std(self) -> torch.Tensor:
        """Mean action std on the device: of the state-independent sigma, else of the last mini-batch."""
        net = self.agent.model.a2c_network
        if net.fixed_sigma:
            return torch.exp(net.sigma_act(net.sigma.detach())).mean()
        return self.agent.train_result[7].mean()

    # --- checkpoints ------------------------------------------------------------------------------
    def save(self, file: BinaryIO) -> None:
        torch.save(self.agent.get_full_state_weights(), file)

    def load(self, path: Path, training: bool) -> None:
        state = read_torch_checkpoint(path, self.device)
        check_rl_games_checkpoint(path, state)
        state["model"] = {k.removeprefix(COMPILED_PREFIX): v for k, v in state["model"].items()}
        try:
            if training:
                self.agent.set_full_state_weights(state, set_epoch=True)
                self.agent.last_lr = self.agent.optimizer.param_groups[0]["lr"]  # resume at the saved rate
            else:
                self.agent.set_weights(state)
        except (RuntimeError, KeyError, ValueError) as err:
            raise UserInputError(
                f"Checkpoint {path} does not fit the task's rl_games networks ({load_error_detail(err)}). The "
                "network settings come from params/agent.json beside it: keep that file with the checkpoint, "
                "and use the task it was trained on."
            ) from err

    # --- the deterministic actor ------------------------------------------------------------------
    def policy(self) -> FeedForwardPolicy:
        """rl_games' deterministic action (its player with `is_deterministic=True`) as plain torch:
        observation clip, normalizer, actor MLP, mean head, then the action preprocessing before the env."""
        model, params = self.agent.model, self.cfg.params
        layers: list[nn.Module] = []
        if params.env.clip_observations is not None:
            layers.append(Clamp(params.env.clip_observations))
        if params.config.normalize_input:
            rms = model.running_mean_std
            layers.append(Standardize(rms.running_mean, rms.running_var, eps=rms.epsilon, clip=OBS_NORM_CLIP))
        net = model.a2c_network
        layers += [copy.deepcopy(m) for m in (net.actor_mlp, net.mu, net.mu_act)]
        if params.config.clip_actions:
            layers.append(RlGamesRescale(params.env.clip_actions))
        else:
            layers.append(Clamp(params.env.clip_actions))
        policy = FeedForwardPolicy(
            net=nn.Sequential(*layers),
            obs_groups=["policy"],
            obs_dim=self.venv.obs_dim,
            obs_normalization=params.config.normalize_input,
        )
        return policy.to(self.device).eval()

    def diverged(self) -> bool:
        """Non-finite weights anywhere in the agent's model (the log-std included)."""
        return not all(bool(torch.isfinite(p).all()) for p in self.agent.model.parameters())


class Clamp(nn.Module):
    """Clip to [-bound, bound] (the env wrapper's observation or action clip)."""

    def __init__(self, bound: float):
        super().__init__()
        self.bound = float(bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(-self.bound, self.bound)


class RlGamesRescale(nn.Module):
    """rl_games' action preprocessing with `clip_actions`: clamp to [-1, 1], then rescale to the action space
    with its formula `x * (high - low) / 2 + (high + low) / 2`, which for the wrapper's symmetric float32
    bounds `[-bound, bound]` is `x * bound` (the same float32 product)."""

    def __init__(self, bound: float):
        super().__init__()
        self.bound = float(np.float32(bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(-1.0, 1.0) * self.bound


def check_supported(cfg: RlGamesPpoCfg, num_envs: int) -> None:
    """Raise UserInputError for settings roboforge cannot train with, naming the field and the fix."""
    params, config = cfg.params, cfg.params.config
    if config.multi_gpu:
        raise UserInputError(
            "params.config.multi_gpu: roboforge switches rl_games' multi-GPU mode on itself in distributed runs "
            "(roboforge train --gpus, or --distributed under torchrun); set it False."
        )
    if params.load_checkpoint:
        raise UserInputError(
            "params.load_checkpoint: roboforge resumes runs itself; set it False and use `roboforge train --resume`."
        )
    if config.max_epochs < 1:
        raise UserInputError(
            f"params.config.max_epochs must be >= 1 (training iterations), got {config.max_epochs}."
        )
    if not params.env.clip_actions > 0:
        raise UserInputError(
            f"params.env.clip_actions must be > 0 (the action bound), got {params.env.clip_actions}."
        )
    RlGamesLearner.check_cfg(cfg, "ppo", num_envs)


def check_minibatch(where: str, size: int | None, per_env: int | None, horizon: int, num_envs: int) -> None:
    """rl_games' mini-batch must split `horizon x num_envs` samples evenly."""
    batch = horizon * num_envs
    if size is None and per_env is None:
        raise SettingError(
            f"{where}.minibatch_size_per_env",
            "set minibatch_size_per_env (or minibatch_size); rl_games needs one.",
        )
    minibatch = size if size is not None else num_envs * (per_env or 0)
    if minibatch <= 0 or batch % minibatch != 0:
        raise SettingError(
            f"{where}.{'minibatch_size' if size is not None else 'minibatch_size_per_env'}",
            f"a mini-batch of {minibatch} samples does not split the rollout of {batch} "
            f"(horizon_length {horizon} x {num_envs} worlds) evenly; use minibatch_size_per_env, a divisor "
            f"of horizon_length, to keep the mini-batch count whatever the world count.",
        )


def state_groups(cfg: RlGamesPpoCfg, obs_dims: dict[str, int]) -> list[str]:
    """The observation groups of rl_games' "states": the 'critic' group for a central-value critic (the
    policy observations where the task has none, as rl_games falls back); none without one."""
    if cfg.params.config.central_value_config is None:
        return []
    return ["critic"] if "critic" in obs_dims else ["policy"]


def build_agent(venv: RlGamesVecEnvWrapper, cfg: RlGamesPpoCfg, device: str, seed: int) -> Any:
    """rl_games' `A2CAgent` on `venv`, built by its `Runner` from the typed config; its summary writer and
    the folders rl_games makes for checkpoints and summaries live in a throwaway folder."""
    register_env(venv, ENV_NAME)
    with tempfile.TemporaryDirectory(prefix="roboforge-rl_games-") as scratch:
        params = cfg.to_rl_games(num_actors=venv.num_envs, device=device, seed=seed)
        params["params"]["config"]["train_dir"] = scratch
        with (
            _torch_global_settings_kept(),
            contextlib.redirect_stdout(io.StringIO()),
        ):  # rl_games prints a lot
            runner = Runner(algo_observer=AlgoObserver())  # no-op observer: roboforge counts the episodes
            runner.load(params)
            torch.manual_seed(seed)  # rl_games skips its own seeding when the seed is 0
            agent = runner.algo_factory.create(runner.algo_name, base_name="run", params=runner.params)
        agent.writer.close()
        agent.writer = None
        if agent.has_central_value:
            agent.central_value_net.writter = None  # rl_games' spelling
    return agent


def use_rank(agent: Any, rank: distributed.Rank) -> None:
    """rl_games' multi-GPU mode for this process (off on a single process): the fields that
    `A2CBase.__init__` and `CentralValueTrain.__init__` set from LOCAL_RANK, RANK and WORLD_SIZE with
    `multi_gpu: True`, and that its gradient all-reduce, KL all-reduce and `update_lr` read. The agent is built
    with `multi_gpu: False` because with True those constructors call `init_process_group("nccl")` themselves
    (a second init after `distributed.join`, and NCCL only) and put the agent on `cuda:LOCAL_RANK`
    (rl_games/common/a2c_common.py:100-113, algos_torch/central_value.py:114-127). They also drop the
    learning-rate schedule on ranks other than 0; here every rank keeps it, fed the same all-reduced KL, and
    `update_lr` still takes rank 0's rate."""
    parts = [agent, *([agent.central_value_net] if agent.has_central_value else [])]
    for part in parts:
        part.multi_gpu = rank.world_size > 1
        part.local_rank, part.global_rank, part.world_size = rank.local_rank, rank.rank, rank.world_size


def running_mean_stds(agent: Any) -> list[distributed.RunningMoments]:
    """rl_games' `RunningMeanStd` normalizers (observations, values; of the central value too)."""
    nets = [agent.model, *([agent.central_value_net] if agent.has_central_value else [])]
    return [
        distributed.RunningMoments(module, "running_mean", "running_var", "count")
        for net in nets
        for module in net.modules()
        if hasattr(module, "running_var") and hasattr(module, "count")
    ]


@contextlib.contextmanager
def _torch_global_settings_kept() -> Iterator[None]:
    """Undo the process-wide settings rl_games' Runner changes (TF32 matmuls, cuDNN autotuning), so the env
    computes the same with every library."""
    saved = (
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
        torch.backends.cudnn.benchmark,
        torch.get_float32_matmul_precision(),
    )
    try:
        yield
    finally:
        (
            torch.backends.cuda.matmul.allow_tf32,
            torch.backends.cudnn.allow_tf32,
            torch.backends.cudnn.benchmark,
            precision,
        ) = saved
        torch.set_float32_matmul_precision(precision)


def check_rl_games_checkpoint(path: Path, state: dict) -> None:
    """Raise UserInputError unless `state` is an rl_games agent checkpoint, saying what it is instead."""
    if "actor_state_dict" in state:
        raise UserInputError(
            f"{path} is an rsl_rl checkpoint, not an rl_games one; use it with --library rsl_rl "
            "(from the run folder that wrote it)."
        )
    if "policy" in state:
        raise UserInputError(
            f"{path} is an skrl checkpoint, not an rl_games one; use it with --library skrl "
            "(from the run folder that wrote it)."
        )
    if not isinstance(state.get("model"), dict):
        raise UserInputError(
            f"{path} is not an rl_games checkpoint (no 'model' weights); use a model_<n>.pth of an rl_games run."
        )


def _mean(values: list[torch.Tensor], device: str) -> torch.Tensor:
    """The mean of per-mini-batch losses on the device (0 for none)."""
    if not values:
        return torch.zeros((), device=device)
    return torch.stack([v.detach().float().reshape(()) for v in values]).mean()


LEARNER = RlGamesLearner

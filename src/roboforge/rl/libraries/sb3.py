"""stable-baselines3 adapter: sb3's PPO and SAC on a roboforge env through `Sb3VecEnvWrapper`.

- `iterate()` drives sb3's own `collect_rollouts` and `train`: PPO collects one rollout of `n_steps` per
  world and updates once; SAC collects `steps_per_iteration` env steps (`SAC_STEPS_PER_ITERATION`, rounded
  up to whole `train_freq` periods) with sb3's update schedule (`gradient_steps` after every `train_freq`
  steps, once `learning_starts` transitions are stored). sb3 logs into a silent in-memory logger, from
  which the losses are read under rsl_rl's tags.
- `normalize_input` standardizes observations inside the policy (`RunningStandardize`, sb3's features
  extractor), so the statistics are buffers of the policy's `state_dict`: they are in the one checkpoint
  file sb3 writes, `PPO.load(...).predict()` applies them, and `policy()` exports them.
- `normalize_value` wraps the env in sb3's `VecNormalize` (rewards only); its return statistics are
  stored in the checkpoint's data as the model attribute `roboforge_reward_rms`.
- Checkpoints are sb3's `model.save` zips; `load` reads the networks, optimizers and step count of one
  into the agent built from the current config (so config overrides stay in force on resume). sb3 keeps
  SAC's replay buffer out of checkpoints: a resumed SAC run refills it (`learning_starts`) first.
"""

from __future__ import annotations

import copy
import re
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.save_util import load_from_zip_file, recursive_setattr
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.vec_env import VecEnv, VecNormalize
from torch import nn

from roboforge.agents.sb3_cfg import Sb3PpoCfg, Sb3SacCfg
from roboforge.envs.wrappers.sb3 import OBS_GROUP, Sb3VecEnvWrapper
from roboforge.rl.libraries.base import (
    FeedForwardPolicy,
    Learner,
    RescaleActions,
    Standardize,
    StepRecorder,
    load_error_detail,
)
from roboforge.utils.config import ConfigError
from roboforge.utils.errors import UserInputError
from roboforge.utils.overrides import SettingError

SAC_STEPS_PER_ITERATION = 16
"""Env steps per world in one SAC `iterate()` (rsl_rl's rollout length of the cart-pole), rounded up to a
multiple of `train_freq`."""
CHECKPOINTS_PER_RUN = 10
"""`save_interval` is a tenth of the configured iterations (at least 1)."""
REWARD_RMS_ATTR = "roboforge_reward_rms"
"""Model attribute holding `VecNormalize`'s reward statistics (saved in the zip's data)."""
ALGORITHM_CLASSES = {"ppo": PPO, "sac": SAC}


class RunningStandardize(BaseFeaturesExtractor):
    """sb3 features extractor: observations standardized with running statistics, `(x - mean) /
    sqrt(var + eps)` clipped to [-clip, clip]. The statistics are buffers (in the policy's state_dict,
    so in sb3's checkpoint); `update()` adds a batch (the learner calls it on every env step)."""

    mean: torch.Tensor
    var: torch.Tensor
    count: torch.Tensor

    def __init__(self, observation_space: gym.spaces.Box, clip: float = 10.0, eps: float = 1e-8):
        dim = int(np.prod(observation_space.shape))
        super().__init__(observation_space, features_dim=dim)
        self.clip = clip
        self.eps = eps
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))
        self.register_buffer("count", torch.tensor(1e-4))

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        x = observations.flatten(1)
        return ((x - self.mean) / torch.sqrt(self.var + self.eps)).clamp(-self.clip, self.clip)

    @torch.no_grad()
    def update(self, batch: torch.Tensor) -> None:
        """Merge the mean and variance of `batch` `(n, dim)` into the running statistics."""
        batch = batch.reshape(-1, self.mean.numel()).to(self.mean)
        n = batch.shape[0]
        delta = batch.mean(0) - self.mean
        total = self.count + n
        m2 = (
            self.var * self.count + batch.var(0, unbiased=False) * n + delta.square() * self.count * n / total
        )
        self.mean += delta * n / total
        self.var.copy_(m2 / total)
        self.count.copy_(total)

    def as_standardize(self) -> Standardize:
        """The same transform as a plain `Standardize` module (for `policy()` and export)."""
        return Standardize(self.mean, self.var, eps=self.eps, clip=self.clip)


class ClampActions(nn.Module):
    """Clamp actions to [low, high], as sb3's `predict()` clips a PPO policy's Gaussian mean."""

    low: torch.Tensor
    high: torch.Tensor

    def __init__(self, low: torch.Tensor, high: torch.Tensor):
        super().__init__()
        self.register_buffer("low", low.detach().clone().float())
        self.register_buffer("high", high.detach().clone().float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.minimum(torch.maximum(x, self.low), self.high)


class _UpdateObsStatistics(BaseCallback):
    """After every env step, add the new observations to each `RunningStandardize` of the policy."""

    def __init__(self, normalizers: list[RunningStandardize]):
        super().__init__()
        self.normalizers = normalizers

    def _on_step(self) -> bool:
        if self.normalizers:
            obs = torch.as_tensor(self.locals["new_obs"])
            for normalizer in self.normalizers:
                normalizer.update(obs)
        return True


class Sb3Learner(Learner):
    """sb3's PPO or SAC (`self.model`) on `Sb3VecEnvWrapper(env)` (`self.venv`)."""

    library = "sb3"
    cfg_types = {"ppo": Sb3PpoCfg, "sac": Sb3SacCfg}
    model: PPO | SAC

    def __init__(self, env: Any, cfg: Sb3PpoCfg | Sb3SacCfg, algorithm: str, recorder: StepRecorder):
        super().__init__(env, cfg, algorithm, recorder)
        self.venv = Sb3VecEnvWrapper(env, recorder, clip_actions=cfg.clip_actions)
        train_env: VecEnv = self.venv
        if cfg.normalize_value:
            train_env = VecNormalize(self.venv, norm_obs=False, norm_reward=True, gamma=cfg.gamma)
        kwargs = cfg.sb3_kwargs(seed=int(env.cfg.seed), num_envs=env.num_envs)
        if cfg.normalize_input:
            kwargs["policy_kwargs"].update(
                features_extractor_class=RunningStandardize, features_extractor_kwargs={"clip": cfg.clip_obs}
            )
        self.model = ALGORITHM_CLASSES[algorithm](env=train_env, **kwargs)
        self.model.set_logger(Logger(folder=None, output_formats=[]))  # no stdout, files or tensorboard
        self.steps_per_iteration, self.max_iterations = self.iteration_plan(cfg, algorithm, env.num_envs)
        self.save_interval = max(1, self.max_iterations // CHECKPOINTS_PER_RUN)
        self._callback = self._start_training()

    @classmethod
    def iteration_plan(cls, cfg: Sb3PpoCfg | Sb3SacCfg, algorithm: str, num_envs: int) -> tuple[int, int]:
        """PPO: one rollout of `n_steps`; SAC: SAC_STEPS_PER_ITERATION rounded up to whole `train_freq`
        periods; `n_timesteps` (summed over worlds) in all."""
        if isinstance(cfg, Sb3PpoCfg):
            steps = cfg.n_steps
        else:
            freq = max(cfg.train_freq, 1)
            steps = -(-SAC_STEPS_PER_ITERATION // freq) * freq
        return steps, max(1, int(cfg.n_timesteps) // (steps * num_envs))

    @classmethod
    def check_cfg(cls, cfg: Sb3PpoCfg | Sb3SacCfg, algorithm: str, num_envs: int) -> None:
        """The checks sb3's constructor arguments get when the learner builds them (`sb3_kwargs`)."""
        try:
            cfg.sb3_kwargs(seed=0, num_envs=num_envs)
        except ConfigError as err:
            field = re.match(r"([a-z_.]+)(: )?", str(err))
            key = f"agent.{field.group(1)}" if field else "agent"
            raise SettingError(key, str(err)[field.end() if field and field.group(2) else 0 :]) from err

    def _normalizers(self) -> list[RunningStandardize]:
        return [m for m in self.model.policy.modules() if isinstance(m, RunningStandardize)]

    def _start_training(self) -> BaseCallback:
        """sb3's setup of `learn()` without resetting the env: training starts from the env's current
        state (e.g. the trainer's randomized episode lengths)."""
        obs = self.venv.current_observations()
        self.model._last_obs = obs  # type: ignore[assignment]
        self.model._last_original_obs = obs  # type: ignore[assignment]  (SAC with VecNormalize)
        self.model._last_episode_starts = np.ones(self.env.num_envs, dtype=bool)
        _, callback = self.model._setup_learn(
            self._total_timesteps(), _UpdateObsStatistics(self._normalizers()), reset_num_timesteps=False
        )
        return callback

    def _total_timesteps(self) -> int:
        return self.max_iterations * self.steps_per_iteration * self.env.num_envs

    # --- training ---------------------------------------------------------------------------------
    def iterate(self) -> dict[str, float]:
        self.model._total_timesteps = self._total_timesteps()  # --max-iterations may have changed it
        if isinstance(self.model, PPO):
            self._iterate_ppo(self.model)
        else:
            self._iterate_sac(self.model)
        return self._pop_losses()

    def _iterate_ppo(self, model: PPO) -> None:
        assert model.env is not None
        model.collect_rollouts(model.env, self._callback, model.rollout_buffer, n_rollout_steps=model.n_steps)
        model._update_current_progress_remaining(model.num_timesteps, model._total_timesteps)
        model.train()

    def _iterate_sac(self, model: SAC) -> None:
        """sb3's off-policy `learn()` loop for `steps_per_iteration` env steps."""
        assert model.env is not None and model.replay_buffer is not None
        end = model.num_timesteps + self.steps_per_iteration * self.env.num_envs
        while model.num_timesteps < end:
            rollout = model.collect_rollouts(
                model.env,
                callback=self._callback,
                train_freq=model.train_freq,  # type: ignore[arg-type]
                replay_buffer=model.replay_buffer,
                action_noise=model.action_noise,
                learning_starts=model.learning_starts,
                log_interval=None,
            )
            if model.num_timesteps > model.learning_starts:
                steps = model.gradient_steps if model.gradient_steps >= 0 else rollout.episode_timesteps
                if steps > 0:
                    model.train(gradient_steps=steps, batch_size=model.batch_size)

    def _pop_losses(self) -> dict[str, float]:
        """The values sb3's `train()` logged, under rsl_rl's tags where they mean the same."""
        logged = dict(self.model.logger.name_to_value)
        self.model.logger.dump()  # clears the values (the logger writes nowhere)
        tags = {
            "train/policy_gradient_loss": "Loss/surrogate",
            "train/value_loss": "Loss/value",
            "train/learning_rate": "Loss/learning_rate",
            "train/std": "Policy/mean_std",
            "train/approx_kl": "Loss/approx_kl",
            "train/clip_fraction": "Loss/clip_fraction",
            "train/explained_variance": "Loss/explained_variance",
            "train/actor_loss": "Loss/actor",
            "train/critic_loss": "Loss/critic",
            "train/ent_coef": "Loss/entropy_coef",
            "train/ent_coef_loss": "Loss/entropy_coef_loss",
        }
        losses = {tag: float(logged[key]) for key, tag in tags.items() if key in logged}
        if "train/entropy_loss" in logged:  # sb3 logs minus the mean entropy
            losses["Loss/entropy"] = -float(logged["train/entropy_loss"])
        return losses

    # --- checkpoints ------------------------------------------------------------------------------
    def save(self, file: BinaryIO) -> None:
        """sb3's own zip (`PPO.load` / `SAC.load` read it); the input statistics are in the policy."""
        if isinstance(self.model.env, VecNormalize):
            setattr(self.model, REWARD_RMS_ATTR, self.model.env.ret_rms)
        self.model.save(file)  # type: ignore[arg-type]

    def load(self, path: Path, training: bool) -> None:
        check_sb3_zip(path)
        data, params, variables = load_from_zip_file(path, device=self.model.device)
        assert data is not None
        self._check_fits(path, data, params)
        try:
            if training:
                self.model.set_parameters(params, exact_match=True)
                for name, value in (variables or {}).items():  # SAC's entropy coefficient
                    recursive_setattr(self.model, f"{name}.data", value.data)
            else:
                self.model.policy.load_state_dict(params["policy"])  # type: ignore[arg-type]
        except (RuntimeError, ValueError, KeyError) as err:
            raise UserInputError(
                f"{path} does not fit this sb3 {self.algorithm.upper()} agent ({load_error_detail(err)}). "
                "Load it with the agent config it was trained with, or train a new one."
            ) from err
        if training:
            self.model.num_timesteps = int(data.get("num_timesteps", 0))
            self.model._n_updates = int(data.get("_n_updates", 0))
            reward_rms = data.get(REWARD_RMS_ATTR)
            if isinstance(self.model.env, VecNormalize) and reward_rms is not None:
                self.model.env.ret_rms = reward_rms

    def _check_fits(self, path: Path, data: dict[str, Any], params: dict[str, Any]) -> None:
        """A UserInputError naming the mismatch when the checkpoint is another algorithm or another task's."""
        saved_algorithm = (
            "sac" if "actor.optimizer" in params else "ppo" if "policy.optimizer" in params else None
        )
        if saved_algorithm != self.algorithm:
            held = f"an sb3 {saved_algorithm.upper()} agent" if saved_algorithm else "no sb3 PPO or SAC agent"
            hint = (
                f"use --algorithm {saved_algorithm}" if saved_algorithm else "pick a checkpoint of an sb3 run"
            )
            raise UserInputError(f"{path} holds {held}, not {self.algorithm.upper()}; {hint}.")
        for name, space in (("observation", self.venv.observation_space), ("action", self.venv.action_space)):
            saved = data.get(f"{name}_space")
            if saved is not None and saved.shape != space.shape:
                raise UserInputError(
                    f"{path} was trained with {name}s of shape {saved.shape}, this task has {space.shape}: "
                    "it belongs to another task. Pick a checkpoint of this task."
                )

    # --- the deterministic actor ------------------------------------------------------------------
    def policy(self) -> FeedForwardPolicy:
        """`model.predict(obs, deterministic=True)` as plain torch modules: normalizer, the action path of
        sb3's policy, and the action bounds (PPO: clamp, SAC: tanh then scale)."""
        layers = self._ppo_actor() if isinstance(self.model, PPO) else self._sac_actor()
        net = nn.Sequential(*layers).to(self.device).eval().requires_grad_(False)
        obs_dim = int(self.venv.observation_space.shape[0])  # type: ignore[index]
        return FeedForwardPolicy(net, [OBS_GROUP], obs_dim, obs_normalization=self.cfg.normalize_input).eval()

    def _bounds(self) -> tuple[torch.Tensor, torch.Tensor]:
        space = self.venv.action_space
        return torch.as_tensor(space.low), torch.as_tensor(space.high)  # type: ignore[attr-defined]

    def _features(self, extractor: nn.Module) -> list[nn.Module]:
        """The observation transform of an sb3 features extractor: the normalizer, or nothing (flatten)."""
        return [extractor.as_standardize()] if isinstance(extractor, RunningStandardize) else []

    def _ppo_actor(self) -> list[nn.Module]:
        policy = self.model.policy
        return [
            *self._features(policy.pi_features_extractor),  # type: ignore[union-attr]
            copy.deepcopy(policy.mlp_extractor.policy_net),  # type: ignore[union-attr]
            copy.deepcopy(policy.action_net),  # type: ignore[union-attr]
            ClampActions(*self._bounds()),
        ]

    def _sac_actor(self) -> list[nn.Module]:
        actor = self.model.actor  # type: ignore[union-attr]
        return [
            *self._features(actor.features_extractor),
            copy.deepcopy(actor.latent_pi),
            copy.deepcopy(actor.mu),
            RescaleActions(*self._bounds(), squash="tanh"),
        ]


def check_sb3_zip(path: Path) -> None:
    """A UserInputError saying what to do unless `path` is a checkpoint zip written by sb3's `save`."""
    if not Path(path).is_file():
        raise UserInputError(f"Checkpoint {path} does not exist.")
    names: list[str] = []
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    if "data" in names and "policy.pth" in names:
        return
    kind = (
        "a PyTorch checkpoint (rsl_rl, skrl or rl_games)" if names or _is_torch_pickle(path) else "no sb3 zip"
    )
    raise UserInputError(
        f"{path} is {kind}, not a stable-baselines3 checkpoint (sb3's .zip with data and policy.pth). "
        "Load it with the library that wrote it (--library), or pick a model_*.zip of an sb3 run."
    )


def _is_torch_pickle(path: Path) -> bool:
    """True for a legacy (non-zip) torch.save file: a pickle stream."""
    with open(path, "rb") as f:
        return f.read(1) == b"\x80"


LEARNER = Sb3Learner

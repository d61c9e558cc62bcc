"""rsl_rl's PPO on a roboforge env: the rollout and update of `OnPolicyRunner`, driven one iteration at a time.

Feed-forward agents run rsl_rl's rollout step and minibatch update as device functions (`rsl_rl_rollout.py`,
`rsl_rl_update.py`), each replayed from a CUDA graph on GPU; recurrent agents and rsl_rl's extensions
keep rsl_rl's own `act` / `process_env_step` / `update` loop. Checkpoints keep `OnPolicyRunner.save`'s
format (`actor_state_dict`, `critic_state_dict`, `optimizer_state_dict`, `iter`), so rsl_rl's own
`OnPolicyRunner.load` reads them.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any, BinaryIO

import torch
from rsl_rl.algorithms import PPO
from tensordict import TensorDict

from roboforge.agents.rsl_rl_cfg import RslRlPpoRunnerCfg
from roboforge.envs.registry import load_cfg
from roboforge.envs.wrappers.rsl_rl import RslRlVecEnvWrapper
from roboforge.rl.checkpoints import read_torch_checkpoint
from roboforge.rl.distributed import multi_gpu_cfg
from roboforge.rl.libraries.base import Learner, StepRecorder, load_error_detail
from roboforge.rl.libraries.rsl_rl_rollout import RolloutStep, supports_device_loop
from roboforge.rl.libraries.rsl_rl_update import PpoUpdate, plain_optimizer_state
from roboforge.utils.errors import UserInputError
from roboforge.utils.overrides import SettingError


class RslRlLearner(Learner):
    """rsl_rl PPO (feed-forward or recurrent actor-critic) through the `RslRlVecEnvWrapper`."""

    library = "rsl_rl"
    cfg_types = {"ppo": RslRlPpoRunnerCfg}

    def __init__(self, env: Any, cfg: RslRlPpoRunnerCfg, algorithm: str, recorder: StepRecorder):
        super().__init__(env, cfg, algorithm, recorder)
        self.venv = RslRlVecEnvWrapper(env, clip_actions=cfg.clip_actions)
        check_image_encoders(self.venv.get_observations(), cfg)
        with contextlib.redirect_stdout(
            io.StringIO()
        ):  # rsl_rl prints the models; keep stdout clean for --json
            train_cfg = {**cfg.to_rsl_rl(), "multi_gpu": multi_gpu_cfg()}
            self.alg = PPO.construct_algorithm(
                self.venv.get_observations(),
                self.venv,
                train_cfg,
                str(env.device),  # type: ignore[arg-type]
            )
        if self.alg.is_multi_gpu:  # every rank starts from rank 0's weights
            self.alg.broadcast_parameters()
        self.steps_per_iteration, self.max_iterations = self.iteration_plan(cfg, algorithm, env.num_envs)
        self.save_interval = cfg.save_interval
        self.clip_actions = cfg.clip_actions
        self.obs = None
        self.cuda_graph = bool(env.cfg.sim.cuda_graph)
        self.device_loop = supports_device_loop(self.alg)
        self.rollout: RolloutStep | None = None  # built at the first iteration, from the env's state then
        self.update = PpoUpdate(self.alg, self.cuda_graph) if self.device_loop else None

    @classmethod
    def load_cfg(cls, task: str, algorithm: str) -> RslRlPpoRunnerCfg:
        return load_cfg(task, "rsl_rl_cfg_entry_point")

    @classmethod
    def iteration_plan(cls, cfg: RslRlPpoRunnerCfg, algorithm: str, num_envs: int) -> tuple[int, int]:
        return cfg.num_steps_per_env, cfg.max_iterations

    @classmethod
    def check_cfg(cls, cfg: RslRlPpoRunnerCfg, algorithm: str, num_envs: int) -> None:
        """rsl_rl splits one rollout into `num_mini_batches` of `samples // num_mini_batches`; more
        mini-batches than samples make empty ones, whose losses are NaN. A recurrent model is split by
        world (whole trajectories), a feed-forward one by transition."""
        recurrent = bool(cfg.actor.rnn_type or cfg.critic.rnn_type)
        samples = num_envs if recurrent else num_envs * cfg.num_steps_per_env
        wanted = cfg.algorithm.num_mini_batches
        if wanted > samples:
            what = (
                f"{num_envs} worlds (a recurrent model's mini-batches are whole trajectories)"
                if recurrent
                else f"{samples} samples (num_envs {num_envs} x num_steps_per_env {cfg.num_steps_per_env})"
            )
            raise SettingError(
                "agent.algorithm.num_mini_batches",
                f"{wanted} mini-batches of one rollout of {what} would leave some empty; give at most {samples}.",
            )

    def iterate(self) -> dict[str, float]:
        if self.device_loop:
            losses = self._device_iteration()
        else:
            losses = self._rsl_rl_iteration()
        policy = self.alg.get_policy()
        return {
            **{f"Loss/{k}": float(v) for k, v in losses.items()},
            "Loss/learning_rate": float(self.alg.learning_rate),
            "Policy/mean_std": float(policy.output_std.detach().mean()),
        }

    def _device_iteration(self) -> dict[str, float]:
        """Rollout and update as device functions (CUDA graphs on GPU)."""
        assert self.update is not None
        if self.rollout is None:
            self.alg.train_mode()
            self.rollout = RolloutStep(self.alg, self.env, self.recorder, self.clip_actions, self.cuda_graph)
        with torch.no_grad():
            self.rollout.collect()
            self.alg.compute_returns(self.rollout.obs)
        self.phase_done("rollout")
        losses = self.update()
        self.phase_done("update")
        return losses

    def _rsl_rl_iteration(self) -> dict[str, float]:
        """rsl_rl's own loop (recurrent models, RND, symmetry, mixed precision)."""
        if self.obs is None:  # the first iteration starts from the env's current state
            self.obs = self.venv.get_observations().to(self.device)
            self.alg.train_mode()
        with torch.inference_mode():
            for _ in range(self.steps_per_iteration):
                actions = self.alg.act(self.obs)
                self.obs, rewards, dones, extras = self.venv.step(actions)
                self.alg.process_env_step(self.obs, rewards, dones, extras)
                self.recorder.step(actions, rewards, dones)
            self.alg.compute_returns(self.obs)
        self.phase_done("rollout")
        losses = self.alg.update()
        self.phase_done("update")
        return losses

    def save(self, file: BinaryIO) -> None:
        state = self.alg.save()
        state["optimizer_state_dict"] = plain_optimizer_state(state["optimizer_state_dict"])
        state.update(iter=self.iteration, infos={})  # what OnPolicyRunner.load reads
        torch.save(state, file)

    def load(self, path: Path, training: bool) -> None:
        state = read_torch_checkpoint(path, self.device)
        if "actor_state_dict" not in state:
            raise UserInputError(f"{path} is not an rsl_rl checkpoint (no actor_state_dict).")
        parts = None if training else {"actor": True, "critic": True}
        try:
            self.alg.load(state, parts, strict=True)
            if training and self.update is not None:
                self.update.lr.attach()
        except RuntimeError as err:
            raise UserInputError(
                f"Checkpoint {path} does not fit the task's rsl_rl networks ({load_error_detail(err)}). "
                "The network settings come from params/agent.json beside it: keep that file with the "
                "checkpoint, and use the task it was trained on."
            ) from err

    def policy(self) -> Any:
        self.alg.eval_mode()
        return self.alg.get_policy()

    def diverged(self) -> bool:
        """Non-finite actor weights or a non-positive action std."""
        std = self.alg.get_policy().output_std.detach()
        return super().diverged() or not bool((torch.isfinite(std) & (std > 0)).all())


def check_image_encoders(obs: TensorDict, cfg: RslRlPpoRunnerCfg) -> None:
    """One clear error where a network reads image groups `(num_envs, C, H, W)` without a CNN encoder, or has
    an encoder and no image to read (rsl_rl's own errors name neither the network nor the setting)."""
    for network, model in (("actor", cfg.actor), ("critic", cfg.critic)):
        groups = [g for g in cfg.obs_groups.get(network, []) if g in obs.keys()]  # noqa: SIM118 (a TensorDict)
        images = [g for g in groups if obs[g].dim() == 4]
        if images and model.cnn is None:
            raise UserInputError(
                f"agent.{network} reads the image observation groups {images}, but has no CNN encoder: set "
                f"agent.{network}.cnn (RslRlCnnCfg) in the task's rsl_rl config."
            )
        if model.cnn is not None and not images:
            raise UserInputError(
                f"agent.{network}.cnn is set, but none of its observation groups {groups} holds images "
                f"(num_envs, C, H, W); remove the encoder or add an image group."
            )


LEARNER = RslRlLearner

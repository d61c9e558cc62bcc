"""One rollout step of rsl_rl's PPO as a device-resident function, replayed from a CUDA graph on GPU.

rsl_rl's `PPO.act` + `VecEnv.step` + `PPO.process_env_step` launch the policy, the env step and the
storage copies one by one from Python, with a `Transition` object and TensorDicts built on every step.
Here the same step (policy forward and sampling, value, log-probability, the env step, the time-out
bootstrap, the storage write at a device cursor, the step record) is one function over static buffers:
on GPU it is captured once, with the env step inside, and replayed; on the CPU it runs eagerly.
The storage is rsl_rl's own `RolloutStorage`; `compute_returns` and the update read it unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
from rsl_rl.algorithms import PPO
from rsl_rl.modules.distribution import GaussianDistribution
from tensordict import TensorDict

from roboforge.envs.episodes import StepRecorder
from roboforge.utils.cuda_graph import maybe_captured

CAPTURE_HINT = (
    "A term of the env step or the policy synchronizes with the host (.item(), .cpu(), nonzero(), a Python "
    "branch on a tensor). Make it graph-safe, or run without graphs: -o env.sim.cuda_graph=false."
)


def supports_device_loop(alg: PPO) -> bool:
    """Whether the rollout step and minibatch update can run as device functions: feed-forward models with
    a Gaussian actor, without rsl_rl's RND, symmetry, mixed-precision or multi-GPU extensions (those keep
    rsl_rl's loop)."""
    return isinstance(getattr(alg.actor, "distribution", None), GaussianDistribution) and not (
        alg.actor.is_recurrent
        or alg.critic.is_recurrent
        or alg.rnd is not None
        or alg.symmetry is not None
        or alg.use_mixed_precision
        or alg.is_multi_gpu
    )


def update_distribution(actor: Any, obs: TensorDict) -> torch.Tensor:
    """The actor's forward pass into its output distribution (rsl_rl's `stochastic_output=True` without
    the sample); returns the network's output."""
    output = actor.mlp(actor.get_latent(obs))
    actor.distribution.update(output)
    return output


def sample_actions(actor: Any, obs: TensorDict) -> torch.Tensor:
    """rsl_rl's stochastic forward of a Gaussian actor: `mean + std * randn`, the numbers `Normal.sample`
    draws from the same generator state (it calls `torch.normal` with a std tensor, which checks
    `std >= 0` on the host: a CUDA graph cannot capture that)."""
    update_distribution(actor, obs)
    mean = actor.output_mean
    return mean + actor.output_std * torch.randn_like(mean)


def _put(buffer: torch.Tensor, cursor: torch.Tensor, value: torch.Tensor) -> None:
    """`buffer[cursor] = value` with the step index on the device (`cursor`: a 1-element long tensor)."""
    buffer.index_copy_(0, cursor, value.unsqueeze(0))


class RolloutStep:
    """Fills rsl_rl's rollout storage one env step per call, as `PPO.act` and `process_env_step` would."""

    def __init__(
        self,
        alg: PPO,
        env: Any,
        recorder: StepRecorder,
        clip_actions: float | None,
        cuda_graph: bool,
    ):
        self.alg = alg
        self.env = env
        self.recorder = recorder
        self.clip_actions = clip_actions
        self.storage = alg.storage
        obs = {k: v.clone() for k, v in env.obs_buf.items()}
        self.obs = TensorDict(obs, batch_size=[env.num_envs], device=env.device)
        """The observation the policy acts on next (static: each step copies the env's new one in)."""
        self.cursor = torch.zeros(1, dtype=torch.long, device=env.device)
        self.call = maybe_captured(
            self._step, env.device, cuda_graph, "the rsl_rl rollout step", CAPTURE_HINT
        )

    def collect(self) -> None:
        """One rollout of `num_transitions_per_env` steps into the storage."""
        self.cursor.zero_()
        for _ in range(self.storage.num_transitions_per_env):
            self.env.common_step_counter += 1
            self.call()
        self.storage.step = self.storage.num_transitions_per_env

    def _step(self) -> None:
        alg, st, t, obs = self.alg, self.storage, self.cursor, self.obs
        actions = sample_actions(alg.actor, obs)
        values = alg.critic(obs)
        log_prob = alg.actor.get_output_log_prob(actions)
        params = alg.actor.output_distribution_params
        # The first call (always eager) allocates these, as rsl_rl does at its first transition.
        if st.distribution_params is None:
            st.distribution_params = tuple(
                torch.zeros(st.num_transitions_per_env, *p.shape, device=st.device) for p in params
            )
        for key in obs.keys():  # noqa: SIM118  (iterating a TensorDict walks its batch, not its keys)
            _put(st.observations[key], t, obs[key])
        _put(st.actions, t, actions)
        _put(st.values, t, values)
        _put(st.actions_log_prob, t, log_prob.view(-1, 1))
        for buffer, p in zip(st.distribution_params, params, strict=True):
            _put(buffer, t, p)
        env_actions = (
            actions if self.clip_actions is None else actions.clamp(-self.clip_actions, self.clip_actions)
        )
        next_obs, reward, terminated, time_outs, _ = self.env.step_uncaptured(env_actions)
        dones = terminated | time_outs
        bootstrapped = reward + alg.gamma * torch.squeeze(values * time_outs.unsqueeze(1), 1)
        _put(st.rewards, t, bootstrapped.view(-1, 1))
        _put(st.dones, t, dones.view(-1, 1).to(st.dones.dtype))
        self.recorder.step(actions, reward, dones)
        for key, value in next_obs.items():
            obs[key].copy_(value)
        t += 1

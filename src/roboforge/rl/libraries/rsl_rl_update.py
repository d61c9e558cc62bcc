"""rsl_rl's `PPO.update` for feed-forward models, one minibatch per CUDA graph replay on GPU.

The math is rsl_rl's, line for line: one permutation of the batch for all epochs, the clipped surrogate
and (clipped) value losses, the entropy bonus, the KL-adaptive learning rate, the gradient-norm clip of
actor and critic, the optimizer step, then the normalizer update. What changes is where it runs: the
learning rate is a device tensor (a capturable, fused Adam reads it), the minibatch indices a static
buffer, and the loss sums device tensors read once per update, so a minibatch has no host sync and on
GPU is captured once and replayed. Checkpoints keep the plain optimizer format rsl_rl writes.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from rsl_rl.algorithms import PPO
from tensordict import TensorDict
from torch import nn

from roboforge.rl.libraries.rsl_rl_rollout import update_distribution
from roboforge.utils.cuda_graph import maybe_captured

CAPTURE_HINT = "Train without graphs to get past it: -o env.sim.cuda_graph=false."
CAPTURABLE_OPTIMIZERS = (torch.optim.Adam, torch.optim.AdamW)


class LearningRate:
    """rsl_rl's learning rate on the device: adapted to the KL divergence without a host sync, read by a
    capturable optimizer on GPU (on the CPU the optimizer gets it as a float after each change)."""

    def __init__(self, alg: PPO, capturable: bool):
        self.alg = alg
        self.capturable = capturable
        dtype = (
            torch.float32 if capturable else torch.float64
        )  # float64: the CPU path repeats rsl_rl's floats
        self.value = torch.tensor(float(alg.learning_rate), dtype=dtype, device=alg.device)
        if capturable:
            opt = alg.optimizer
            alg.optimizer = type(opt)(
                opt.param_groups[0]["params"],
                **_plain_hyperparameters(opt),
                lr=self.value,
                capturable=True,
                fused=True,
            )

    def adapt(self, kl_mean: torch.Tensor, desired_kl: float) -> None:
        """Divide by 1.5 (not below 1e-5) when the KL exceeds twice `desired_kl`, multiply by 1.5 (not above 1e-2) when it is
        positive and under half of it: rsl_rl's adaptive schedule."""
        lr = self.value
        lower = torch.clamp(lr / 1.5, min=1e-5)
        higher = torch.clamp(lr * 1.5, max=1e-2)
        grow = (kl_mean < desired_kl / 2.0) & (kl_mean > 0.0)
        lr.copy_(torch.where(kl_mean > desired_kl * 2.0, lower, torch.where(grow, higher, lr)))
        if not self.capturable:
            for group in self.alg.optimizer.param_groups:
                group["lr"] = float(lr)

    def attach(self) -> None:
        """After rsl_rl's `PPO.load` put a checkpoint's plain optimizer state in: the checkpoint's rate into
        the device tensor, and the optimizer capturable again."""
        self.value.fill_(float(self.alg.learning_rate))
        for group in self.alg.optimizer.param_groups:
            if self.capturable:
                group.update(lr=self.value, capturable=True, fused=True, foreach=None)
            else:
                group["lr"] = float(self.value)
        if self.capturable:
            for state in self.alg.optimizer.state.values():
                if "step" in state:
                    state["step"] = state["step"].to(device=self.alg.device, dtype=torch.float32)


def _plain_hyperparameters(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The optimizer's settings that its constructor takes, other than the rate and implementation switches."""
    accepted = inspect.signature(type(optimizer)).parameters
    skip = {"params", "lr", "capturable", "fused", "foreach", "differentiable"}
    return {k: v for k, v in optimizer.param_groups[0].items() if k in accepted and k not in skip}


def plain_optimizer_state(state: dict) -> dict:
    """An optimizer state dict as rsl_rl's own (non-capturable) Adam writes it: float learning rates,
    `capturable`/`fused` off, step counts on the CPU. rsl_rl's `OnPolicyRunner.load` and every machine
    without a GPU read it."""
    groups = [{**g, "lr": float(g["lr"]), "capturable": False, "fused": None} for g in state["param_groups"]]
    per_param = {
        i: {k: (v.detach().cpu() if k == "step" else v) for k, v in s.items()}
        for i, s in state["state"].items()
    }
    return {"state": per_param, "param_groups": groups}


def capturable_update(alg: PPO, cuda_graph: bool) -> bool:
    """Whether the minibatch update runs from a CUDA graph: on GPU with graphs on and an Adam optimizer."""
    return (
        torch.device(alg.device).type == "cuda"
        and cuda_graph
        and type(alg.optimizer) in CAPTURABLE_OPTIMIZERS
    )


class PpoUpdate:
    """`PPO.update` of a feed-forward actor-critic over rsl_rl's rollout storage."""

    def __init__(self, alg: PPO, cuda_graph: bool):
        self.alg = alg
        st = alg.storage
        self.mini_batch_size = st.num_envs * st.num_transitions_per_env // alg.num_mini_batches
        capturable = capturable_update(alg, cuda_graph)
        self.lr = LearningRate(alg, capturable)
        self.batch_idx = torch.zeros(self.mini_batch_size, dtype=torch.long, device=alg.device)
        self.advantages = torch.zeros_like(st.returns)
        """Static copy of the storage's advantages (`compute_returns` binds a new tensor each rollout)."""
        self.loss_sums = torch.zeros(3, device=alg.device)
        """Sums of the value loss, surrogate loss and entropy over the minibatches of one update."""
        self.flat: dict[str, Any] | None = None
        self.call = maybe_captured(
            self._minibatch, torch.device(alg.device), capturable, "the PPO update", CAPTURE_HINT
        )

    def __call__(self) -> dict[str, float]:
        """One update from the filled storage; returns rsl_rl's mean losses (one host sync)."""
        alg, st = self.alg, self.alg.storage
        if self.flat is None:
            self.flat = _flat_views(st, self.advantages)
        self.advantages.copy_(st.advantages)
        indices = torch.randperm(
            alg.num_mini_batches * self.mini_batch_size, requires_grad=False, device=alg.device
        )
        self.loss_sums.zero_()
        for _ in range(alg.num_learning_epochs):
            for i in range(alg.num_mini_batches):
                self.batch_idx.copy_(indices[i * self.mini_batch_size : (i + 1) * self.mini_batch_size])
                self.call()
        obs = self.flat["observations"]
        update_normalization_in_place(alg.actor, obs)
        update_normalization_in_place(alg.critic, obs)
        means = (self.loss_sums / (alg.num_learning_epochs * alg.num_mini_batches)).tolist()
        alg.learning_rate = float(self.lr.value)
        st.clear()
        return dict(zip(("value", "surrogate", "entropy"), means, strict=True))

    def _minibatch(self) -> None:
        alg, f, idx = self.alg, self.flat, self.batch_idx
        assert f is not None
        obs = f["observations"][idx]
        advantages = f["advantages"][idx]
        if alg.normalize_advantage_per_mini_batch:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        output = update_distribution(alg.actor, obs)  # rsl_rl also draws a sample here that it never uses
        log_prob = alg.actor.get_output_log_prob(f["actions"][idx])
        values = alg.critic(obs)
        params = alg.actor.output_distribution_params
        entropy = alg.actor.output_entropy
        if alg.desired_kl is not None and alg.schedule == "adaptive":
            with torch.no_grad():
                old_params = tuple(p[idx] for p in f["distribution_params"])
                self.lr.adapt(alg.actor.get_kl_divergence(old_params, params).mean(), alg.desired_kl)
        surrogate_loss = _surrogate_loss(alg, log_prob, f["actions_log_prob"][idx], advantages)
        value_loss = _value_loss(alg, values, f["values"][idx], f["returns"][idx])
        loss = surrogate_loss + alg.value_loss_coef * value_loss - alg.entropy_coef * entropy.mean()
        alg.optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(alg.actor.parameters(), alg.max_grad_norm)
        nn.utils.clip_grad_norm_(alg.critic.parameters(), alg.max_grad_norm)
        alg.optimizer.step()
        self.loss_sums += torch.stack([value_loss, surrogate_loss, entropy.mean()]).detach()
        # Drop the autograd graph the distribution holds: the next minibatch (or the capture) starts clean.
        with torch.no_grad():
            alg.actor.distribution.update(output.detach())  # type: ignore[union-attr]


def _surrogate_loss(
    alg: PPO, log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantages: torch.Tensor
) -> torch.Tensor:
    """PPO's clipped surrogate objective (to minimise)."""
    ratio = torch.exp(log_prob - torch.squeeze(old_log_prob))
    surrogate = -torch.squeeze(advantages) * ratio
    clipped = -torch.squeeze(advantages) * torch.clamp(ratio, 1.0 - alg.clip_param, 1.0 + alg.clip_param)
    return torch.max(surrogate, clipped).mean()


def _value_loss(
    alg: PPO, values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor
) -> torch.Tensor:
    """Squared error to the returns, clipped around the rollout's values when rsl_rl clips it."""
    if not alg.use_clipped_value_loss:
        return (returns - values).pow(2).mean()
    clipped = old_values + (values - old_values).clamp(-alg.clip_param, alg.clip_param)
    return torch.max((values - returns).pow(2), (clipped - returns).pow(2)).mean()


def _flat_views(st: Any, advantages: torch.Tensor) -> dict[str, Any]:
    """(steps x worlds) views of the storage as one batch axis, as `mini_batch_generator` flattens them."""
    observations = {k: v.flatten(0, 1) for k, v in st.observations.items()}
    return {
        "observations": TensorDict(observations, batch_size=[st.num_envs * st.num_transitions_per_env]),
        "actions": st.actions.flatten(0, 1),
        "values": st.values.flatten(0, 1),
        "returns": st.returns.flatten(0, 1),
        "actions_log_prob": st.actions_log_prob.flatten(0, 1),
        "advantages": advantages.flatten(0, 1),
        "distribution_params": tuple(p.flatten(0, 1) for p in st.distribution_params),
    }


def update_normalization_in_place(model: nn.Module, obs: TensorDict) -> None:
    """rsl_rl's normalizer update, keeping every buffer tensor: it binds a new `_std`, which the captured
    graphs would never see, so the new values are copied into the old tensor."""
    normalizer = getattr(model, "obs_normalizer", None)
    kept = dict(normalizer.named_buffers()) if normalizer is not None else {}
    model.update_normalization(obs)  # type: ignore[operator]
    for name, buffer in kept.items():
        current = getattr(normalizer, name)
        if current is not buffer:
            buffer.copy_(current)
            setattr(normalizer, name, buffer)

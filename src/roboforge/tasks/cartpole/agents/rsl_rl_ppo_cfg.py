"""PPO settings for the cart-pole tasks."""

from __future__ import annotations

from roboforge.agents.rsl_rl_cfg import RslRlModelCfg, RslRlPpoAlgorithmCfg, RslRlPpoRunnerCfg


def cartpole_ppo_cfg(recurrent: bool = False) -> RslRlPpoRunnerCfg:
    """Small MLPs (or an LSTM actor/critic with `recurrent`), short rollouts."""
    rnn = {"rnn_type": "lstm", "rnn_hidden_dim": 32} if recurrent else {}
    return RslRlPpoRunnerCfg(
        num_steps_per_env=16,
        max_iterations=150,
        save_interval=50,
        experiment_name="cartpole",
        actor=RslRlModelCfg(hidden_dims=[32, 32], init_noise_std=1.0, **rnn),
        critic=RslRlModelCfg(hidden_dims=[32, 32], **rnn),
        algorithm=RslRlPpoAlgorithmCfg(learning_rate=1.0e-3, entropy_coef=0.005, num_mini_batches=4),
    )

"""PPO settings for the reach tasks."""

from __future__ import annotations

from roboforge.rl.runner_cfg import RslRlModelCfg, RslRlPpoAlgorithmCfg, RslRlPpoRunnerCfg


def reach_ppo_cfg() -> RslRlPpoRunnerCfg:
    """Two 64-unit layers, 24-step rollouts, adaptive learning rate."""
    return RslRlPpoRunnerCfg(
        num_steps_per_env=24,
        max_iterations=500,
        save_interval=50,
        experiment_name="reach",
        actor=RslRlModelCfg(hidden_dims=[64, 64], init_noise_std=1.0),
        critic=RslRlModelCfg(hidden_dims=[64, 64]),
        algorithm=RslRlPpoAlgorithmCfg(learning_rate=1.0e-3, entropy_coef=0.01, num_mini_batches=4),
    )

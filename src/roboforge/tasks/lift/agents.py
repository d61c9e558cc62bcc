"""PPO settings for lift."""

from __future__ import annotations

from roboforge.rl.runner_cfg import RslRlModelCfg, RslRlPpoAlgorithmCfg, RslRlPpoRunnerCfg


def lift_ppo_cfg() -> RslRlPpoRunnerCfg:
    """256-128-64 MLPs, 24-step rollouts, 1500 iterations."""
    return RslRlPpoRunnerCfg(
        num_steps_per_env=24,
        max_iterations=1500,
        save_interval=100,
        experiment_name="lift",
        actor=RslRlModelCfg(hidden_dims=[256, 128, 64], init_noise_std=1.0),
        critic=RslRlModelCfg(hidden_dims=[256, 128, 64]),
        algorithm=RslRlPpoAlgorithmCfg(learning_rate=1.0e-4, entropy_coef=0.006, num_mini_batches=4),
    )

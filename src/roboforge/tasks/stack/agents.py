"""PPO settings for stack."""

from __future__ import annotations

from roboforge.rl.runner_cfg import RslRlModelCfg, RslRlPpoAlgorithmCfg, RslRlPpoRunnerCfg


def stack_ppo_cfg() -> RslRlPpoRunnerCfg:
    """512-256-128 MLPs (one more stage than lift: carry and place), 24-step rollouts, 2000 iterations."""
    return RslRlPpoRunnerCfg(
        num_steps_per_env=24,
        max_iterations=2000,
        save_interval=100,
        experiment_name="stack",
        actor=RslRlModelCfg(hidden_dims=[512, 256, 128], init_noise_std=1.0),
        critic=RslRlModelCfg(hidden_dims=[512, 256, 128]),
        algorithm=RslRlPpoAlgorithmCfg(learning_rate=1.0e-4, entropy_coef=0.006, num_mini_batches=4),
    )

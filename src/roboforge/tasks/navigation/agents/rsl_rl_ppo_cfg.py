"""PPO settings for navigation."""

from __future__ import annotations

from roboforge.agents.rsl_rl_cfg import RslRlModelCfg, RslRlPpoAlgorithmCfg, RslRlPpoRunnerCfg


def navigation_ppo_cfg() -> RslRlPpoRunnerCfg:
    """128-128 MLPs with observation normalization (goal and lidar in m, velocities, actions), 24-step
    rollouts, 500 iterations (49 M env steps at 4096 worlds), actions clipped to the action term's +-1."""
    return RslRlPpoRunnerCfg(
        num_steps_per_env=24,
        clip_actions=1.0,
        max_iterations=500,
        save_interval=50,
        experiment_name="navigation",
        actor=RslRlModelCfg(hidden_dims=[128, 128], init_noise_std=0.5, obs_normalization=True),
        critic=RslRlModelCfg(hidden_dims=[128, 128], obs_normalization=True),
        algorithm=RslRlPpoAlgorithmCfg(learning_rate=1.0e-3, entropy_coef=0.005, num_mini_batches=4),
    )

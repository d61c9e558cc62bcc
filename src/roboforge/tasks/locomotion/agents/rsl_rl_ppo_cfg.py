"""PPO settings for velocity tracking (asymmetric actor-critic: the critic reads the 'critic' group)."""

from __future__ import annotations

from roboforge.agents.rsl_rl_cfg import RslRlModelCfg, RslRlPpoAlgorithmCfg, RslRlPpoRunnerCfg


def velocity_ppo_cfg(
    max_iterations: int = 1500, hidden_dims: tuple[int, ...] = (512, 256, 128)
) -> RslRlPpoRunnerCfg:
    """ELU MLPs, 24-step rollouts, adaptive learning rate; observations normalized by running statistics."""
    return RslRlPpoRunnerCfg(
        num_steps_per_env=24,
        max_iterations=max_iterations,
        save_interval=100,
        experiment_name="velocity",
        obs_groups={"actor": ["policy"], "critic": ["critic"]},
        actor=RslRlModelCfg(hidden_dims=list(hidden_dims), init_noise_std=1.0, obs_normalization=True),
        critic=RslRlModelCfg(hidden_dims=list(hidden_dims), obs_normalization=True),
        algorithm=RslRlPpoAlgorithmCfg(learning_rate=1.0e-3, entropy_coef=0.01, num_mini_batches=4),
    )

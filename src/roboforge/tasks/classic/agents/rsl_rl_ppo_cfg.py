"""PPO settings of the classic tasks (Isaac Lab's Ant and Humanoid PPO runner numbers)."""

from __future__ import annotations

from roboforge.agents.rsl_rl_cfg import RslRlModelCfg, RslRlPpoAlgorithmCfg, RslRlPpoRunnerCfg


def classic_ppo_cfg(experiment_name: str, max_iterations: int = 1000) -> RslRlPpoRunnerCfg:
    """400-200-100 ELU MLPs with observation normalization (heights, velocities, angles, actions), 32-step
    rollouts, learning rate 5e-4 (adaptive), no entropy bonus, actions clipped to the motors' +-1."""
    return RslRlPpoRunnerCfg(
        num_steps_per_env=32,
        max_iterations=max_iterations,
        save_interval=50,
        clip_actions=1.0,
        experiment_name=experiment_name,
        actor=RslRlModelCfg(hidden_dims=[400, 200, 100], init_noise_std=1.0, obs_normalization=True),
        critic=RslRlModelCfg(hidden_dims=[400, 200, 100], obs_normalization=True),
        algorithm=RslRlPpoAlgorithmCfg(learning_rate=5.0e-4, entropy_coef=0.0, num_mini_batches=4),
    )


def ant_ppo_cfg() -> RslRlPpoRunnerCfg:
    """Ant: 1000 iterations (131 M env steps at 4096 worlds)."""
    return classic_ppo_cfg("ant")


def humanoid_ppo_cfg() -> RslRlPpoRunnerCfg:
    """Humanoid: 1000 iterations."""
    return classic_ppo_cfg("humanoid")

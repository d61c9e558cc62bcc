"""PPO settings for navigation on legs (Isaac Lab's `NavigationEnvPPORunnerCfg`)."""

from __future__ import annotations

from roboforge.agents.rsl_rl_cfg import RslRlModelCfg, RslRlPpoAlgorithmCfg, RslRlPpoRunnerCfg


def navigation_go1_ppo_cfg() -> RslRlPpoRunnerCfg:
    """128-128 ELU MLPs, 8-step rollouts (1.6 s of 0.2 s commands), 1500 iterations (49 M high-level steps at
    4096 worlds), initial action std 0.5; the action term clips the commands to the velocity task's ranges."""
    return RslRlPpoRunnerCfg(
        num_steps_per_env=8,
        max_iterations=1500,
        save_interval=50,
        experiment_name="navigation_go1",
        actor=RslRlModelCfg(hidden_dims=[128, 128], init_noise_std=0.5),
        critic=RslRlModelCfg(hidden_dims=[128, 128]),
        algorithm=RslRlPpoAlgorithmCfg(learning_rate=1.0e-3, entropy_coef=0.005, num_mini_batches=4),
    )

"""PPO settings for the reach tasks."""

from __future__ import annotations

from roboforge.rl.runner_cfg import RslRlModelCfg, RslRlPpoAlgorithmCfg, RslRlPpoRunnerCfg

# Initial action noise per control mode: modes whose actions integrate (velocities, torques) or are
# absolute poses start calmer, so early exploration does not throw the arm around.
INIT_NOISE_STD = {"joint_pos": 1.0, "joint_vel": 0.5, "effort": 0.5, "ik_rel": 1.0, "ik_abs": 0.3, "osc": 0.3}


def reach_ppo_cfg(control: str = "joint_pos", max_iterations: int = 1000) -> RslRlPpoRunnerCfg:
    """Two 64-unit layers, 24-step rollouts, adaptive learning rate."""
    return RslRlPpoRunnerCfg(
        num_steps_per_env=24,
        max_iterations=max_iterations,
        save_interval=50,
        experiment_name="reach",
        actor=RslRlModelCfg(hidden_dims=[64, 64], init_noise_std=INIT_NOISE_STD[control]),
        critic=RslRlModelCfg(hidden_dims=[64, 64]),
        algorithm=RslRlPpoAlgorithmCfg(learning_rate=1.0e-3, entropy_coef=0.01, num_mini_batches=4),
    )

"""PPO settings for stack."""

from __future__ import annotations

from roboforge.agents.rsl_rl_cfg import RslRlModelCfg, RslRlPpoAlgorithmCfg, RslRlPpoRunnerCfg


def stack_ppo_cfg() -> RslRlPpoRunnerCfg:
    """512-256-128 MLPs with observation normalization (one more stage than lift: carry and place), 24-step
    rollouts, 1000 iterations.

    Measured on one H200 (4096 worlds): with normalization, training success passed 80% at iteration 435
    and the checkpoint of iteration 738 placed cube A on B in 96% of 1000 CPU eval episodes (7 mm error).
    An earlier run without it reached 0.3% at iteration 962. The policy keeps holding cube A once placed:
    `released` (placed with the gripper open) is 0.0 in the same eval; at iteration 880 (2026-12-05) the policy
    still held A, pressed into B, and opening threw the cubes off: the env now rewards a settled placement."""
    return RslRlPpoRunnerCfg(
        num_steps_per_env=24,
        max_iterations=1000,
        save_interval=100,
        experiment_name="stack",
        actor=RslRlModelCfg(hidden_dims=[512, 256, 128], init_noise_std=1.0, obs_normalization=True),
        critic=RslRlModelCfg(hidden_dims=[512, 256, 128], obs_normalization=True),
        algorithm=RslRlPpoAlgorithmCfg(learning_rate=1.0e-4, entropy_coef=0.006, num_mini_batches=4),
    )

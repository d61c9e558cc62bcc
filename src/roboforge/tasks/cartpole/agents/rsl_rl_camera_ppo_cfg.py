"""PPO settings for the camera cart-pole tasks ('cartpole-rgb', 'cartpole-depth'): a small CNN per network."""

from __future__ import annotations

from roboforge.agents.rsl_rl_cfg import RslRlCnnCfg, RslRlModelCfg, RslRlPpoAlgorithmCfg, RslRlPpoRunnerCfg


def camera_cnn_cfg() -> RslRlCnnCfg:
    """Three stride-2 convolutions: 64x64 images -> 32 maps of 8x8 (2048 features)."""
    return RslRlCnnCfg(output_channels=[16, 32, 32], kernel_size=[5, 3, 3], stride=[2, 2, 2], padding="zeros")


def cartpole_camera_ppo_cfg() -> RslRlPpoRunnerCfg:
    """Actor and critic: their own CNN encoder, then one hidden layer of 64 units."""
    return RslRlPpoRunnerCfg(
        num_steps_per_env=16,
        max_iterations=200,
        save_interval=50,
        experiment_name="cartpole_camera",
        actor=RslRlModelCfg(hidden_dims=[64], init_noise_std=1.0, cnn=camera_cnn_cfg()),
        critic=RslRlModelCfg(hidden_dims=[64], cnn=camera_cnn_cfg()),
        algorithm=RslRlPpoAlgorithmCfg(learning_rate=1.0e-3, entropy_coef=0.005, num_mini_batches=4),
    )

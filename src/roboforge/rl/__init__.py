"""Training, evaluation, checkpoints and benchmarks on top of rsl_rl's PPO."""

"""Agent configs of the reach tasks, one file per RL library and algorithm (rsl_rl in Python, the
others in their own YAML formats)."""

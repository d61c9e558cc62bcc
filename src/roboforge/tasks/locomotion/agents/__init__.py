"""Agent configs of the locomotion tasks, one file per RL library and algorithm (rsl_rl in Python, the
others in their own YAML formats)."""

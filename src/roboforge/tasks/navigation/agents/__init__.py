"""Agent configs of the navigation task, one file per RL library (rsl_rl in Python, the others in their own
YAML formats)."""

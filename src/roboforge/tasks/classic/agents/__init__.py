"""Agent configs of the classic tasks, one file per RL library, algorithm and robot (rsl_rl in Python, the
others in their own YAML formats); 'ant-manager' uses the ant's."""

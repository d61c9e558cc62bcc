"""Adapters from roboforge envs to RL libraries."""

"""Shared helpers: math, config validation, files. Imports nothing else of roboforge."""

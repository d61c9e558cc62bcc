"""The training job service: REST API, persistent job queue and dashboard (`roboforge serve`).

Importing this package is cheap; `roboforge.service.launcher` runs inside every job and must stay light.
"""

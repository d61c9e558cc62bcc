"""Where a job's attempts run: `local` (processes of this machine, the default) or `ray` (jobs of a Ray
cluster). The runner talks to the `Executor` protocol (base.py) alone; `make_executor` picks one from the
service's settings, importing Ray only for `ray`."""

from __future__ import annotations

from roboforge.service.config import ServiceCfg
from roboforge.service.executors.base import Attempt, Executor, ExecutorRefused, ExecutorUnavailable, Handle
from roboforge.service.executors.local import LocalExecutor
from roboforge.utils.errors import UserInputError

__all__ = [
    "Attempt",
    "Executor",
    "ExecutorRefused",
    "ExecutorUnavailable",
    "Handle",
    "LocalExecutor",
    "make_executor",
]

RAY_EXTRA = "pip install roboforge[ray]"


def make_executor(cfg: ServiceCfg) -> Executor:
    """The executor `cfg.executor` names; for `ray`, connected to `cfg.ray_url` (UserInputError naming the
    extra when Ray is not installed, ExecutorUnavailable when the cluster does not answer)."""
    if cfg.executor != "ray":
        return LocalExecutor()
    try:
        from roboforge.service.executors.ray import RayExecutor
    except ImportError as err:
        if not (err.name or "").startswith("ray"):
            raise
        raise UserInputError(
            f"--executor ray needs the ray package, which is not installed: {RAY_EXTRA} "
            '(in a checkout: pip install -e ".[ray]").'
        ) from err
    return RayExecutor(cfg.ray_url)

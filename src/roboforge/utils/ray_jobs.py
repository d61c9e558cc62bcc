"""Ray's Jobs API client as roboforge uses it (the service's `ray` executor and a sweep's Ray trials): every
request time-limited, and one line when the cluster does not answer. Imports ray, so only modules that
need a Ray cluster import this one (`pip install roboforge[ray]`)."""

from __future__ import annotations

from typing import Any

from ray.job_submission import JobSubmissionClient

from roboforge.utils.errors import UserInputError

REQUEST_TIMEOUT_S = 10.0
"""Seconds one request to the Jobs API may take (Ray's client has no limit of its own)."""


class JobsClient(JobSubmissionClient):
    """Ray's Jobs API client with a time limit on every request, so a head that stops answering cannot
    hold the caller."""

    def _do_request(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", REQUEST_TIMEOUT_S)
        return super()._do_request(*args, **kwargs)


def unreachable(address: str, err: BaseException) -> str:
    """One line: the Ray cluster at `address` does not answer, why, and what to do."""
    reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
    return (
        f"Cannot reach the Ray cluster's Jobs API at {address} ({reason}). Start a Ray head there "
        "(ray start --head --dashboard-host=0.0.0.0) or pass --ray-address with its dashboard URL "
        "(http://HEAD:8265)."
    )


class RayUnreachable(UserInputError):
    """The Ray cluster's Jobs API does not answer (refused, reset, timed out, or a server error)."""


def call(client: JobSubmissionClient, address: str, what: str, *args: Any, **kwargs: Any) -> Any:
    """`client.<what>(...)`; RayUnreachable (one line, see `unreachable`) when the cluster does not answer."""
    try:
        return getattr(client, what)(*args, **kwargs)
    except OSError as err:  # requests' errors are OSErrors, as is ConnectionError
        raise RayUnreachable(unreachable(address, err)) from err
    except RuntimeError as err:
        if "status code 5" in str(err):
            raise RayUnreachable(unreachable(address, err)) from err
        raise


def not_found(err: RuntimeError) -> bool:
    """Whether the Jobs API answered 404 (Ray's client raises RuntimeError naming the status code)."""
    return "status code 404" in str(err)

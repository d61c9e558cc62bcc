"""Error answers of the API: their OpenAPI documentation (`responses=` of each route) and their bodies.

Every error is one JSON object: `{"detail": "..."}`, or for 422 `{"detail": [{loc, msg, ...}],
"message": "field: problem; ..."}`. Inputs are echoed as a short repr, never whole.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi.encoders import jsonable_encoder

from roboforge.service.schemas import ErrorBody, ValidationErrorBody

MAX_INPUT_CHARS = 200
"""Longest echo of a request value in a 422 answer."""
MAX_ERRORS = 20
"""Most problems listed in one 422 answer."""

DESCRIPTIONS = {
    400: "Bad request: a Host header this service does not answer to, or a body that cannot be read.",
    401: "Missing or wrong API token (only when ROBOFORGE_API_TOKEN is set).",
    403: "A state-changing request from a page of another site (foreign Origin or Referer).",
    404: "No such job, log or artifact.",
    408: "The request body did not arrive in time.",
    409: "The job is not in a state that allows this.",
    413: "The request body is too large.",
    415: "The request body is not JSON (send Content-Type: application/json).",
    422: "A field is missing, of the wrong type or outside its limits; `loc` and `message` name it.",
    429: "Too many jobs are queued; try again when some have started.",
    501: "This server lacks an optional package the route needs (the answer names the extra).",
    503: "The database cannot be reached.",
    507: "The disk of the job folders or the database is full.",
}

READ = (400, 401, 422)
"""Answers any GET route can give."""
WRITE = (400, 401, 403, 408, 413, 415, 422, 507)
"""Answers any POST route can give."""


def documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route that answers `codes` besides its success."""
    return {
        code: {"model": ValidationErrorBody if code == 422 else ErrorBody, "description": DESCRIPTIONS[code]}
        for code in sorted(set(codes))
    }


def short(value: Any) -> Any:
    """`value` if its JSON is short, else the start of that JSON with '...'."""
    try:
        text = json.dumps(jsonable_encoder(value))
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) <= MAX_INPUT_CHARS:
        return value
    return text[:MAX_INPUT_CHARS] + "..."


def _field(loc: Sequence[Any]) -> str:
    return ".".join(str(p) for p in loc[1:]) or (str(loc[0]) if loc else "body")


def validation_content(errors: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The body of a 422 answer for pydantic-style `errors` (inputs shortened, at most MAX_ERRORS)."""
    shown = [
        {**{k: v for k, v in e.items() if k in ("type", "loc", "msg", "ctx")}, "input": short(e.get("input"))}
        for e in list(errors)[:MAX_ERRORS]
    ]
    shown = jsonable_encoder(shown)
    for e in shown:
        if isinstance(e.get("ctx"), dict):
            e["ctx"] = {k: short(v) for k, v in e["ctx"].items()}
    message = "; ".join(f"{_field(e.get('loc', ()))}: {e.get('msg')}" for e in shown)
    if len(errors) > MAX_ERRORS:
        message += f"; and {len(errors) - MAX_ERRORS} more problems"
    return {"detail": shown, "message": message}

"""Schemathesis hooks of scripts/fuzz_api.sh (loaded through SCHEMATHESIS_HOOKS=fuzz_hooks)."""

from __future__ import annotations

from typing import Any

import schemathesis

TRUE_WORDS = ("1", "on", "t", "true", "y", "yes")
"""Query values FastAPI reads as true."""


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """`GET /logs/{id}.log?follow=true` streams until the job ends (by design, minutes or hours for a
    queued job), which a fuzzer's request timeout reports as a network error: read the log once instead."""
    query = case.query
    if not isinstance(query, dict) or "follow" not in query:
        return
    values = query["follow"] if isinstance(query["follow"], list) else [query["follow"]]
    if any(str(v).strip().lower() in TRUE_WORDS for v in values):
        query["follow"] = "false"

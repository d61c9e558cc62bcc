"""Counts of a Schemathesis run (scripts/fuzz_api.sh): requests, status codes, failed checks, errors.

Usage: python scripts/fuzz_summary.py REPORT_DIR [SERVICE_LOG]
Reads the NDJSON event stream and the JSON run report that `schemathesis run --report json,ndjson` wrote.
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path


def summarize(report_dir: Path) -> dict:
    """Requests, status codes, failed checks and errored scenarios of the run in `report_dir`."""
    statuses: collections.Counter[str] = collections.Counter()
    failed: collections.Counter[str] = collections.Counter()
    errored: list[str] = []
    requests = 0
    for path in report_dir.glob("*.ndjson"):
        for line in path.read_text().splitlines():
            event = json.loads(line)
            done = event.get("ScenarioFinished")
            if done is None:
                continue
            recorder = done.get("recorder") or {}
            for interaction in (recorder.get("interactions") or {}).values():
                response = interaction.get("response") or {}
                requests += 1
                statuses[str(response.get("status_code", "no response"))] += 1
            for checks in (recorder.get("checks") or {}).values():
                for check in checks:
                    if check.get("status") == "failure":
                        failed[f"{check['name']} ({recorder.get('label')})"] += 1
            if done.get("status") == "error":
                errored.append(f"{done.get('phase')}: {recorder.get('label')}")
    run = {}
    for path in report_dir.glob("*.json"):
        data = json.loads(path.read_text())
        run = {"seconds": round(data.get("running_time", 0), 1), "test_cases": data.get("test_cases"),
               "failures": len(data.get("failures", [])), "errors": data.get("errors", [])[:5]}  # fmt: skip
    server_errors = sum(n for code, n in statuses.items() if code.startswith("5"))
    return {"requests": requests, "server_errors": server_errors, "status_codes": dict(sorted(statuses.items())),
            "failed_checks": dict(failed), "errored_scenarios": errored, **run}  # fmt: skip


def main() -> None:
    summary = summarize(Path(sys.argv[1]))
    if len(sys.argv) > 2 and Path(sys.argv[2]).exists():
        summary["service_tracebacks"] = Path(sys.argv[2]).read_text(errors="replace").count("Traceback")
    print("fuzz summary: " + json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

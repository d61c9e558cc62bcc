#!/usr/bin/env bash
# Fuzz the job service's API with Schemathesis: every operation of /openapi.json, all phases (examples,
# coverage, fuzzing, stateful), against a real `roboforge serve` on a free loopback port with a temporary
# data folder. It must end with 0 server errors and 0 answers the schema does not document (status code,
# content type, headers, body schema). Jobs the fuzzer starts run one at a time on one thread; the
# service and every job process are killed at exit.
#
# `?follow=true` log streams last as long as their job, so scripts/fuzz_hooks.py reads those logs once
# instead; scripts/fuzz_summary.py prints the counts (requests, status codes, failed checks, errors).
#
# Usage: scripts/fuzz_api.sh [extra `schemathesis run` options, e.g. --checks all]
# Environment: FUZZ_SECONDS (time budget, default 300), FUZZ_WORKERS (default 1; more made Hypothesis fail
#              on its own in threads here), FUZZ_SEED, FUZZ_REPORT_DIR (where the JSON, JUnit and NDJSON
#              reports go; default: a temporary folder, printed), PYTHON (default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PY=${PYTHON:-$([[ -x .venv/bin/python ]] && echo "$PWD/.venv/bin/python" || command -v python3)}
BIN=$(dirname "$PY")
SECONDS_BUDGET=${FUZZ_SECONDS:-300}

# ---- schemathesis, at the version pinned in pyproject's `fuzz` extra -------------------------------------
PIN=$(grep -o '"schemathesis==[^"]*"' pyproject.toml | tr -d '"')
if ! "$PY" -c 'import schemathesis' 2>/dev/null; then
  echo "installing $PIN"
  "$PY" -m pip install -q "$PIN"
fi
ST=("$PY" -m schemathesis.cli)
[[ -x $BIN/schemathesis ]] && ST=("$BIN/schemathesis")

# ---- the service -----------------------------------------------------------------------------------------
DATA=$(mktemp -d -t roboforge-fuzz.XXXXXX)
REPORT=${FUZZ_REPORT_DIR:-$DATA/report}
mkdir -p "$REPORT"
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SERVER_PID=

cleanup() {
  if [[ -n $SERVER_PID ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  # jobs run in sessions of their own (they outlive the service): kill each job's process group
  "$PY" - "$DATA" <<'EOF' || true
import os, signal, sys
from pathlib import Path
from roboforge.service.store import Store
db = Path(sys.argv[1]) / "jobs.db"
if db.exists():
    store = Store(f"sqlite:///{db}")
    for job in store.list(limit=100_000):
        if job.pid:
            try:
                os.killpg(job.pid, signal.SIGKILL)
            except OSError:
                pass
    store.close()
EOF
  if grep -q Traceback "$DATA/serve.log" 2>/dev/null; then
    echo "the service logged a traceback (kept in $DATA/serve.log)" >&2
  elif [[ -z ${FUZZ_REPORT_DIR:-} ]]; then
    echo "reports: $REPORT"
  else
    rm -rf "$DATA"
  fi
}
trap cleanup EXIT

OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 "$BIN/roboforge" serve --port "$PORT" --data-dir "$DATA" \
  --max-concurrent 1 --max-queued 20 --log-level warning >"$DATA/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 120); do
  "$PY" -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$PORT/health', timeout=2)" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$DATA/serve.log"; exit 1; }
  sleep 0.5
done

# ---- the run ---------------------------------------------------------------------------------------------
echo "fuzzing http://127.0.0.1:$PORT for ${SECONDS_BUDGET} s (service log: $DATA/serve.log)"
status=0
# fuzz_hooks.py turns `?follow=true` (a log stream that lasts as long as its job) into a plain read
(cd "$DATA" && PYTHONPATH="$REPO/scripts" SCHEMATHESIS_HOOKS=fuzz_hooks "${ST[@]}" run "http://127.0.0.1:$PORT/openapi.json" \
  --phases examples,coverage,fuzzing,stateful \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --max-time "$SECONDS_BUDGET" --workers "${FUZZ_WORKERS:-1}" ${FUZZ_SEED:+--seed "$FUZZ_SEED"} \
  --request-timeout 30 --generation-database none --no-color \
  --report json,junit,ndjson --report-dir "$REPORT" "$@") || status=$?

# ---- counts ----------------------------------------------------------------------------------------------
"$PY" "$REPO/scripts/fuzz_summary.py" "$REPORT" "$DATA/serve.log" || true
exit $status

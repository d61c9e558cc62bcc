#!/usr/bin/env bash
# On the GPU machine (after staging, ../shared/device/README.md): train each TASK with its default
# hyperparameters on 4096 worlds, then evaluate the final checkpoint. Usage: bash scripts/device_train_eval.sh TASK...
set -uo pipefail
export PYTHONPATH=/tmp/site:$PWD/src MENAGERIE_ROOT=/tmp/menagerie MUJOCO_GL=disable PYTHONUNBUFFERED=1
export WARP_CACHE_PATH=/tmp/warp-cache
out=${OUT:-/tmp/out}; mkdir -p "$out"
for t in "$@"; do
  start=$(date +%s)
  python -m roboforge train "$t" --device cuda --num-envs 4096 --run-dir /tmp/runs --quiet --json \
    > "$out/train_$t.json" 2> "$out/train_$t.err"
  echo "$t: train exit $? in $(( $(date +%s) - start )) s (incl. kernel compile)"; tail -3 "$out/train_$t.err"
  python -m roboforge eval "$t" --checkpoint "$(ls -d /tmp/runs/$t/*/ | tail -1)" --device cuda --num-envs 1024 \
    --episodes 1000 --json > "$out/eval_$t.json" 2> "$out/eval_$t.err"
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print({k: round(v, 4) for k, v in r['metrics'].items() if 'Metrics' in k or 'success' in k}, 'len', r['mean_episode_length'])" "$out/eval_$t.json"
done

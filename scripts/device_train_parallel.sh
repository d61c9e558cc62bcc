#!/usr/bin/env bash
# On the GPU machine (after staging, ../shared/device/README.md): train every TASK at once on the one GPU
# (4096 worlds, default hyperparameters; the PPO update is launch-bound, so runs share the GPU well), then
# evaluate each final checkpoint over 1000 episodes. Wall times are measured while sharing the GPU.
# Usage: [SRC=path/to/src] bash scripts/device_train_parallel.sh TASK[:ITERATIONS]...
set -uo pipefail
src=${SRC:-$PWD/src}
export PYTHONPATH=/tmp/site:$src MENAGERIE_ROOT=/tmp/menagerie MUJOCO_GL=disable PYTHONUNBUFFERED=1
export WARP_CACHE_PATH=/tmp/warp-cache
out=${OUT:-/tmp/out}; mkdir -p "$out"
train_eval() {
  local t=${1%%:*} iters=${1#*:} start extra=(); start=$(date +%s)
  [ "$iters" != "$1" ] && extra=(--max-iterations "$iters")
  python -m roboforge train "$t" --device cuda --num-envs 4096 --run-dir /tmp/runs --quiet --json "${extra[@]}" \
    > "$out/train_$t.json" 2> "$out/train_$t.err"
  echo "$t: train exit $? in $(( $(date +%s) - start )) s" > "$out/time_$t.txt"
  local run; run=$(ls -d /tmp/runs/"$t"/*/ | tail -1)
  python -m roboforge eval "$t" --checkpoint "$run" --device cuda --num-envs 1024 --episodes 1000 --json \
    > "$out/eval_$t.json" 2> "$out/eval_$t.err"
  mkdir -p "$out/runs/$t"; cp "$run"/metrics.jsonl "$run"/summary.json "$out/runs/$t/" 2>/dev/null
}
python -c "import gymnasium, mujoco, mujoco_warp, rsl_rl, tensordict, roboforge.rl.session, roboforge.tasks" \
  || { echo "preflight failed: the staged packages cannot run roboforge (see the import error above)"; exit 1; }
for t in "$@"; do train_eval "$t" & done
wait
for t in "${@%%:*}"; do
  cat "$out/time_$t.txt"; tail -2 "$out/train_$t.err"
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print({k: round(v, 4) for k, v in r['metrics'].items() if 'Metrics' in k or 'success' in k}, 'len', r['mean_episode_length'])" "$out/eval_$t.json" || tail -5 "$out/eval_$t.err"
done

#!/usr/bin/env bash
# On the GPU machine (after staging, ../shared/device/README.md): time to policy. Trains TASK from the command
# on (start-up and kernel compilation included), notes when each checkpoint appears, then evaluates the named
# checkpoints on the GPU (1000 episodes). Everything else is the task's default (worlds, hyperparameters).
#   bash scripts/device_time_to_policy.sh TASK ITERATIONS CHECKPOINT_ITERATION... [-- TRAIN_OPTION...]
#   e.g. bash scripts/device_time_to_policy.sh reach-ur5e 400 299 349 399
set -uo pipefail
export PYTHONPATH=/tmp/site:$PWD/src MENAGERIE_ROOT=/tmp/menagerie MUJOCO_GL=disable PYTHONUNBUFFERED=1
export WARP_CACHE_PATH=/tmp/warp-cache
out=${OUT:-/tmp/out}; mkdir -p "$out"; dev=${DEVICE:-cuda}  # DEVICE=cpu tries the script here
task=$1 iterations=$2; shift 2
evals=(); while [ $# -gt 0 ] && [ "$1" != "--" ]; do evals+=("$1"); shift; done; [ "${1:-}" = "--" ] && shift
runs=/tmp/ttp_runs; rm -rf "$runs"
t0=$(date +%s)
python -m roboforge train "$task" --device "$dev" --max-iterations "$iterations" -o agent.save_interval=50 \
  --run-dir "$runs" --quiet "$@" > "$out/ttp_train.log" 2>&1 & pid=$!
seen=" "
while kill -0 "$pid" 2>/dev/null; do
  for f in "$runs"/"$task"/*/model_*.pt; do
    [ -e "$f" ] || continue; name=$(basename "$f")
    [[ $seen == *" $name "* ]] && continue
    seen+="$name "; echo "$name written $(( $(date +%s) - t0 )) s after the command" | tee -a "$out/ttp_times.txt"
  done
  sleep 1
done
wait "$pid"; echo "train exit $? after $(( $(date +%s) - t0 )) s" | tee -a "$out/ttp_times.txt"
tail -2 "$out/ttp_train.log"
run=$(ls -d "$runs"/"$task"/*/ | tail -1)
for i in "${evals[@]}"; do
  python -m roboforge eval "$task" --checkpoint "$run/model_$i.pt" --device "$dev" --num-envs 1024 --episodes 1000 \
    --json > "$out/ttp_eval_$i.json" 2> "$out/ttp_eval_$i.err"
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print('iteration', sys.argv[2], r['episodes'], 'episodes', {k: round(v, 4) for k, v in r['metrics'].items() if 'Metrics' in k}, 'len', round(r['mean_episode_length'], 1))" \
    "$out/ttp_eval_$i.json" "$i" || tail -3 "$out/ttp_eval_$i.err"
done

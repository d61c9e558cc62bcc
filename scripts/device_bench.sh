#!/usr/bin/env bash
# GPU measurements for the notes: run on the device machine after staging the wheels
# (../shared/device/README.md). Usage: bash scripts/device_bench.sh [TASK ...]  (default: cartpole)
set -uo pipefail
export PYTHONPATH=/tmp/site:$PWD/src MENAGERIE_ROOT=/tmp/menagerie MUJOCO_GL=disable PYTHONUNBUFFERED=1
export WARP_CACHE_PATH=/tmp/warp-cache
out=${OUT:-/tmp/out}; mkdir -p "$out"
tasks=("${@:-cartpole}")
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$out/gpu.txt"
for t in "${tasks[@]}"; do
  python -m roboforge bench "$t" --num-envs 4096 --device cuda --steps 500 --train-iterations 20 --json \
    > "$out/bench_$t.json" 2> "$out/bench_$t.err"; cat "$out/bench_$t.json"; tail -3 "$out/bench_$t.err"
  python -m roboforge bench "$t" --num-envs 4096 --device cuda --steps "${NOGRAPH_STEPS:-300}" --train-iterations 0 --json \
    -o env.sim.cuda_graph=false > "$out/bench_${t}_nograph.json" 2>> "$out/bench_$t.err"; cat "$out/bench_${t}_nograph.json"
done
[ "${TRAIN_CARTPOLE:-1}" = 1 ] || exit 0
python -m roboforge train cartpole --device cuda --num-envs 4096 --run-dir /tmp/runs --quiet --json \
  > "$out/train_cartpole.json" 2> "$out/train_cartpole.err"; tail -4 "$out/train_cartpole.err"
python -m roboforge eval cartpole --checkpoint "$(ls -d /tmp/runs/cartpole/*/ | tail -1)" --device cuda --json \
  > "$out/eval_cartpole.json" 2>> "$out/train_cartpole.err"; cat "$out/eval_cartpole.json" | head -8

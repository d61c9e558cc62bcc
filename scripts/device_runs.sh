#!/usr/bin/env bash
# On the GPU machine (after staging, ../shared/device/README.md): long training runs that outlive one
# device call. Runs are detached, so a call can start them and later calls poll them while the machine
# stays warm (keep a call in flight: an idle machine goes back after ~30 s).
#   SRC=path/to/src bash scripts/device_runs.sh start NAME=TASK[:ITERATIONS] [--library L] [-o override]... [NAME=...]
#     NAME=RUN_FOLDER[:ITERATIONS] resumes a run brought back from an earlier machine and carried in (its
#     checkpoint, env state and params/), e.g. rough=runs/carry/s38/rough/velocity-rough-go1/2026-12-04_15-50-42:1200
#   SRC=path/to/src bash scripts/device_runs.sh queue NAME=TASK[:ITERATIONS][@SECONDS] [options]... [NAME=...]
#     the same runs one after another, each alone on the GPU (sharing it gains nothing: each of three runs went
#     at a third of its speed), each stopped by SIGTERM after SECONDS if given (it checkpoints), then evaluated;
#     one `queue` and `status` calls back to back fill a session without a pause between runs
#   bash scripts/device_runs.sh status [SECONDS]   # wait, then print progress; metrics + checkpoints to $OUT
#   bash scripts/device_runs.sh evaluate [NAME...]  # eval each run's newest checkpoint on the GPU; trainings go on
#   bash scripts/device_runs.sh stop [NAME...]      # SIGTERM (the trainer checkpoints), then eval on the GPU
#   bash scripts/device_runs.sh keep_cache [NAME]   # the kernels compiled here to $OUT/warp-cache[-NAME].tgz (~10 MB a task;
#     over 15 MiB in parts: lift-soft-cube-panda's with the ant's and humanoid's came to 26.6 MB, 2026-12-07)
#   bash scripts/device_runs.sh unpack_cache        # unpack the kernel caches this call carries (start/queue do it too)
# A fresh machine compiles the kernels before the first iteration: ~2.5-5 min for a Panda task (2026-12-06, H100),
# ~5.5 min for lift-soft-cube-panda (flex kernels; 2026-12-07, H100).
# Bring the new kernels back once (keep_cache NAME), keep them as runs/carry/warp-cache-NAME.tgz (the Panda's are
# runs/carry/warp-cache.tgz) and carry them with the last staged part: start/queue unpack every one. A new
# session's checkout has no runs/: `scripts/carry.sh save` keeps the caches and the checkpoints of unfinished
# runs in git history, `scripts/carry.sh restore` brings them back. With the cache, a resumed stack run trained
# from ~20 s after its command (2026-12-06, H100; H100 and H200 are both sm_90).
# The machine goes back ~30 s after a call ends: make the next call at once (a start's call ends with a
# `status N` that fills it), or the runs are gone and the next status says so at once.
# Every run: 4096 worlds, MuJoCo Warp, the task's default hyperparameters unless overridden. On a machine
# with several GPUs, the k-th run of a `start` goes to GPU k mod (number of GPUs).
set -uo pipefail
root=/tmp/devruns
export PYTHONPATH=/tmp/site:$root/src MENAGERIE_ROOT=/tmp/menagerie MUJOCO_GL=disable PYTHONUNBUFFERED=1
export WARP_CACHE_PATH=/tmp/warp-cache
out=${OUT:-/tmp/out}
mkdir -p "$root/logs" "$out"

preflight() {  # a missing wheel fails here in seconds, not in every run after a wasted call
  (cd "$root" && python -c "import gymnasium, mujoco, mujoco_warp, rsl_rl, tensordict, roboforge.rl.session, roboforge.tasks") \
    || { echo "preflight failed: the staged packages cannot run roboforge (see the import error above)"; exit 1; }
}

start() { runs now "$@"; }
queue() { runs queued "$@"; }

runs() {  # `now`: every run at once, the k-th on GPU k mod (number of GPUs); `queued`: one after another
  local mode=$1; shift
  rm -rf "$root/src" && cp -r "${SRC:-$PWD/src}" "$root/src" && cp "$0" "$root/device_runs.sh"
  unpack_cache
  preflight
  local name="" args=() k=0 ngpu
  ngpu=$(nvidia-smi -L | wc -l); [ "$ngpu" -ge 1 ] || ngpu=1
  [ "$mode" = queued ] && : > "$root/queue.sh"
  launch() {
    [ -z "$name" ] && return
    local spec=${args[0]} budget="" extra=()
    [[ $spec == *@* ]] && budget=${spec##*@} && spec=${spec%@*}
    local task=${spec%%:*} iters=${spec#*:}
    [ "$iters" != "$spec" ] && extra=(--max-iterations "$iters")
    if [[ $task == */* ]]; then  # a run folder carried from an earlier machine: resume it
      [ -d "$task" ] || { echo "$name: no run folder $task (carry it; a new checkout: scripts/carry.sh restore)"; return; }
      local from=$task; task=$(basename "$(dirname "$from")")
      mkdir -p "$root/runs/$name/$task" && cp -r "$from" "$root/runs/$name/$task/" && extra+=(--resume)
    fi
    local train=(python -m roboforge train "$task" --device cuda --num-envs 4096 --run-dir "$root/runs/$name"
      --quiet --json "${extra[@]}" "${args[@]:1}")
    if [ "$mode" = queued ]; then
      local limit=(); [ -n "$budget" ] && limit=(timeout -s TERM "$budget")
      printf '%q ' "${limit[@]}" "${train[@]}" >> "$root/queue.sh"
      printf '> logs/%q.json 2> logs/%q.err < /dev/null & echo $! > logs/%q.pid; wait $!\n' "$name" "$name" "$name" >> "$root/queue.sh"
      printf 'OUT=/tmp/out bash device_runs.sh evaluate %q\n' "$name" >> "$root/queue.sh"
      echo "$name: $task ${args[*]:1} (queued${budget:+, at most $budget s})"
    else
      (cd "$root" || exit; CUDA_VISIBLE_DEVICES=$((k % ngpu)) setsid nohup "${train[@]}" \
        > "logs/$name.json" 2> "logs/$name.err" < /dev/null & echo $! > "logs/$name.pid")
      echo "$name: $task ${args[*]:1} (GPU $((k % ngpu)), pid $(cat "$root/logs/$name.pid"))"
    fi
    k=$((k + 1))
  }
  for a in "$@"; do
    if [[ $a == *=* && $a != *.*=* ]]; then launch; name=${a%%=*}; args=("${a#*=}"); else args+=("$a"); fi
  done
  launch
  [ "$mode" = queued ] || return 0
  (cd "$root" || exit; setsid nohup bash queue.sh > logs/queue.out 2> logs/queue.err < /dev/null & echo $! > logs/queue.pid)
  echo "queue: pid $(cat "$root/logs/queue.pid"); its runs start one after another"
}

status() {
  ls "$root"/logs/*.pid > /dev/null 2>&1 \
    || { echo "no runs on this machine: it is a fresh one (the last was released), so restage and start again"; exit 1; }
  sleep "${1:-0}"
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
  for f in "$root"/runs/*/*/*/metrics.jsonl; do
    [ -e "$f" ] || continue
    python3 - "$f" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
last = rows[-1]
keep = ("Metrics/", "Terrain/", "Curriculum/", "Episode_Reward/", "Episode/survived", "nan_resets", "sim_overflows", "Policy/mean_std", "Loss/value", "Loss/learning_rate", "Perf/total_fps")
print(sys.argv[1].split("/")[4], "it", last["iteration"],
      {k.split("/")[-1]: round(v, 3) for k, v in last.items() if k.startswith(keep)})
EOF
  done
  for n in "$root"/logs/*.pid; do
    [ -e "$n" ] || continue
    kill -0 "$(cat "$n")" 2>/dev/null || echo "$(basename "$n" .pid): stopped: $(tail -c 300 "${n%.pid}.err")"
  done
  [ -e "$root/queue.sh" ] && queue_progress
  snapshot
}

snapshot() {  # one tarball per run (the device returns at most 8 files of 16 MiB each): metrics, newest checkpoint, logs
  (cd "$root" && for r in runs/*/; do
    local n; n=$(basename "$r")
    find "$r" -name metrics.jsonl -o -name summary.json -o -name '*.json' -path '*params*' > "/tmp/devruns.$n.list"
    for d in "$r"*/*/; do m=$(ls -t "$d"model_* 2>/dev/null | head -1); [ -n "$m" ] && echo "$m" \
      && e=${m/model_/env_} && [ -e "$e" ] && echo "$e"; true; done >> "/tmp/devruns.$n.list"
    ls logs/"$n".* logs/eval_"$n"*.json logs/eval_"$n".err >> "/tmp/devruns.$n.list" 2>/dev/null
    tar -czf "$out/runs_$n.tgz" -T "/tmp/devruns.$n.list"
  done)
}

unpack_cache() {  # kernel caches carried in (runs/carry/warp-cache*.tgz, or one kept in parts), each once per machine
  local tgz key
  mkdir -p "$WARP_CACHE_PATH" "$root/unpacked"
  for tgz in runs/carry/warp-cache*.tgz runs/carry/warp-cache*.tgz.part-aa; do
    [ -f "$tgz" ] || continue
    tgz=${tgz%.part-aa} key=$(basename "${tgz%.part-aa}")
    [ -e "$root/unpacked/$key" ] && continue
    if [ -f "$tgz" ]; then cat "$tgz"; else cat "$tgz".part-*; fi | tar -xzf - -C "$(dirname "$WARP_CACHE_PATH")" \
      && touch "$root/unpacked/$key" && echo "kernel cache: unpacked $key"
  done
  [ -e "$root/cache.unpacked" ] || touch "$root/cache.unpacked"  # the machine's first unpack: what keep_cache keeps
  return 0  # is newer (tar gives unpacked files their archived times)
}

# keep_cache [NAME]: the kernels this machine compiled (not those unpacked) to $OUT/warp-cache[-NAME].tgz; the
# device returns files of at most 16 MiB, so a larger cache comes back in 15 MiB parts (.part-aa, .part-ab, ...)
# that unpack_cache joins; a call carries at most 64 MiB, so carry parts that do not fit beside .gpu/p4 in a
# call of their own before it: `bash scripts/device_runs.sh unpack_cache` there unpacks what it carries
keep_cache() {
  local tgz="$out/warp-cache${1:+-$1}.tgz" base newer=()
  base=$(basename "$WARP_CACHE_PATH")
  [ -e "$root/cache.unpacked" ] && newer=(-newer "$root/cache.unpacked")  # no start here yet: keep everything
  (cd "$(dirname "$WARP_CACHE_PATH")" && find "$base" -type f "${newer[@]}" | tar -czf "$tgz" -T -) || return 1
  if [ "$(stat -c %s "$tgz")" -gt $((15 * 1024 * 1024)) ]; then split -b 15M "$tgz" "$tgz.part-" && rm "$tgz"; fi
  ls -l "$tgz"*
}

queue_progress() {  # the last queue's runs only (a machine can hold runs of earlier queues and starts)
  local queued started=0 n
  queued=$(grep -o 'echo \$! > logs/[^ ]*\.pid' "$root/queue.sh" | sed 's|.*logs/||; s|\.pid$||')
  for n in $queued; do [ -e "$root/logs/$n.pid" ] && started=$((started + 1)); done
  echo "queue: $started of $(echo "$queued" | wc -w) runs started"
}

run_names() { (cd "$root/logs" && ls *.pid | grep -vx queue.pid | sed 's/\.pid$//'); }

stop() {  # SIGTERM (each trainer saves a checkpoint), then evaluate each run's last checkpoint; no queued run starts
  [ -e "$root/logs/queue.pid" ] && kill -TERM "$(cat "$root/logs/queue.pid")" 2>/dev/null
  local names=("$@")
  [ ${#names[@]} -eq 0 ] && names=($(run_names))
  for n in "${names[@]}"; do kill -TERM "$(cat "$root/logs/$n.pid")" 2>/dev/null; done
  for n in "${names[@]}"; do while kill -0 "$(cat "$root/logs/$n.pid")" 2>/dev/null; do sleep 1; done; done
  evaluate "${names[@]}"
}

evaluate() {  # evaluate each named run's newest checkpoint on the GPU (1000 episodes); running trainings go on
  local names=("$@")
  [ ${#names[@]} -eq 0 ] && names=($(run_names))
  for n in "${names[@]}"; do
    local run task; run=$(ls -d "$root"/runs/"$n"/*/*/ | tail -1); task=$(basename "$(dirname "$run")")
    (cd "$root" && python -m roboforge eval "$task" --checkpoint "$run" --device cuda --num-envs 1024 \
      --episodes 1000 --json > "logs/eval_$n.json" 2> "logs/eval_$n.err") &
  done
  wait
  for n in "${names[@]}"; do
    python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(sys.argv[2], r['checkpoint'].split('/')[-1], {k: round(v, 4) for k, v in r['metrics'].items() if k.startswith(('Metrics', 'Episode/', 'nan_'))})" \
      "$root/logs/eval_$n.json" "$n" 2>/dev/null || tail -3 "$root/logs/eval_$n.err"
    cp "$root/logs/eval_$n.json" "$root/logs/eval_${n}_$(date +%H%M%S).json" 2>/dev/null
  done
  snapshot
}

cmd=${1:-status}; shift || true
"$cmd" "$@"

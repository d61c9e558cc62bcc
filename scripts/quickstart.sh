#!/usr/bin/env bash
# One command from a fresh clone to a trained, evaluated and exported cart-pole policy (`make quickstart`):
# creates .venv, installs roboforge (the CPU build of torch unless there is a CUDA GPU; pip is skipped
# when the install is up to date), trains `cartpole` on the CPU, evaluates it, exports it to ONNX with
# a parity check and prints where the checkpoint, the policy and the training curves are.
#
# Usage: scripts/quickstart.sh [extra `roboforge train` options, e.g. --max-iterations 50 --seed 1]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup_env.sh

t_start=$SECONDS
step() { printf '\n== %s\n' "$*"; }
json_get() { # json_get FILE EXPR: print EXPR evaluated on the JSON object `d` in FILE
  python -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

step "install"
rf_install ""
rf_offline_models
rf_warp_cache
t_install=$((SECONDS - t_start))

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

step "train: roboforge train cartpole --device cpu${*:+ $*} (30-60 s on 2 idle cores)"
t0=$SECONDS
roboforge train cartpole --device cpu "$@" --json >"$out/train.json" ||
  rf_die "training failed (exit code $?); the error is printed above"
t_train=$((SECONDS - t0))
run_dir=$(json_get "$out/train.json" 'd["run_dir"]')
checkpoint=$(json_get "$out/train.json" 'd["checkpoint"] or ""')
[[ -n $checkpoint ]] || rf_die "training wrote no checkpoint (see $run_dir)"

step "evaluate: roboforge eval cartpole --checkpoint $checkpoint"
t0=$SECONDS
roboforge eval cartpole --checkpoint "$checkpoint" --device cpu --json >"$out/eval.json" ||
  rf_die "evaluation failed; the error is printed above"
t_eval=$((SECONDS - t0))
json_get "$out/eval.json" \
  '"%d episodes: mean return %.2f, mean episode length %.1f/%d" % (d["episodes"], d["mean_return"], d["mean_episode_length"], d["max_episode_length"])'

step "export: roboforge export cartpole --checkpoint $checkpoint --check"
t0=$SECONDS
roboforge export cartpole --checkpoint "$checkpoint" --check --json >"$out/export.json" ||
  rf_die "export failed; the error is printed above"
t_export=$((SECONDS - t0))
policy=$(json_get "$out/export.json" 'd["policy"]')
json_get "$out/export.json" \
  '"check passed: %d random observations, max |onnx - torch| %.1e" % (d["parity"]["samples"], d["parity"]["max_abs_error"])'

step "done in $((SECONDS - t_start)) s (install ${t_install} s, train ${t_train} s, eval ${t_eval} s, export ${t_export} s)"
cat <<EOF
run folder:       $run_dir
checkpoint:       $checkpoint
exported policy:  $policy (metadata: $(dirname "$policy")/policy.json)
curves:           $run_dir/metrics.jsonl (one JSON line per iteration)
                  tensorboard --logdir $run_dir   (event files in the run folder)

next, in the environment (. .venv/bin/activate):
  roboforge deploy $policy --episodes 100   # the exported policy in the torch-free runtime
EOF

#!/usr/bin/env bash
# What a GPU session brings back and a later session needs (the checkpoint of an unfinished run, MuJoCo Warp's
# kernel cache) under runs/carry/. A new session's checkout holds only what git holds, so these files must be
# committed; but tracked files travel with every device call, and the staged wheel parts (58 MiB each) leave no
# room for them under the 64 MiB a call carries. So they are kept in git's history, not in the tree:
#   scripts/carry.sh save PATH...  commit PATH (files or folders under runs/carry/), then remove them from the tree
#                                  again in a second commit; the files stay on disk (runs/ is git-ignored)
#   scripts/carry.sh restore       write the newest saved version of every runs/carry/ file back from history
#   scripts/carry.sh list          the saved files, newest first, with the commit that holds each
# Restored folders are carried to a device call like any other ignored path (run's carry argument).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
prefix=runs/carry

die() {
  echo "error: $*" >&2
  exit 1
}

saved() {  # "<commit> <path>" for every saved file, newest version of each path first
  git log --format=%H --diff-filter=A -- "$prefix" | while read -r c; do
    git ls-tree -r --name-only "$c" -- "$prefix" | sed "s|^|$c |"
  done | awk '!seen[$2]++'
}

save() {
  [ $# -gt 0 ] || die "name the files or folders under $prefix/ to save"
  local p
  for p in "$@"; do
    [[ $p == "$prefix"/* ]] || die "$p is not under $prefix/"
    [ -e "$p" ] || die "$p does not exist"
  done
  git diff --cached --quiet || die "the index holds staged changes: commit or unstage them first"
  git add -f -- "$@"
  git commit -q -m "carry: save $* (kept in history only; scripts/carry.sh restore)"
  git rm -r -q --cached -- "$@"
  git commit -q -m "carry: $* leave the tree again (scripts/carry.sh restore brings them back)"
  echo "saved $* in $(git rev-parse --short HEAD~1)"
}

restore() {
  local c p n=0
  while read -r c p; do
    [ -n "$p" ] || continue
    mkdir -p "$(dirname "$p")"
    git show "$c:$p" > "$p"
    n=$((n + 1))
  done < <(saved)
  echo "restored $n files under $prefix/"
}

list() { saved; }

cmd=${1:-list}
shift || true
case $cmd in
  save | restore | list) "$cmd" "$@" ;;
  *) die "unknown command '$cmd': save PATH..., restore or list" ;;
esac

# Shared by scripts/quickstart.sh and scripts/test.sh (source it from the repository root; bash, set -euo pipefail).
#
#   rf_install EXTRAS   .venv exists and holds `pip install -e ".[EXTRAS]"` of this pyproject.toml; pip runs
#                       only when pyproject.toml, constraints-cpu.txt, the torch build or EXTRAS changed
#                       (stamp file .venv/.roboforge-installed-<EXTRAS>). Activates the venv.
#   rf_offline_models   exports MENAGERIE_ROOT (bundled ../shared/menagerie) unless set; prints a hint when none
#   rf_warp_cache       exports WARP_CACHE_PATH=<repo>/.cache/warp unless set
#
# Environment: PYTHON (default python3, >= 3.10), ROBOFORGE_TORCH=cpu|cuda (default: cuda when nvidia-smi
# lists a GPU, else cpu: the CPU build of torch pinned by constraints-cpu.txt, no CUDA downloads).

RF_VENV=.venv

rf_die() {
  echo "error: $*" >&2
  exit 1
}

rf_torch_build() {
  case "${ROBOFORGE_TORCH:-auto}" in
    cpu | cuda) echo "$ROBOFORGE_TORCH" ;;
    auto)
      if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
        echo cuda
      else
        echo cpu
      fi
      ;;
    *) rf_die "ROBOFORGE_TORCH must be cpu, cuda or auto, got '$ROBOFORGE_TORCH'" ;;
  esac
}

rf_make_venv() {
  local py=${PYTHON:-python3}
  command -v "$py" >/dev/null 2>&1 || rf_die "$py not found: install Python >= 3.10 (Debian: apt-get install python3 python3-venv) or set PYTHON=/path/to/python3"
  "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
    rf_die "$("$py" --version 2>&1) is too old: roboforge needs Python >= 3.10 (set PYTHON=/path/to/python3.X)"
  echo "creating the virtual environment $RF_VENV ($("$py" --version 2>&1))"
  "$py" -m venv "$RF_VENV" ||
    rf_die "'$py -m venv' failed; on Debian/Ubuntu install the venv module: apt-get install python3-venv"
}

rf_install() {
  local extras=$1 build key stamp spec
  if [[ -e $RF_VENV && ! -x $RF_VENV/bin/python ]]; then
    rf_die "$RF_VENV exists but has no bin/python: remove it (rm -rf $RF_VENV) and run again"
  fi
  [[ -x $RF_VENV/bin/python ]] || rf_make_venv
  "$RF_VENV/bin/python" -c 'import sys' 2>/dev/null ||
    rf_die "$RF_VENV/bin/python does not run (made on another machine or Python was removed): rm -rf $RF_VENV and run again"
  build=$(rf_torch_build)
  key=$(cat pyproject.toml constraints-cpu.txt <(echo "torch=$build") <("$RF_VENV/bin/python" -V 2>&1) |
    sha256sum | cut -c1-16)
  stamp="$RF_VENV/.roboforge-installed-${extras:-base}"
  spec="."
  [[ -n $extras ]] && spec=".[$extras]"
  local -a stamps=("$stamp")
  # The base install is also there when some extras were installed from the same files.
  [[ -z $extras ]] && stamps+=("$RF_VENV"/.roboforge-installed-*)
  local current=0 f
  for f in "${stamps[@]}"; do
    if [[ -f $f && $(cat "$f") == "$key" ]]; then current=1; fi
  done
  if ((current)) && "$RF_VENV/bin/python" -c 'import roboforge' 2>/dev/null; then
    echo "install: up to date (-e \"$spec\" in $RF_VENV, torch for $build; pyproject.toml and constraints-cpu.txt unchanged), skipping pip"
  else
    local -a pin=()
    if [[ $build == cpu ]]; then
      pin=(-c constraints-cpu.txt)
      echo "install: no CUDA GPU found (or ROBOFORGE_TORCH=cpu): the CPU build of torch, pinned by constraints-cpu.txt"
    else
      echo "install: CUDA GPU found (or ROBOFORGE_TORCH=cuda): torch with CUDA from PyPI (several GB)"
    fi
    echo "install: pip install ${pin[*]} -e \"$spec\" into $RF_VENV (first time: a few minutes)"
    local t0=$SECONDS
    "$RF_VENV/bin/python" -m pip install -q "${pin[@]}" -e "$spec" ||
      rf_die "pip install failed (see above); fix the cause and run again (nothing is skipped until it succeeds)"
    echo "$key" >"$stamp"
    echo "install: done in $((SECONDS - t0)) s"
  fi
  # shellcheck disable=SC1091
  . "$RF_VENV/bin/activate"
}

rf_offline_models() {
  if [[ -z ${MENAGERIE_ROOT:-} ]]; then
    local d
    for d in ../shared/menagerie /work/shared/menagerie; do
      if [[ -d $d ]]; then
        MENAGERIE_ROOT=$(cd "$d" && pwd)
        export MENAGERIE_ROOT
        break
      fi
    done
  fi
  if [[ -n ${MENAGERIE_ROOT:-} ]]; then
    echo "offline robot models: MENAGERIE_ROOT=$MENAGERIE_ROOT"
  else
    echo "offline robot models: none found (cart-pole needs none); for Menagerie robots (Go1, G1, H1, Panda) without network, clone https://github.com/google-deepmind/mujoco_menagerie and set MENAGERIE_ROOT to it"
  fi
}

rf_warp_cache() {
  export WARP_CACHE_PATH="${WARP_CACHE_PATH:-$PWD/.cache/warp}"
}

#!/usr/bin/env bash
# The test run, exactly as CI does it (`make test`; `.ci/run` calls this script): the system packages the
# tests need, .venv with `-e ".[dev,postgres,skrl,rl-games,sb3,sweep,ray,plot,video]"`, offline robot models, `ruff check src tests`, `pytest`.
#
# Usage: scripts/test.sh [pytest arguments, e.g. tests/test_service_store.py -x]
# Environment: SKIP_SYSTEM_PACKAGES=1 never calls apt-get; see scripts/setup_env.sh for PYTHON and ROBOFORGE_TORCH.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup_env.sh

# ---- system packages: Debian's Chromium for the dashboard test, PostgreSQL for the database tests ---------
missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium chromium-driver)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
# off-screen OpenGL (EGL, Mesa's software renderer) for the rendering and video tests
ldconfig -p 2>/dev/null | grep -q "libEGL_mesa.so.0" || missing+=(libegl1 libegl-mesa0 libgl1-mesa-dri)
if [[ ! -x .venv/bin/python ]] && ! "${PYTHON:-python3}" -c 'import ensurepip' 2>/dev/null; then
  missing+=(python3-venv)
fi
if ((${#missing[@]})); then
  apt=()
  if [[ -n ${SKIP_SYSTEM_PACKAGES:-} ]] || ! command -v apt-get >/dev/null; then
    :
  elif [[ $(id -u) == 0 ]]; then
    apt=(env DEBIAN_FRONTEND=noninteractive)
  elif command -v sudo >/dev/null; then
    apt=(sudo env DEBIAN_FRONTEND=noninteractive)
  fi
  if ((${#apt[@]})); then
    echo "system packages: installing ${missing[*]}"
    if ! { "${apt[@]}" apt-get update -q && "${apt[@]}" apt-get install -y -q "${missing[@]}"; }; then
      echo "warning: apt-get install ${missing[*]} failed; the tests that need them skip (under CI they fail)" >&2
    fi
  else
    echo "warning: missing system packages: ${missing[*]} (Debian/Ubuntu: sudo apt-get install ${missing[*]});" \
      "the dashboard browser test and the PostgreSQL tests skip without them (under CI they fail)" >&2
  fi
fi

# ---- Python environment, models, caches --------------------------------------------------------------------
rf_install "dev,postgres,skrl,rl-games,sb3,sweep,ray,plot,video"
rf_offline_models
rf_warp_cache

# ---- lint and tests ----------------------------------------------------------------------------------------
echo "ruff check src tests"
ruff check src tests
# One pytest worker per core (pytest-xdist); a test file stays on one worker, so its module fixtures (one
# training run shared by several tests) are built once. Tests pick free ports and their own folders.
echo "pytest -n auto --dist loadfile $*"
pytest -n auto --dist loadfile "$@"

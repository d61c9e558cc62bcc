"""Test setup: kernel cache inside the checkout, offline Menagerie models, a PostgreSQL test server, small
shared fixtures."""

from __future__ import annotations

import ctypes.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("WARP_CACHE_PATH", str(ROOT / ".cache" / "warp"))
if not os.environ.get("DISPLAY") and ctypes.util.find_library("EGL"):  # as `import roboforge` does; MuJoCo
    os.environ.setdefault("MUJOCO_GL", "egl")  # is imported below, before roboforge
for candidate in (ROOT.parent / "shared" / "menagerie", Path("/work/shared/menagerie")):
    if "MENAGERIE_ROOT" not in os.environ and candidate.is_dir():
        os.environ["MENAGERIE_ROOT"] = str(candidate)
import mujoco  # noqa: E402
import torch  # noqa: E402
import warp  # noqa: E402

# MuJoCo Warp on the CPU: with a cold kernel cache (CI's clean clone) an mjwarp test mostly compiles kernels.
# Warp's default CPU flags raise LLVM's inlining thresholds (9000); with LLVM's own, the large modules
# (forward, collision, sensors) compile in ~35% less time. Optimization level 0 (Warp's CPU default is 2)
# halves it again: five mjwarp tests (soft cube, height field, kinova, rough Go1, Go1 contact parity) took
# 336 s at the default and 191 s at 0 on the 2-core machine with cold caches (2026-12-02), and the tests
# step too little for the slower kernels to show. Users' own runs keep Warp's defaults.
warp.config.cpu_compiler_flags = None  # "-march=native" with LLVM's default inlining (CPU kernels only)
warp.config.optimization_level = 0

import roboforge.tasks  # noqa: E402, F401  (registers the built-in tasks, as the rl/service/cli layers do)

# The policies under test are tiny MLPs: one torch thread is as fast as two here, and it keeps torch's
# OpenMP workers from fighting the MuJoCo rollout threads (or another process) for the 2 CI cores.
torch.set_num_threads(1)


def menagerie_has(robot: str) -> bool:
    """True if `robot` is in the offline Menagerie folder."""
    root = os.environ.get("MENAGERIE_ROOT")
    return bool(root) and (Path(root) / robot).is_dir()


requires_go1 = pytest.mark.skipif(
    not menagerie_has("unitree_go1"), reason="MENAGERIE_ROOT with unitree_go1 not found"
)

BACKENDS = ("mujoco", "mjwarp")


@pytest.fixture(scope="session")
def postgres_server():
    """One throwaway PostgreSQL server for the session (Debian's binaries, loopback, free port), stopped and
    deleted at the end, also when tests fail. Skips naming what is missing; fails instead under CI."""
    from pg_util import PostgresServer, pg_required, unavailable_reason

    reason = unavailable_reason()
    if reason is not None:
        if pg_required() and reason != "ROBOFORGE_TEST_POSTGRES=off":
            pytest.fail(f"PostgreSQL tests must run here (CI): {reason}", pytrace=False)
        pytest.skip(reason)
    server = PostgresServer()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def db_url(request) -> str | None:
    """The job database of a test: None (SQLite, the default file) unless parametrized with
    `pg_util.DATABASES`, whose "postgresql" case is a fresh database on the session's PostgreSQL server."""
    from pg_util import database_url

    return database_url(request, getattr(request, "param", "sqlite"))


@pytest.fixture
def cfg(tmp_path, db_url):
    """A job service's config (the service tests): SQLite in the data folder; tests marked @DATABASES run
    on PostgreSQL too. A test module may define its own `cfg`."""
    from roboforge.service.config import ServiceCfg

    return ServiceCfg(data_dir=tmp_path / "svc", db_url=db_url, allowed_hosts=("testserver",))


@pytest.fixture
def client(cfg):
    """An in-process client of a job service built from `cfg`, without its job runner."""
    from roboforge.service.app import create_app
    from service_util import TestClient

    with TestClient(create_app(cfg, start_runner=False)) as c:
        yield c


@pytest.fixture(autouse=True)
def _cwd_in_tmp(tmp_path, monkeypatch):
    """Run every test in its own folder, so MuJoCo's MUJOCO_LOG.TXT and default run folders stay out of the checkout."""
    monkeypatch.chdir(tmp_path)


def cartpole_motor_model() -> mujoco.MjModel:
    """The built-in cart-pole with a motor on the cart (no roboforge scene around it)."""
    from roboforge.assets.builtin.cartpole import cartpole_spec

    spec = cartpole_spec()
    act = spec.add_actuator(name="cart_motor", target="slider_to_cart", trntype=mujoco.mjtTrn.mjTRN_JOINT)
    act.set_to_motor()
    return spec.compile()


def make_task_env(task: str = "cartpole", num_envs: int = 4, backend: str = "mujoco", **cfg_kwargs):
    """A registered task's env with `num_envs` worlds on `backend` (CPU)."""
    from roboforge.envs import load_cfg, make_env

    cfg = load_cfg(task, num_envs=num_envs)
    cfg.sim.backend = backend
    for key, value in cfg_kwargs.items():
        setattr(cfg, key, value)
    return make_env(task, cfg)


def contacts_and_rows(env) -> tuple[int, int]:
    """The most contacts and constraint rows any world of a C MuJoCo env has now, as C MuJoCo counts them (the
    same way MuJoCo Warp does, which allocates `nconmax` and `njmax` per world and drops what does not fit)."""
    data = mujoco.MjData(env.sim.model)
    most = (0, 0)
    for world in range(env.num_envs):
        mujoco.mj_forward(env.sim.load_world(world, data), data)
        most = (max(most[0], data.ncon), max(most[1], data.nefc))
    return most


def all_worlds(n: int) -> torch.Tensor:
    return torch.ones(n, dtype=torch.bool)


def world_mask(*flags: bool) -> torch.Tensor:
    return torch.tensor(flags, dtype=torch.bool)


@pytest.fixture
def data_dir(tmp_path):
    """A job service's folder; every job process started in it is killed afterwards, even when the test fails."""
    from service_util import kill_job_processes

    path = tmp_path / "svc"
    try:
        yield path
    finally:
        kill_job_processes(path)

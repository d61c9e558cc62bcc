"""The job service with every RL library: `library` and `policy_type` checked against the task and the server,
each library's agent overrides bounded (and skrl's code-bearing fields refused), the library stored in the
database and in job.json (older ones read as rsl_rl), and real jobs of skrl, rl_games and sb3."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import inspect

from pg_util import DATABASE_KINDS, database_url
from roboforge.service import agents, records
from roboforge.service.app import create_app
from roboforge.service.config import ServiceCfg
from roboforge.service.estimate import estimate_hours
from roboforge.service.jobspec import train_command
from roboforge.service.store import Job, Store, add_missing_columns
from service_util import TINY, LiveServer, TestClient, kill_job_processes, wait_for, wait_status

SKRL_NET = {"name": "net", "input": "OBSERVATIONS", "layers": [32, 32], "activations": "elu"}
MISSING = [lib for lib in ("skrl", "rl_games", "sb3") if lib not in agents.installed_libraries()]
pytestmark = pytest.mark.skipif(
    bool(MISSING) and not os.environ.get("CI"),
    reason=f'{", ".join(MISSING)} not installed: pip install -e ".[all]" (under CI these tests fail instead)',
)


def post(client, **changes):
    return client.post("/reinforcement-learning", json={**TINY, "num_iterations": 3, **changes})


def refused(client, field: str, **changes) -> str:
    """The 422 message of a request, checked to name `field` in its `loc` and its message."""
    response = post(client, **changes)
    assert response.status_code == 422, response.text
    body = response.json()
    assert field in [".".join(str(p) for p in e["loc"][1:]) for e in body["detail"]], body
    assert body["message"].startswith(f"{field}: ") or f"; {field}: " in body["message"], body
    return body["message"]


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"library": "tianshou"}, "library", "'rsl_rl', 'skrl', 'rl_games' or 'sb3'"),
        ({"library": "rl_games", "policy_type": "SAC"}, "policy_type", "rl_games has no SAC; send library 'skrl' or 'sb3'"),
        ({"policy_type": "SAC"}, "policy_type", "rsl_rl has no SAC"),
        ({"policy_type": "A2C"}, "policy_type", "'PPO' or 'SAC'"),
        ({"task": "velocity-flat-go1", "library": "sb3"}, "library", "has no sb3 agent config; it has rsl_rl (PPO), skrl (PPO), rl_games (PPO)"),
        ({"task": "velocity-flat-go1", "library": "skrl", "policy_type": "SAC"}, "policy_type", "has no skrl SAC agent config; it has rsl_rl (PPO), skrl (PPO)"),
        ({"task": "cartpole-lstm", "library": "skrl"}, "library", "it has rsl_rl (PPO)."),
    ],
)  # fmt: skip
def test_library_and_policy_type_must_be_ones_the_task_has(client, change, field, says):
    assert says.replace(" in roboforge", "") in refused(client, field, **change).replace(" in roboforge", "")
    assert client.get("/jobs").json()["count"] == 0


def test_a_library_the_server_lacks_is_a_422_naming_the_extra(client, monkeypatch):
    real = agents.check_installed

    def without_sb3(library: str) -> None:
        if library == "sb3":
            real("no_such_library_xyz")  # the error check_installed raises for a missing package
        real(library)

    monkeypatch.setattr(agents, "check_installed", without_sb3)
    message = refused(client, "library", library="sb3", policy_type="SAC")
    assert 'not installed on this server (pip install -e ".[sb3]")' in message
    assert "installed: rsl_rl, skrl, rl_games." in message


@pytest.mark.parametrize(
    ("library", "key", "value"),
    [
        ("rsl_rl", "agent.algorithm.learning_rate", 1e-4),
        ("skrl", "agent.agent.learning_rate", 1e-4),
        ("rl_games", "agent.params.config.learning_rate", 1e-4),
        ("sb3", "agent.learning_rate", 1e-4),
    ],
)
def test_agent_overrides_are_checked_against_the_librarys_config(client, library, key, value):
    others = {"rsl_rl": "skrl", "skrl": "rsl_rl", "rl_games": "sb3", "sb3": "rl_games"}
    response = post(client, library=library, overrides={key: value})
    assert response.status_code == 202, response.text
    job = client.get(f"/jobs/{response.json()['job_id']}").json()
    assert (job["library"], job["policy_type"], job["overrides"]) == (library, "PPO", {key: value})
    message = refused(client, f"overrides.{key}", library=others[library], overrides={key: value})
    assert "Unknown field" in message


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"library": "skrl", "overrides": {"agent.agent.rollouts": 5000}}, "agent.agent.rollouts", "1..1024"),
        ({"library": "skrl", "num_envs": 65536, "overrides": {"agent.agent.rollouts": 100}}, "agent.agent.rollouts",
         "num_envs x rollouts is at most 4,194,304, got 65536 x 100"),
        ({"library": "skrl", "overrides": {"agent.agent.mini_batches": 10**5}}, "agent.agent.mini_batches", "1..4096"),
        ({"library": "skrl", "overrides": {"agent.trainer.timesteps": 10**13}}, "agent.trainer.timesteps", "1..1e+12"),
        ({"library": "skrl", "policy_type": "SAC", "overrides": {"agent.agent.gradient_steps": 1000}},
         "agent.agent.gradient_steps", "1..64"),
        ({"library": "skrl", "policy_type": "SAC", "num_envs": 65536, "overrides": {"agent.memory.memory_size": 2048}},
         "agent.memory.memory_size", "num_envs x memory_size is at most 67,108,864 transitions"),
        ({"library": "skrl", "overrides": {"agent.models.policy.network": [{**SKRL_NET, "layers": [64] * 9}]}},
         "agent.models.policy.network", "layers: at most 8 entries"),
        ({"library": "skrl", "overrides": {"agent.models.value.network": [{**SKRL_NET, "layers": [8192]}]}},
         "agent.models.value.network", "8192 is outside the allowed range 1..4096"),
        ({"library": "rl_games", "overrides": {"agent.params.config.horizon_length": 2048}},
         "agent.params.config.horizon_length", "1..1024"),
        ({"library": "rl_games", "num_envs": 65536, "overrides": {"agent.params.config.horizon_length": 128}},
         "agent.params.config.horizon_length", "num_envs x horizon_length is at most 4,194,304"),
        ({"library": "rl_games", "overrides": {"agent.params.config.mini_epochs": 500}}, "agent.params.config.mini_epochs", "1..100"),
        ({"library": "rl_games", "overrides": {"agent.params.network.mlp.units": [64] * 9}},
         "agent.params.network.mlp.units", "at most 8 entries"),
        ({"library": "sb3", "overrides": {"agent.n_steps": 100_000}}, "agent.n_steps", "1..8192"),
        ({"library": "sb3", "num_envs": 65536, "overrides": {"agent.n_steps": 1024}}, "agent.n_steps",
         "num_envs x n_steps is at most 4,194,304"),
        ({"library": "sb3", "overrides": {"agent.n_epochs": 1000}}, "agent.n_epochs", "1..100"),
        ({"library": "sb3", "num_envs": 1, "overrides": {"agent.n_steps": 1}}, "agent.n_steps",
         "n_steps * num_envs must be >= 2, got 1 * 1"),
        ({"num_envs": 16, "overrides": {"agent.algorithm.num_mini_batches": 1000}}, "agent.algorithm.num_mini_batches",
         "1000 mini-batches of one rollout of 256 samples (num_envs 16 x num_steps_per_env 16) would leave some empty"),
        ({"library": "skrl", "num_envs": 16, "overrides": {"agent.agent.mini_batches": 1000}}, "agent.agent.mini_batches",
         "give at most 256"),
        ({"library": "rl_games", "num_envs": 16, "overrides": {"agent.params.config.minibatch_size": 100}},
         "agent.params.config.minibatch_size", "a mini-batch of 100 samples does not split the rollout of 256"),
        ({"library": "sb3", "policy_type": "SAC", "overrides": {"agent.buffer_size": 10**9}}, "agent.buffer_size",
         "outside the allowed range"),
        ({"library": "sb3", "overrides": {"agent.policy_kwargs.net_arch": {"pi": [64] * 9, "vf": [64]}}},
         "agent.policy_kwargs.net_arch", "pi: at most 8 entries"),
        ({"library": "sb3", "overrides": {"agent.policy_kwargs.net_arch": {"pi": [64], "qf": [64]}}},
         "agent.policy_kwargs.net_arch", "a mapping needs exactly the keys pi and vf"),
    ],
)  # fmt: skip
def test_each_librarys_sizes_are_bounded(client, change, field, says):
    assert says in refused(client, f"overrides.{field}", **change)


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("agent.agent.state_preprocessor", "__import__('os').system('id')", "use 'RunningStandardScaler', null"),
        ("agent.agent.learning_rate_scheduler", "exec", "use 'KLAdaptiveLR', null"),
        ("agent.agent.learning_rate_scheduler_kwargs", {"value_preprocessor": "print(1)"}, "is not allowed here"),
        ("agent.models.policy.network", [{**SKRL_NET, "input": "__import__('os')"}], "only concatenate, permute"),
        ("agent.models.policy.network", [{**SKRL_NET, "input": "OBSERVATIONS.__class__"}], "Attribute is not allowed"),
        ("agent.models.policy.network", [{**SKRL_NET, "layers": [64, "x()"]}],
         "a list of layer sizes"),
        ("agent.models.policy.network", [{**SKRL_NET, "activations": "nn.ReLU(); import os"}], "is not one of elu"),
        ("agent.models.policy.network", [{**SKRL_NET, "name": "x = 1; net"}], "not a plain identifier"),
        ("agent.models.policy.output", "ACTIONS if __builtins__ else ONE", "IfExp is not allowed"),
    ],
)  # fmt: skip
def test_skrl_fields_that_skrl_runs_as_code_take_plain_values_only(client, key, value, says):
    assert says in refused(client, f"overrides.{key}", library="skrl", overrides={key: value})


def test_plain_skrl_networks_and_names_are_accepted(client):
    network = [{**SKRL_NET, "name": "trunk"}, {**SKRL_NET, "name": "head", "input": "tanh(trunk) * 0.5"}]
    overrides = {"agent.models.policy.network": network, "agent.models.policy.output": "tanh(ACTIONS)",
                 "agent.agent.state_preprocessor": "RunningStandardScaler"}  # fmt: skip
    assert post(client, library="skrl", overrides=overrides).status_code == 202
    name = {"agent.params.config.name": "../../elsewhere"}
    assert "not a plain name" in refused(
        client, "overrides.agent.params.config.name", library="rl_games", overrides=name
    )


def test_tasks_list_libraries_with_their_iterations_and_jobs_show_theirs(client):
    body = client.get("/tasks").json()
    assert body["installed_libraries"] == ["rsl_rl", "skrl", "rl_games", "sb3"]
    tasks = {t["id"]: t for t in body["tasks"]}
    cartpole = {lib: {a["policy_type"]: a["default_num_iterations"] for a in algos}
                for lib, algos in tasks["cartpole"]["libraries"].items()}  # fmt: skip
    assert set(cartpole) == {"rsl_rl", "skrl", "rl_games", "sb3"}
    assert set(cartpole["skrl"]) == set(cartpole["sb3"]) == {"PPO", "SAC"} and set(cartpole["rl_games"]) == {
        "PPO"
    }
    assert cartpole["rsl_rl"]["PPO"] == tasks["cartpole"]["default_num_iterations"] == 150
    assert all(n is not None and n > 0 for types in cartpole.values() for n in types.values())
    assert set(tasks["velocity-flat-go1"]["libraries"]) == {"rsl_rl", "skrl", "rl_games"}
    started = post(client, library="sb3", policy_type="SAC").json()
    job = client.get(f"/jobs/{started['job_id']}").json()
    assert (job["library"], job["policy_type"]) == ("sb3", "SAC")
    listed = client.get("/jobs").json()["jobs"][0]
    assert (listed["library"], listed["policy_type"]) == ("sb3", "SAC")
    page = client.get("/").text
    assert 'id="f-library"' in page and "algorithm(job)" in page


def test_iteration_plans_agree_with_the_learners():
    """The service's steps per iteration and iterations, read from configs alone, are the learners' own."""
    from roboforge.rl.session import build_session

    cases = [("rsl_rl", "PPO", {}), ("skrl", "PPO", {"agent.agent.rollouts": 8}), ("skrl", "SAC", {}),
             ("rl_games", "PPO", {}), ("sb3", "PPO", {}), ("sb3", "SAC", {"agent.train_freq": 3})]  # fmt: skip
    for library, policy_type, overrides in cases:
        agent_overrides = {k.removeprefix("agent."): v for k, v in overrides.items()}
        s = build_session("cartpole", num_envs=4, device="cpu", library=library,
                          algorithm=policy_type.lower(), agent_overrides=agent_overrides)  # fmt: skip
        try:
            plan = agents.iteration_plan(library, policy_type, s.agent_cfg, 4)
            learner = (s.learner.steps_per_iteration, s.learner.max_iterations)
            assert (plan.steps_per_iteration, plan.max_iterations) == learner, (library, policy_type)
        finally:
            close = getattr(s.env, "close", None)
            if close is not None:
                close()


def test_train_command_names_the_library_and_old_jobs_are_rsl_rl(tmp_path):
    job = Job(id="j", task="cartpole", library="skrl", policy_type="SAC", num_iterations=3, num_envs=8,
              job_dir=str(tmp_path), overrides={}, seed=None, device="cpu")  # fmt: skip
    cmd = train_command(job, None)
    assert cmd[cmd.index("train") + 1 :][:5] == ["cartpole", "--library", "skrl", "--algorithm", "sac"]
    resumed = train_command(job, tmp_path / "run")
    assert (
        "--resume" in resumed and resumed[resumed.index("--library") + 1] == "skrl"
    )  # train checks it is the run's
    old = Job(id="j", task="cartpole", policy_type="PPO", num_iterations=3, num_envs=8, job_dir=str(tmp_path),
              overrides={}, seed=None, device="cpu")  # fmt: skip
    assert " --library rsl_rl --algorithm ppo " in " ".join(train_command(old, None))


@pytest.fixture(params=DATABASE_KINDS)
def db(request, tmp_path) -> str:
    """A database URL: SQLite in tmp_path, and PostgreSQL (a fresh database on the test server)."""
    return database_url(request, request.param) or f"sqlite:///{tmp_path / 'jobs.db'}"


def old_job(job_dir: Path) -> Job:
    return Job(id=job_dir.name, task="cartpole", policy_type="PPO", num_iterations=5, num_envs=16, seed=None,
               device="cpu", overrides={}, job_dir=str(job_dir), iteration=0, attempt=0, resume_requested=False,
               cancel_requested=False)  # fmt: skip


def test_a_database_from_before_libraries_gets_the_column_and_keeps_its_jobs(db, tmp_path):
    store = Store(db)
    store.create(old_job(tmp_path / "rl_cartpole_0001"))
    store.transition("rl_cartpole_0001", ["queued"], "succeeded", s_per_iteration=0.5)
    with store.engine.begin() as conn:  # the table as the version before this one made it
        conn.exec_driver_sql("ALTER TABLE jobs DROP COLUMN library")
    assert "library" not in {c["name"] for c in inspect(store.engine).get_columns("jobs")}
    store.close()

    upgraded = Store(db)  # what `roboforge serve` does on start
    try:
        job = upgraded.get("rl_cartpole_0001")
        assert job is not None and (job.library, job.policy_type, job.status) == (
            "rsl_rl",
            "PPO",
            "succeeded",
        )
        assert upgraded.recent_rates("cartpole", "cpu") == [
            (0.5, 16)
        ]  # an old job's speed is an rsl_rl PPO one
        assert upgraded.recent_rates("cartpole", "cpu", "skrl", "PPO") == []
        assert add_missing_columns(upgraded.engine) == []  # a second start (or a second service) adds nothing
        newer = old_job(tmp_path / "rl_cartpole_0002")
        newer.library, newer.policy_type = "skrl", "SAC"
        upgraded.create(newer)
        assert [(j.id, j.library) for j in upgraded.list()] == [
            ("rl_cartpole_0002", "skrl"),
            ("rl_cartpole_0001", "rsl_rl"),
        ]
    finally:
        upgraded.close()


def test_a_job_json_from_before_libraries_is_restored_as_rsl_rl(tmp_path):
    cfg = ServiceCfg(data_dir=tmp_path / "svc", allowed_hosts=("testserver",), poll_interval_s=0.2)
    job_dir = cfg.jobs_dir / "rl_cartpole_00000001"
    record = records.record_of(old_job(job_dir))
    record.update(format=1, status="cancelled", created_at="2026-01-01T00:00:00+00:00")
    del record["library"]  # job.json as the version before this one wrote it
    job_dir.mkdir(parents=True)
    (job_dir / records.RECORD_NAME).write_text(json.dumps(record))
    read = records.read_record(job_dir)
    assert read is not None and read.library == "rsl_rl"

    with TestClient(create_app(cfg)) as client:  # its runner restores jobs the database lacks
        listed = client.get("/jobs").json()["jobs"]
        assert [(j["id"], j["library"], j["policy_type"], j["status"]) for j in listed] == [
            ("rl_cartpole_00000001", "rsl_rl", "PPO", "cancelled")
        ]
        restored = client.app.state.ctx.store.get("rl_cartpole_00000001")
    assert restored is not None
    records.write_record(restored)  # the next state change writes the record in this version's layout
    rewritten = json.loads((job_dir / records.RECORD_NAME).read_text())
    assert (rewritten["format"], rewritten["library"]) == (records.FORMAT, "rsl_rl")


def test_the_estimate_uses_the_librarys_steps_and_its_own_speed(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'jobs.db'}")
    try:
        job = old_job(tmp_path / "rl_cartpole_0001")
        job.library, job.num_envs, job.num_iterations = "skrl", 1024, 150
        short, long = estimate_hours(store, job, 16), estimate_hours(store, job, 64)
        assert 0 < short < long  # before any job ran: the table, with the config's steps per iteration
        done = old_job(tmp_path / "rl_cartpole_0002")
        done.num_envs = 1024
        store.create(done)  # an rsl_rl PPO job measured at 10 s per iteration ...
        store.transition(done.id, ["queued"], "succeeded", s_per_iteration=10.0)
        assert estimate_hours(store, job, 16) == short  # ... says nothing about skrl's speed
        job.library = "rsl_rl"
        assert estimate_hours(store, job, 16) == round((10 + 10.0 * 150) / 3600, 4)
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_skrl_rl_games_and_sb3_jobs_train_and_export_through_the_real_service(tmp_path):
    """`roboforge serve` as a process: an skrl PPO, an sb3 SAC and an rl_games PPO job of 2 iterations each
    succeed, keep their checkpoints (`.pt`, `.zip`, `.pth`) and are exported after success (the skrl one
    again on demand)."""
    data_dir = tmp_path / "svc"
    jobs = {("skrl", "PPO"): ".pt", ("sb3", "SAC"): ".zip", ("rl_games", "PPO"): ".pth"}
    try:
        with LiveServer(data_dir, max_concurrent=2).running() as server, server.client() as api:
            ids = {}
            for (library, policy_type), suffix in jobs.items():
                body = {
                    **TINY,
                    "num_iterations": 2,
                    "num_envs": 16,
                    "library": library,
                    "policy_type": policy_type,
                }
                response = api.post("/reinforcement-learning", json=body)
                assert response.status_code == 202, response.text
                ids[response.json()["job_id"]] = (library, policy_type, suffix)
            for job_id, (library, policy_type, suffix) in ids.items():
                job = wait_status(api, job_id, ("succeeded", "failed"), timeout=180)
                assert job["status"] == "succeeded", api.get(f"/logs/{job_id}.log").text[-3000:]
                assert (job["library"], job["policy_type"], job["iteration"]) == (library, policy_type, 2)
                log = api.get(f"/logs/{job_id}.log").text
                assert f"train cartpole --library {library} --algorithm {policy_type.lower()}" in log
                arts = api.get(f"/jobs/{job_id}/artifacts").json()["artifacts"]
                checkpoints = [a["path"].rsplit("/", 1)[-1] for a in arts if a["kind"] == "checkpoint"]
                assert checkpoints and checkpoints[-1] == f"model_1{suffix}", checkpoints
                event = wait_for(lambda j=job_id: export_event(api, j), 120, f"the export of {library}")
                assert event.startswith("export 1 succeeded") and ".onnx" in event, event
            job_id = next(iter(ids))  # on demand, too (one library: each export is a process of its own)
            assert api.post(f"/jobs/{job_id}/export").status_code == 202
            again = wait_for(lambda: export_event(api, job_id, 2), 120, "the second export")
            assert again.startswith("export 2 succeeded"), again
    finally:
        kill_job_processes(data_dir)


def export_event(api, job_id: str, number: int = 1) -> str:
    """The message of export `number`'s outcome event, once there is one ('' before)."""
    for event in api.get(f"/jobs/{job_id}").json()["events"]:
        message = event["message"]
        if message.startswith(f"export {number} ") and not message.startswith(f"export {number} started"):
            return message
    return ""

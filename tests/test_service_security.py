"""Limits and hardening of the job service (issue 12): bounded overrides, bodies and queue; Host, Origin and
Content-Type checks; no 500 for odd numbers; symlinks; OpenAPI error answers; links; token handling; page
headers; slow clients against a live `roboforge serve`."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest

from roboforge.service.app import create_app
from roboforge.service.config import TOKEN_ENV, ServiceCfg
from roboforge.service.jobspec import job_env
from service_util import JOB_ENV, TINY, TestClient, free_port, wait_for

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def cfg(tmp_path) -> ServiceCfg:
    return ServiceCfg(data_dir=tmp_path / "svc", allowed_hosts=("testserver",), max_queued=3)


@pytest.fixture
def client(cfg):
    with TestClient(create_app(cfg, start_runner=False)) as c:
        yield c


def post_job(client, headers=None, **changes) -> httpx.Response:
    return client.post(
        "/reinforcement-learning", json={**TINY, "num_iterations": 3, **changes}, headers=headers
    )


def fields(response: httpx.Response) -> list[str]:
    return [".".join(str(p) for p in e["loc"][1:]) for e in response.json()["detail"]]


@pytest.mark.parametrize(
    ("overrides", "field", "says"),
    [
        ({"env.scene.num_envs": 10_000_000}, "env.scene.num_envs", "1..65536"),
        ({"agent.num_steps_per_env": 100_000}, "agent.num_steps_per_env", "1..1024"),
        ({"agent.max_iterations": 10**7}, "agent.max_iterations", "1..1e+06"),
        ({"agent.save_interval": 10**7}, "agent.save_interval", "1..1e+06"),
        ({"agent.actor.hidden_dims": [100_000]}, "agent.actor.hidden_dims", "1..4096"),
        ({"agent.critic.hidden_dims": [8] * 9}, "agent.critic.hidden_dims", "at most 8 entries"),
        ({"agent.actor.rnn_hidden_dim": 10**5}, "agent.actor.rnn_hidden_dim", "1..4096"),
        ({"agent.algorithm.num_learning_epochs": 10**4}, "agent.algorithm.num_learning_epochs", "1..100"),
        ({"agent.algorithm.num_mini_batches": 10**5}, "agent.algorithm.num_mini_batches", "1..4096"),
        ({"env.episode_length_s": 1e9}, "env.episode_length_s", "..3600"),
        ({"env.episode_length_s": 0}, "env.episode_length_s", "..3600"),
        ({"env.decimation": 10**6}, "env.decimation", "1..100"),
        ({"env.sim.timestep": 10}, "env.sim.timestep", "1e-05..0.1"),
        ({"env.sim.njmax": 10**7}, "env.sim.njmax", "1..16384"),
        (
            {"env.observations.policy.terms.joint_pos.history_length": 10**4},
            "env.observations.policy.terms.joint_pos.history_length",
            "0..64",
        ),
        ({"env.rewards.pole_pos.params.target": 10**9}, "env.rewards.pole_pos.params.target", "1,000,000"),
        (
            {"env.rewards.pole_pos.params": {"target": 0.0, "joint_names": ["cart_to_pole"], "n": [10**9]}},
            "env.rewards.pole_pos.params",
            "n: integers",
        ),
        (
            {"env.scene.num_envs": 65536, "agent.num_steps_per_env": 1024},
            "agent.num_steps_per_env",
            "4,194,304",
        ),
    ],
)
def test_overrides_that_set_sizes_or_rates_are_bounded(client, overrides, field, says):
    response = post_job(client, overrides=overrides)
    assert response.status_code == 422, response.text
    assert f"overrides.{field}" in fields(response)
    assert says in response.json()["message"]
    assert client.get("/jobs").json()["count"] == 0


def test_terrain_and_scan_sizes_are_bounded(client):
    big = {"env.scene.terrain.generator.num_rows": 100, "env.scene.terrain.generator.num_cols": 100}
    response = post_job(client, task="velocity-rough-go1", overrides=big)
    assert response.status_code == 422, response.text
    assert "height samples" in response.json()["message"]
    assert "overrides.env.scene.terrain.generator" in fields(response)
    scan = {"env.observations.policy.terms.height_scan.params": {"size": [10, 10], "resolution": 0.05}}
    response = post_job(client, task="velocity-rough-go1", overrides=scan)
    assert response.status_code == 422 and "40,401 rays" in response.json()["message"], response.text
    ok = post_job(client, task="velocity-rough-go1", overrides={"env.scene.terrain.generator.num_rows": 5})
    assert ok.status_code == 202, ok.text


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"env.episode_length_s.x": 1}, "not a config with fields"),
        ({"env.observations.policy.terms.joint_pos.clip.0": 1}, "not a config with fields"),
        ({f"env.k{i}": 1 for i in range(65)}, "64"),
        ({"env." + "a" * 200: 1}, "128"),
        ({"env.episode_length_s": "x" * 5000}, "1024 characters"),
        ({"env.rewards.pole_pos.params": {"a": {"b": {"c": {"d": {"e": 1}}}}}}, "nest at most 4"),
    ],
)
def test_override_payload_is_bounded_and_checked(client, overrides, says):
    response = post_job(client, overrides=overrides)
    assert response.status_code == 422, response.text[:500]
    assert "overrides" in response.json()["message"] and says in response.json()["message"]
    assert len(response.content) < 4000  # the answer does not echo the payload


def test_request_body_is_bounded_also_when_chunked(client):
    big = json.dumps({**TINY, "num_iterations": 3, "overrides": {"env.x": "y" * 100_000}}).encode()
    response = client.post("/reinforcement-learning", content=big, headers=JSON)
    assert response.status_code == 413 and "64 KiB" in response.json()["detail"]

    def chunks():
        for i in range(0, len(big), 4096):
            yield big[i : i + 4096]

    chunked = client.post("/reinforcement-learning", content=chunks(), headers=JSON)
    assert chunked.status_code == 413 and "65536 bytes" in chunked.json()["detail"]
    assert client.get("/jobs").json()["count"] == 0


def test_queue_is_bounded(client):
    ids = [post_job(client).json()["job_id"] for _ in range(3)]
    full = post_job(client)
    assert full.status_code == 429 and "--max-queued 3" in full.json()["detail"]
    assert full.headers["retry-after"]
    assert client.post(f"/jobs/{ids[0]}/cancel").status_code == 202
    assert post_job(client).status_code == 202  # a free slot again
    resumed = client.post(f"/jobs/{ids[0]}/resume")
    assert resumed.status_code == 429 and "queued" in resumed.json()["detail"]
    with pytest.raises(ValueError, match="max_queued"):
        ServiceCfg(max_queued=0)


def test_only_configured_host_names_are_answered(tmp_path):
    cfg = ServiceCfg(data_dir=tmp_path / "svc", port=8123)
    with TestClient(create_app(cfg, start_runner=False), base_url="http://localhost:8123") as c:
        assert c.get("/health").status_code == 200
        for host in ("127.0.0.1:8123", "[::1]:8123", "LOCALHOST"):
            assert c.get("/tasks", headers={"Host": host}).status_code == 200, host
        for host in ("rebind.attacker.example", "rebind.attacker.example:8123", "testserver", ""):
            response = post_job(c, headers={"Host": host})
            assert response.status_code == 400, host
            detail = response.json()["detail"]
            assert "does not answer to host" in detail and "--allowed-hosts" in detail
        assert c.get("/jobs").json()["count"] == 0
    extra = ServiceCfg(data_dir=tmp_path / "svc2", allowed_hosts=("jobs.lab.example",))
    with TestClient(create_app(extra, start_runner=False), base_url="http://jobs.lab.example") as c:
        assert c.get("/tasks").status_code == 200


def test_cross_site_and_non_json_posts_are_refused(client):
    job_id = post_job(client).json()["job_id"]
    evil = {"Origin": "http://rebind.attacker.example"}
    assert post_job(client, headers=evil).status_code == 403
    refused = client.post(f"/jobs/{job_id}/cancel", headers=evil)
    assert refused.status_code == 403 and "Cross-site" in refused.json()["detail"]
    assert client.post(f"/jobs/{job_id}/cancel", headers={"Origin": "null"}).status_code == 403
    referer = {"Referer": "https://attacker.example/page.html"}
    assert client.post(f"/jobs/{job_id}/cancel", headers=referer).status_code == 403
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert client.post(f"/jobs/{job_id}/cancel", content=b"force=true", headers=form).status_code == 415
    assert client.post(f"/jobs/{job_id}/cancel", headers=form).status_code == 415  # an empty form post too
    text = client.post(
        "/reinforcement-learning", content=json.dumps(TINY), headers={"Content-Type": "text/plain"}
    )
    assert text.status_code == 415 and "application/json" in text.json()["detail"]
    assert client.get(f"/jobs/{job_id}").json()["status"] == "queued"  # nothing got through
    same = client.post(f"/jobs/{job_id}/cancel", headers={"Origin": "http://testserver"})
    assert same.status_code == 202  # the dashboard's own origin


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"task": "cartpole", "num_iterations": 1e400}', "num_iterations"),
        ('{"task": "cartpole", "num_iterations": 3, "num_envs": NaN}', "num_envs"),
        (
            '{"task": "cartpole", "num_iterations": 3, "overrides": {"env.episode_length_s": -Infinity}}',
            "overrides.env.episode_length_s",
        ),
        (
            '{"task": "cartpole", "num_iterations": 3, "overrides": {"agent.actor.hidden_dims": [8, 1e999]}}',
            "overrides.agent.actor.hidden_dims.1",
        ),
        ('{"task": "cartpole", "num_iterations": 1' + "0" * 5000 + "}", "num_iterations"),
        ("[" * 5000 + "]" * 5000, "body"),
        ('{"task": "cartpole", "num_iterations": 3', "body"),
        (b'{"task": "\xff"}', "body"),
    ],
)
def test_odd_numbers_and_bodies_are_422_not_500(client, raw, field):
    response = client.post("/reinforcement-learning", content=raw, headers=JSON)
    assert response.status_code == 422, response.text[:300]
    body = response.json()
    assert field in [".".join(str(p) for p in e["loc"][1:]) or "body" for e in body["detail"]], body
    assert client.post("/jobs/x/resume", content=raw, headers=JSON).status_code == 422


def test_query_numbers_are_bounded(client):
    for path in (
        "/jobs?offset=9223372036854775808",
        "/jobs?offset=1000000001",
        "/jobs/x/metrics?since=10000000000",
    ):
        response = client.get(path)
        assert response.status_code == 422, path
    assert client.get("/jobs?offset=1000000000").status_code == 200


def test_validation_errors_do_not_echo_the_whole_input(client):
    response = post_job(client, junk="z" * 5000, overrides={"env.nope": "q" * 900})
    assert response.status_code == 422
    assert len(response.content) < 2000
    for error in response.json()["detail"]:
        assert len(json.dumps(error["input"])) <= 210


def test_no_file_is_read_through_a_symlink_out_of_the_job_folder(client, cfg, tmp_path):
    job_id = post_job(client).json()["job_id"]
    job_dir = cfg.jobs_dir / job_id
    secret = tmp_path / "outside"
    (secret / "params").mkdir(parents=True)
    (secret / "metrics.jsonl").write_text('{"iteration": 0, "Train/secret": 42.0}\n')
    (secret / "model_1.pt").write_bytes(b"SECRET")
    (secret / "job.log").write_text("SECRET LOG\n")
    (job_dir / "cartpole").mkdir()
    (job_dir / "cartpole" / "2026-01-01_00-00-00").symlink_to(secret, target_is_directory=True)
    (job_dir / "job.log").unlink()
    (job_dir / "job.log").symlink_to(secret / "job.log")
    log = client.get(f"/logs/{job_id}.log")
    assert log.status_code == 404 and "SECRET" not in log.text
    with client.stream("GET", f"/logs/{job_id}.log", params={"follow": True}) as stream:
        assert stream.status_code == 404
    metrics = client.get(f"/jobs/{job_id}/metrics").json()
    assert metrics["iterations"] == [] and "Train/secret" not in metrics["series"]
    listed = [a["path"] for a in client.get(f"/jobs/{job_id}/artifacts").json()["artifacts"]]
    assert not any("2026-01-01" in p for p in listed) and "job.log" not in listed
    download = client.get(f"/jobs/{job_id}/artifacts/cartpole/2026-01-01_00-00-00/model_1.pt")
    assert download.status_code == 404 and b"SECRET" not in download.content


def test_openapi_documents_every_error_answer(client):
    schema = client.get("/openapi.json").json()
    expected = {
        ("post", "/reinforcement-learning"): {400, 403, 413, 415, 422, 429},
        ("post", "/jobs/{job_id}/cancel"): {400, 403, 404, 409, 413, 415, 422},
        ("post", "/jobs/{job_id}/resume"): {400, 403, 404, 409, 413, 415, 422, 429},
        ("get", "/jobs"): {400, 422},
        ("get", "/jobs/{job_id}"): {400, 404, 422},
        ("get", "/logs/{log_name}"): {400, 404, 422},
        ("get", "/jobs/{job_id}/metrics"): {400, 404, 422},
        ("get", "/jobs/{job_id}/artifacts"): {400, 404, 422},
        ("get", "/jobs/{job_id}/artifacts/{name}"): {400, 404, 422},
        ("get", "/tasks"): {400},
        ("get", "/health"): {400, 503},
    }
    for (method, path), codes in expected.items():
        responses = schema["paths"][path][method]["responses"]
        assert codes <= {int(c) for c in responses if c.isdigit()}, (method, path, sorted(responses))
        refs = json.dumps([responses[str(c)] for c in codes])
        assert "ErrorBody" in refs or "ValidationErrorBody" in refs
    assert "ValidationErrorBody" in json.dumps(schema["paths"]["/jobs"]["get"]["responses"]["422"])
    assert schema["components"]["schemas"]["JobRequest"]["properties"]["overrides"]["maxProperties"] == 64


def test_links_come_from_the_configured_base_url(tmp_path):
    cfg = ServiceCfg(data_dir=tmp_path / "svc", base_url="https://jobs.lab.example/rf/")
    with TestClient(create_app(cfg, start_runner=False), base_url="http://localhost:8000") as c:
        started = post_job(c, headers={"Host": "localhost:8000"}).json()
        assert started["job_link"] == f"https://jobs.lab.example/rf/jobs/{started['job_id']}"
        view = c.get(f"/jobs/{started['job_id']}", headers={"Host": "jobs.lab.example"}).json()
        assert view["log_link"].startswith("https://jobs.lab.example/rf/logs/")
    assert ServiceCfg(port=9001).public_url == "http://127.0.0.1:9001"
    with pytest.raises(ValueError, match="base_url"):
        ServiceCfg(base_url="ftp://x")


def test_the_token_stays_out_of_jobs_and_cookies(tmp_path, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "s3cret")
    assert TOKEN_ENV not in job_env({}) and job_env({})["PYTHONUNBUFFERED"] == "1"
    cfg = ServiceCfg(data_dir=tmp_path / "svc", token="s3cret", base_url="https://jobs.lab.example")
    with TestClient(create_app(cfg, start_runner=False), base_url="https://jobs.lab.example") as browser:
        login = browser.get("/", params={"token": "s3cret"}, follow_redirects=False)
        cookie = login.headers["set-cookie"]
        assert login.status_code == 303 and "s3cret" not in cookie
        assert "Secure" in cookie and "HttpOnly" in cookie
        assert browser.get("/jobs").status_code == 200  # the session cookie authenticates
        browser.cookies.clear()
        browser.cookies.set("roboforge_session", "s3cret")
        forged = browser.get("/jobs")
        assert forged.status_code == 401  # the token itself is not a session


def test_dashboard_has_csp_and_framing_headers(client):
    page = client.get("/")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    (script,) = re.findall(r"<script>(.*?)</script>", page.text, flags=re.S)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
    assert client.get("/jobs").headers["x-content-type-options"] == "nosniff"


@contextlib.contextmanager
def live_server(tmp_path, *args: str):
    """`roboforge serve` with extra options on a free port (its output in tmp_path/serve.log)."""
    port = free_port()
    env = {**os.environ, **JOB_ENV}
    env.pop(TOKEN_ENV, None)
    cmd = [sys.executable, "-m", "roboforge", "serve", "--port", str(port), "--data-dir", str(tmp_path / "svc"),
           "--log-level", "warning", *args]  # fmt: skip
    with (tmp_path / "serve.log").open("ab") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, (tmp_path / "serve.log").read_text()
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{url}/health", timeout=2).status_code == 200
        return False

    try:
        wait_for(up, 60, "the service to answer /health", interval=0.2)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.timeout(120)
def test_300_slow_clients_cannot_hold_the_server(tmp_path):
    with live_server(tmp_path, "--request-timeout", "2") as port:
        slow = []
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")  # never finished
            slow.append(s)
        t0 = time.monotonic()
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
        assert time.monotonic() - t0 < 3
        time.sleep(2.5)
        closed = 0
        for s in slow:
            s.settimeout(2)
            with contextlib.suppress(OSError):
                closed += s.recv(1024) == b""
            s.close()
        assert closed >= 295, closed  # the server dropped them after --request-timeout
        answer = b""
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s, contextlib.suppress(OSError):
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n")
            answer = s.recv(1024)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 400"), answer  # refused, or cut off mid-send
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
    assert "Traceback" not in (tmp_path / "serve.log").read_text()

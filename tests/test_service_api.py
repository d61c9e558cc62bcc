"""Every route of the job service in-process (runner not started: jobs stay queued), validation, auth,
path traversal. Files of a job are written by hand here; real training runs in test_service_jobs.py."""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path

import pytest

from pg_util import DATABASES
from roboforge.service.app import create_app
from roboforge.service.config import ServiceCfg
from service_util import TINY, TestClient


def start(client, **changes) -> dict:
    response = client.post("/reinforcement-learning", json={**TINY, "num_iterations": 3, **changes})
    assert response.status_code == 202, response.text
    return response.json()


@DATABASES
def test_health_tasks_docs_and_dashboard(client):
    assert client.get("/health").json() == {"status": "ok", "version": "0.1.0", "database": "ok"}
    tasks = {t["id"]: t for t in client.get("/tasks").json()["tasks"]}
    assert tasks["cartpole"]["default_num_envs"] == 1024 and tasks["cartpole"]["default_num_iterations"] > 0
    assert tasks["cartpole"]["libraries"]["rsl_rl"] == [{"policy_type": "PPO", "default_num_iterations": 150}]
    assert "cartpole-direct" in tasks
    schema = client.get("/openapi.json").json()
    for path in ("/reinforcement-learning", "/jobs", "/jobs/{job_id}", "/logs/{log_name}", "/jobs/{job_id}/cancel",
                 "/jobs/{job_id}/resume", "/jobs/{job_id}/artifacts", "/jobs/{job_id}/artifacts/{name}",
                 "/jobs/{job_id}/metrics", "/tasks", "/health"):  # fmt: skip
        assert path in schema["paths"], path
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "<script src" not in page.text and not re.search(r"(src|href)=\"https?://", page.text)  # no CDN


@DATABASES
def test_start_job_answers_202_like_the_seed(client, cfg):
    body = start(client)
    assert body["status"] == "RL training job started"
    assert body["job_status"] == "queued"
    assert 0 < body["estimated_completion_hours"] < 0.05  # no job ran here yet: from the throughput table
    job_id = body["job_id"]
    assert re.fullmatch(r"rl_cartpole_[0-9a-f]{8}", job_id)
    assert body["log_link"] == f"http://127.0.0.1:8000/logs/{job_id}.log"  # ServiceCfg.public_url
    assert (cfg.jobs_dir / job_id / "job.log").read_text().count("queued job") == 1
    job = client.get(f"/jobs/{job_id}").json()
    assert job["status"] == "queued" and job["iteration"] == 0 and job["num_envs"] == 32
    assert job["events"][0]["status"] == "queued"
    assert job["created_at"].endswith("Z") or "+00:00" in job["created_at"]
    default = start(client, num_envs=None, task="cartpole-direct")
    assert client.get(f"/jobs/{default['job_id']}").json()["num_envs"] == 1024  # the task's default


@DATABASES
def test_list_filter_cancel_and_resume(client):
    a, b = start(client)["job_id"], start(client)["job_id"]
    assert [j["id"] for j in client.get("/jobs").json()["jobs"]] == [b, a]
    cancelled = client.post(f"/jobs/{a}/cancel")
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
    assert [j["id"] for j in client.get("/jobs", params={"status": "cancelled"}).json()["jobs"]] == [a]
    both = client.get("/jobs", params=[("status", "cancelled"), ("status", "queued")]).json()
    assert both["count"] == 2
    assert client.post(f"/jobs/{a}/cancel").status_code == 409
    assert client.post(f"/jobs/{b}/resume").status_code == 409  # queued: nothing to resume
    resumed = client.post(f"/jobs/{a}/resume", json={"num_iterations": 7})
    assert resumed.status_code == 202 and resumed.json()["status"] == "queued"
    assert resumed.json()["num_iterations"] == 7
    events = [e["status"] for e in client.get(f"/jobs/{a}").json()["events"]]
    assert events == ["queued", "cancelled", "queued"]
    assert client.post(f"/jobs/{a}/resume", json={"num_iterations": "x"}).status_code == 422
    assert client.get("/jobs", params={"status": "done"}).status_code == 422


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"task": "cartpol"}, "task"),
        ({"task": ""}, "task"),
        ({"num_envs": "x"}, "num_envs"),
        ({"num_envs": 0}, "num_envs"),
        ({"num_envs": 10_000_000}, "num_envs"),
        ({"num_envs": 3.5}, "num_envs"),
        ({"num_iterations": 0}, "num_iterations"),
        ({"num_iterations": True}, "num_iterations"),
        ({"num_iterations": "5"}, "num_iterations"),
        ({"num_iterations": None}, "num_iterations"),
        ({"seed": -1}, "seed"),
        ({"device": "gpu"}, "device"),
        ({"policy_type": "SAC"}, "policy_type"),
        ({"learning_rate": 1e-3}, "learning_rate"),
        ({"overrides": {"env.nope": 1}}, "overrides.env.nope"),
        ({"overrides": {"agent.algorithm.learnin_rate": 1e-3}}, "overrides.agent.algorithm.learnin_rate"),
        ({"overrides": {"episode_length_s": 5}}, "overrides.episode_length_s"),
        ({"overrides": {"env.episode_length_s": "long"}}, "overrides.env.episode_length_s"),
        ({"overrides": {"agent.num_steps_per_env": 2.5}}, "overrides.agent.num_steps_per_env"),
        ({"overrides": {"agent.actor.hidden_dims": [64, "x"]}}, "overrides.agent.actor.hidden_dims"),
        ({"overrides": {"agent.algorithm": {"gamma": 0.9}}}, "overrides.agent.algorithm"),
        ({"overrides": {"agent.algorithm.gamma": 1.5}}, "overrides.agent.algorithm.gamma"),
        ({"overrides": {"agent.algorithm.learning_rate": -1e-3}}, "overrides.agent.algorithm.learning_rate"),
        ({"overrides": ["env.x=1"]}, "overrides"),
    ],
)
def test_bad_requests_are_422_naming_the_field(client, change, field):
    response = client.post("/reinforcement-learning", json={**TINY, "num_iterations": 3, **change})
    assert response.status_code == 422, response.text
    body = response.json()
    fields = [".".join(str(p) for p in e["loc"][1:]) for e in body["detail"]]
    assert field in fields, body
    assert field in body["message"]
    assert client.get("/jobs").json()["count"] == 0  # nothing was queued


@DATABASES
def test_good_overrides_are_accepted_and_kept(client):
    overrides = {"env.episode_length_s": 4, "agent.algorithm.learning_rate": 3e-4, "agent.actor.hidden_dims": [32, 32],
                 "agent.clip_actions": None, "agent.save_interval": 1}  # fmt: skip
    job = client.get(f"/jobs/{start(client, overrides=overrides)['job_id']}").json()
    assert job["overrides"] == overrides


def test_a_cpu_job_without_num_envs_gets_the_tasks_cpu_default(client):
    body = {"task": "velocity-flat-go1", "num_iterations": 3, "device": "cpu"}
    job = client.get(f"/jobs/{client.post('/reinforcement-learning', json=body).json()['job_id']}").json()
    assert job["num_envs"] == 256  # not the GPU-sized 4096, which would not train on a CPU


@pytest.mark.parametrize("device", ["gpu", "cuda:123", "CPU"])
def test_a_bad_device_is_422_in_the_command_lines_words(client, device):
    """Was 'device: String should match pattern '^(cpu|cuda(:\\d{1,2})?)$''; the schema keeps the pattern."""
    from roboforge.rl.options import check_device_name
    from roboforge.utils.errors import UserInputError

    with pytest.raises(UserInputError) as cli:
        check_device_name(device)
    words = str(cli.value).removeprefix("--device ").rstrip(".")  # must be cpu, cuda or cuda:N ..., got 'gpu'
    response = client.post("/reinforcement-learning", json={**TINY, "num_iterations": 3, "device": device})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["message"] == f"device: {words}", body
    assert [(e["loc"], e["msg"], e["input"]) for e in body["detail"]] == [(["body", "device"], words, device)]
    schema = client.get("/openapi.json").json()["components"]["schemas"]["JobRequest"]["properties"]["device"]
    assert {"type": "string", "pattern": r"^(cpu|cuda(:\d{1,2})?)$"} in schema["anyOf"], schema


def test_a_long_bad_device_is_quoted_short(client):
    response = client.post(
        "/reinforcement-learning", json={**TINY, "num_iterations": 3, "device": "x" * 10_000}
    )
    assert response.status_code == 422 and len(response.json()["message"]) < 200, response.text


def test_cuda_device_needs_cuda(client):
    import torch

    response = client.post("/reinforcement-learning", json={**TINY, "num_iterations": 3, "device": "cuda"})
    assert response.status_code == (202 if torch.cuda.is_available() else 422)
    if response.status_code == 422:
        assert "device: CUDA is not available" in response.json()["message"]


def fake_run(cfg: ServiceCfg, job_id: str) -> Path:
    """Files a trainer and an exporter would have written into the job's folder."""
    run = cfg.jobs_dir / job_id / "cartpole" / "2026-01-01_00-00-00"
    (run / "params").mkdir(parents=True)
    (run / "params" / "args.json").write_text('{"task": "cartpole"}')
    (run / "model_1.pt").write_bytes(b"checkpoint-1")
    (run / "exported").mkdir()
    (run / "exported" / "policy.onnx").write_bytes(b"\x08\x07onnx-bytes")
    records = [{"iteration": 0, "Train/mean_reward": 1.0, "Loss/value": 2.0},
               {"iteration": 1, "Train/mean_reward": math.nan, "Loss/value": 1.5},
               {"iteration": 1, "Train/mean_reward": 2.0, "Loss/value": 1.0},
               {"iteration": 2, "Loss/value": 0.5}]  # fmt: skip
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + '{"iteration": 3')
    return run


@DATABASES
def test_metrics_artifacts_and_logs(client, cfg):
    job_id = start(client)["job_id"]
    fake_run(cfg, job_id)
    metrics = client.get(f"/jobs/{job_id}/metrics").json()
    assert metrics["iterations"] == [0, 1, 2]
    assert metrics["series"]["Train/mean_reward"] == [1.0, 2.0, None]
    assert metrics["series"]["Loss/value"] == [2.0, 1.0, 0.5]
    some = client.get(f"/jobs/{job_id}/metrics", params={"since": 1, "keys": "Loss/value"}).json()
    assert some["iterations"] == [1, 2] and list(some["series"]) == ["Loss/value"]

    staging = cfg.jobs_dir / job_id / "cartpole/2026-01-01_00-00-00/.exported.staging-123"
    staging.mkdir()  # an export being written is not an artifact until it is moved into exported/
    (staging / "policy.onnx").write_bytes(b"half")
    arts = {a["path"]: a for a in client.get(f"/jobs/{job_id}/artifacts").json()["artifacts"]}
    assert not [path for path in arts if "staging" in path], list(arts)
    onnx = arts["cartpole/2026-01-01_00-00-00/exported/policy.onnx"]
    assert onnx["kind"] == "onnx" and onnx["size"] == 12
    assert arts["cartpole/2026-01-01_00-00-00/model_1.pt"]["kind"] == "checkpoint"
    assert arts["job.log"]["kind"] == "log"
    download = client.get(onnx["url"].removeprefix(cfg.public_url))
    assert download.status_code == 200 and download.content == b"\x08\x07onnx-bytes"
    assert "policy.onnx" in download.headers["content-disposition"]

    for i in range(50):
        (cfg.jobs_dir / job_id / "job.log").open("a").write(f"line {i}\n")
    log = client.get(f"/logs/{job_id}.log")
    assert log.status_code == 200 and log.headers["content-type"].startswith("text/plain")
    assert log.text.startswith("[roboforge-service") and log.text.endswith("line 49\n")
    assert client.get(f"/logs/{job_id}.log", params={"tail": 2}).text == "line 48\nline 49\n"
    assert client.get(f"/logs/{job_id}.log", params={"tail": 0}).status_code == 422
    client.post(f"/jobs/{job_id}/cancel")  # a finished job's stream ends after the whole log
    with client.stream("GET", f"/logs/{job_id}.log", params={"follow": True, "tail": 3}) as stream:
        assert b"".join(stream.iter_bytes()).decode().splitlines()[-1].endswith("cancelled while queued")


def test_curves_png_is_drawn_from_the_metrics_and_redrawn_when_they_grow(client, cfg):
    pytest.importorskip("matplotlib")
    job_id = start(client)["job_id"]
    assert client.get(f"/jobs/{job_id}/curves.png").status_code == 404  # no iteration yet
    run = fake_run(cfg, job_id)
    first = client.get(f"/jobs/{job_id}/curves.png")
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    assert first.content.startswith(b"\x89PNG")
    png = cfg.jobs_dir / job_id / "curves.png"
    drawn_at = png.stat().st_mtime_ns
    assert client.get(f"/jobs/{job_id}/curves.png").content == first.content
    assert png.stat().st_mtime_ns == drawn_at  # not drawn again while the metrics are unchanged
    time.sleep(0.01)
    with (run / "metrics.jsonl").open("a") as f:
        f.write('\n{"iteration": 3, "Train/mean_reward": 9.0, "Loss/value": 0.1}\n')
    again = client.get(f"/jobs/{job_id}/curves.png")
    assert again.status_code == 200 and png.stat().st_mtime_ns > drawn_at and again.content != first.content


def test_unknown_jobs_and_path_traversal_are_404(client, cfg, tmp_path):
    job_id = start(client)["job_id"]
    fake_run(cfg, job_id)
    (cfg.data_dir / "secret.txt").write_text("outside")
    (cfg.jobs_dir / job_id / "cartpole" / "2026-01-01_00-00-00" / "model_5.pt").symlink_to(
        cfg.data_dir / "secret.txt"
    )
    routes = [
        "/jobs/{id}",
        "/jobs/{id}/metrics",
        "/jobs/{id}/artifacts",
        "/logs/{id}.log",
        "/jobs/{id}/artifacts/job.log",
        "/jobs/{id}/curves.png",
    ]
    for bad in ("nope", "%2E%2E", "..%2F..%2Fsecret", "rl_x%00", "a%2Fb"):
        for route in routes:
            assert client.get(route.format(id=bad)).status_code == 404, (route, bad)
        assert client.post(f"/jobs/{bad}/cancel").status_code == 404
        assert client.post(f"/jobs/{bad}/resume").status_code == 404
    assert client.get(f"/logs/{job_id}.txt").status_code == 404
    art = f"/jobs/{job_id}/artifacts/"
    for name in ("..%2F..%2Fsecret.txt", "%2E%2E/%2E%2E/secret.txt", "%2Fetc%2Fpasswd", "cartpole/2026-01-01_00-00-00/model_5.pt",
                 "cartpole/2026-01-01_00-00-00/..%2F..%2F..%2F..%2Fsecret.txt", "jobs.db", "..%5C..%5Csecret.txt"):  # fmt: skip
        response = client.get(art + name)
        assert response.status_code == 404, name
        assert b"outside" not in response.content


def test_token_guards_every_route_but_health(tmp_path, monkeypatch):
    cfg = ServiceCfg(data_dir=tmp_path / "svc", token="s3cret; token", allowed_hosts=("testserver",))
    app = create_app(cfg, start_runner=False)
    with TestClient(app) as anon:
        assert anon.get("/health").status_code == 200
        paths = ["/", "/docs", "/openapi.json", "/tasks", "/jobs", "/jobs/x", "/logs/x.log", "/jobs/x/metrics",
                 "/jobs/x/artifacts", "/jobs/x/artifacts/a.pt", "/jobs/x/curves.png", "/nonexistent"]  # fmt: skip
        for path in paths:
            response = anon.get(path)
            assert response.status_code == 401, path
            assert response.headers["www-authenticate"].startswith("Bearer")
        for path in ("/reinforcement-learning", "/jobs/x/cancel", "/jobs/x/resume"):
            assert anon.post(path, json={}).status_code == 401
        assert anon.get("/jobs", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert anon.get("/?token=wrong").status_code == 401
        assert anon.get("/jobs", headers={"Authorization": "Basic s3cret; token"}).status_code == 401
    with TestClient(app, headers={"Authorization": "Bearer s3cret; token"}) as authed:
        assert authed.get("/jobs").status_code == 200
        assert start(authed)["status"] == "RL training job started"
    with TestClient(app) as browser:
        login = browser.get("/", params={"token": "s3cret; token"}, follow_redirects=False)
        assert login.status_code == 303 and login.headers["location"] == "/"
        assert "HttpOnly" in login.headers["set-cookie"] and "SameSite=Strict" in login.headers["set-cookie"]
        assert browser.get("/jobs").status_code == 200  # the cookie now authenticates
        assert browser.get("/").status_code == 200


def test_serve_refuses_a_busy_port_and_bad_options_before_touching_jobs(tmp_path):
    import socket

    from typer.testing import CliRunner

    from roboforge.cli import app as cli_app

    runner = CliRunner()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        result = runner.invoke(cli_app, ["serve", "--port", str(port), "--data-dir", str(tmp_path / "svc")],
                               env={"COLUMNS": "200"})  # fmt: skip
    assert result.exit_code == 2
    assert f"Cannot listen on 127.0.0.1:{port}" in " ".join(result.output.split())
    assert "pick another --port" in " ".join(result.output.split())
    for host in ("999.1.1.1", "203.0.113.5"):  # no such name; an address of another machine
        wrong = runner.invoke(cli_app, ["serve", "--host", host, "--data-dir", str(tmp_path / "svc")],
                              env={"COLUMNS": "200", "ROBOFORGE_API_TOKEN": "t" * 32})  # fmt: skip
        said = " ".join(wrong.output.split())
        assert wrong.exit_code == 2 and f"Cannot listen on {host}:8000" in said, said
        assert "Give --host an address of this machine" in said and "--port" not in said, said
    assert not (tmp_path / "svc" / "jobs.db").exists()  # the runner never started
    bad = runner.invoke(cli_app, ["serve", "--max-concurrent", "0", "--data-dir", str(tmp_path / "svc")])
    assert bad.exit_code == 2 and "--max-concurrent) must be >= 1" in " ".join(bad.output.split())

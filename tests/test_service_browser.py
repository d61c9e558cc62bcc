"""The dashboard in a real headless Chromium (Debian's, driven by Playwright): start a job from the form,
watch its reward curve appear, take a screenshot, cancel and resume it with the buttons."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from service_util import LiveServer, kill_job_processes, wait_status

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(150),
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason="Debian chromium not installed (apt-get install chromium); CI installs it and never skips",
    ),
]


@pytest.fixture
def server(tmp_path):
    live = LiveServer(tmp_path / "svc", max_concurrent=1).start()
    try:
        yield live
    finally:
        live.stop()
        kill_job_processes(live.data_dir)


@pytest.fixture
def page(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            yield context.new_page()
        finally:
            browser.close()


def test_dashboard_starts_a_job_and_draws_its_curves(server, page, tmp_path):
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(server.url + "/")
    page.wait_for_selector("#f-task option[value=cartpole]", state="attached")
    # the library and policy menus offer what the task has: sb3 has SAC, rl_games only PPO
    page.select_option("#f-task", "cartpole")
    assert page.locator("#f-envs").get_attribute("placeholder") == "1024"  # the task's default
    with server.client() as api:
        installed = api.get("/tasks").json()["installed_libraries"]
    libraries = page.locator("#f-library option").all_inner_texts()
    assert libraries == [lib for lib in ("rsl_rl", "skrl", "rl_games", "sb3") if lib in installed]
    for library, policy_types in (("sb3", ["PPO", "SAC"]), ("rl_games", ["PPO"]), ("rsl_rl", ["PPO"])):
        if library in installed:
            page.select_option("#f-library", library)
            assert page.locator("#f-policy option").all_inner_texts() == policy_types

    # a bad override is refused with the field named, and nothing is queued
    page.fill("#f-overrides", '{"env.nope": 1}')
    page.click("#f-submit")
    page.wait_for_function(
        "() => document.getElementById('form-error').textContent.includes('overrides.env.nope')"
    )

    page.fill("#f-iterations", "300")
    page.fill("#f-envs", "16")
    page.select_option("#f-device", "cpu")
    page.fill("#f-overrides", '{"agent.save_interval": 5}')
    page.click("#f-submit")
    page.wait_for_url("**/#/jobs/rl_cartpole_*")
    job_id = page.url.rsplit("/", 1)[-1]

    reward = '.chart[data-key="Train/mean_reward"] svg'
    page.wait_for_function(
        f"() => (document.querySelector('{reward}')?.dataset.points || 0) >= 5", timeout=60_000, polling=250
    )
    path = page.locator(f"{reward} path.curve").get_attribute("d") or ""
    assert path.startswith("M") and path.count("L") >= 4
    assert page.locator('.chart[data-key="Train/mean_episode_length"] svg path.curve').count() == 1
    link = page.locator("#curves-link")  # every curve as one PNG, drawn by the server
    assert link.is_visible() and link.get_attribute("href") == f"/jobs/{job_id}/curves.png"
    png = page.request.get(server.url + f"/jobs/{job_id}/curves.png")
    assert png.status == 200 and png.body().startswith(b"\x89PNG")
    page.wait_for_function(
        "() => document.getElementById('log').textContent.includes('training cartpole with rsl_rl PPO on cpu')"
    )
    assert "rsl_rl PPO" in page.locator("#j-meta").inner_text()  # the job's library and algorithm
    assert page.locator("#j-status").get_attribute("data-status") == "running"
    shot = tmp_path / "dashboard_job.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    if os.environ.get("ROBOFORGE_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["ROBOFORGE_SCREENSHOT_DIR"]) / shot.name)

    page.click("#btn-cancel")
    page.wait_for_selector("#j-status[data-status=cancelled]", timeout=30_000)
    page.wait_for_selector("#artifacts a[href$='.pt']", timeout=10_000)  # the checkpoint saved on cancel
    assert page.locator("#btn-resume").is_enabled()
    page.click("#btn-resume")
    page.wait_for_selector("#j-status[data-status=running]", timeout=30_000)
    page.wait_for_function(
        "() => document.getElementById('log').textContent.includes('resuming')", timeout=30_000
    )
    with server.client() as api:
        assert api.get(f"/jobs/{job_id}").json()["attempt"] == 2
        api.post(f"/jobs/{job_id}/cancel")
        wait_status(api, job_id, ("cancelled",), timeout=30)

    page.goto(server.url + "/#/")
    row = page.locator(f"tr[data-job={job_id}]")
    row.wait_for()
    assert row.locator(".badge").get_attribute("data-status") == "cancelled"
    assert "rsl_rl PPO" in row.inner_text()
    assert errors == []

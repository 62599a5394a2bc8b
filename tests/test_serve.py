"""`ivig-audit serve --cron` for real: it starts a local Prefect server (PREFECT_API_URL unset), a run
triggered through Prefect's API completes, a one-off `ivig-audit run` uses the same server, the cron
schedule fires a run by itself, prefect.yaml deploys to the same server, and on SIGTERM nothing is
left running. About two minutes."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pipelines.generate import write_extracts

REPO = Path(__file__).parent.parent
BIN = Path(sys.executable).parent


def wait_for(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(1)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


@pytest.fixture
def served(tmp_path):
    """`ivig-audit serve` every minute over a small inbox; yields (api url, server pid, process)."""
    write_extracts(300, tmp_path / "inbox", seed=4)
    env = serve_env()
    process = subprocess.Popen(
        [str(BIN / "ivig-audit"), "serve", "--cron", "* * * * *", "--inbox", "inbox", "--db", "out/audit.duckdb",
         "--out", "out"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first = process.stdout.readline()  # "Prefect server (pid N) at URL; ..."
    assert first.startswith("Prefect server (pid "), first + process.stdout.read()
    server_pid, url = int(first.split()[3].rstrip(")")), first.split()[5].rstrip(";")
    yield url, server_pid, process
    if process.poll() is None:  # the test failed before stopping it
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def serve_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    # the scheduler and `serve` look for due runs every second or two, not Prefect's 60 and 10 s
    env.update(IVIG_AUDIT_PSEUDONYM_KEY="serve-test-" + "0" * 32, PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="2",
               PREFECT_RUNNER_POLL_FREQUENCY="1")
    return env


def api(url: str, method: str, path: str, **body):
    """One call to Prefect's REST API; a 5xx (the server's SQLite can be briefly locked while its
    scheduler writes) is tried again a few times."""
    for attempt in range(5):
        response = httpx.request(method, f"{url}{path}", json=body if method == "POST" else None, timeout=30)
        if response.status_code < 500:
            break
        time.sleep(1 + attempt)
    assert response.is_success, f"{method} {path}: {response.status_code} {response.text[:500]}"
    return response.json()


def test_serve_runs_on_demand_and_on_schedule_then_stops_cleanly(served, tmp_path):
    url, server_pid, process = served
    env = serve_env()
    deployment = wait_for(lambda: [d for d in api(url, "POST", "/deployments/filter")
                                   if d["name"] == "ivig-audit"], 60, "the served deployment")[0]

    triggered = api(url, "POST", f"/deployments/{deployment['id']}/create_flow_run")
    finished = wait_for(lambda: (run := api(url, "GET", f"/flow_runs/{triggered['id']}"))["state_type"]
                        in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") and run, 120, "the triggered run")
    assert finished["state_type"] == "COMPLETED"
    assert (tmp_path / "out" / "audit.duckdb").exists() and (tmp_path / "out" / "dashboard.html").exists()

    # a one-off run with the same Prefect state uses this server instead of starting its own
    one_off = subprocess.run([str(BIN / "ivig-audit"), "run", "--inbox", "inbox", "--db", "out/one-off.duckdb",
                              "--out", "out"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert one_off.returncode == 0, one_off.stderr
    assert [(r["deployment_id"], r["state_type"]) for r in api(url, "POST", "/flow_runs/filter",
                                                              flow_runs={"name": {"any_": ["audit inbox"]}})] == [
        (None, "COMPLETED")]

    # while the cron minute comes
    deploy_env = {**os.environ, "PREFECT_API_URL": url, "IVIG_AUDIT_HOME": str(REPO)}
    for command in (["work-pool", "create", "ivig-audit", "--type", "process"], ["--no-prompt", "deploy", "--name", "ivig-audit-weekly"]):
        result = subprocess.run([str(BIN / "prefect"), *command], cwd=REPO, env=deploy_env, capture_output=True, text=True,
                                timeout=180)
        assert result.returncode == 0, result.stdout + result.stderr
    weekly = api(url, "GET", "/deployments/name/ivig-audit-run/ivig-audit-weekly")
    assert weekly["schedules"][0]["schedule"]["cron"] == "0 6 * * 1"

    scheduled = wait_for(lambda: [r for r in api(url, "POST", "/flow_runs/filter",
                                                 flow_runs={"state": {"type": {"any_": ["COMPLETED"]}}})
                                  if r["auto_scheduled"]], 150, "a run fired by the cron schedule")
    assert scheduled[0]["deployment_id"] == deployment["id"]
    summary = api(url, "POST", "/artifacts/filter", artifacts={"key": {"any_": ["ivig-audit-run-summary"]}})
    assert summary and "## CIDP review" in summary[0]["data"]

    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    with pytest.raises(ProcessLookupError):
        os.kill(server_pid, 0)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/health", timeout=2)

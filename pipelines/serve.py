"""`ivig-audit serve`: audit runs on a cron schedule through Prefect. Prefect's temporary server
cannot schedule (docs/stack-facts.md), so when PREFECT_API_URL is not set a Prefect
server is started on loopback for the lifetime of the command and stopped when it ends; when it is
set, the deployment registers with that server."""
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from pipelines.db import AuditError

STARTUP_SECONDS = 120
SERVER_FILE = "server-url"  # in PREFECT_HOME, while `serve` runs a server there


@contextmanager
def prefect_api(one_off: bool = False, while_starting: Callable[[], None] = lambda: None) -> Iterator[bool]:
    """Make PREFECT_API_URL point at a Prefect server: the one it names; for a one-off run, the one
    a `serve` with the same Prefect state runs (its address in SERVER_FILE); else one started here
    on loopback (then yields True, and stops it on the way out). The server takes seconds to boot,
    in its own process: `while_starting` runs meanwhile, with PREFECT_API_URL already set, so the
    heavy imports overlap it. A one-off run starts it without the scheduler and other services."""
    if os.environ.get("PREFECT_API_URL"):
        while_starting()
        yield False
        return
    shared = _served_api() if one_off else None
    if shared:
        os.environ["PREFECT_API_URL"] = shared
        try:
            while_starting()
            yield False
        finally:
            del os.environ["PREFECT_API_URL"]
        return
    server, url = start_server(one_off)
    os.environ["PREFECT_API_URL"] = url
    server_file = Path(os.environ["PREFECT_HOME"]) / SERVER_FILE
    try:
        while_starting()
        wait_until_healthy(url, server)
        if not one_off:
            server_file.write_text(url, encoding="utf-8")
            print(f"Prefect server (pid {server.pid}) at {url}; UI at {url.removesuffix('/api')}; log {server_log()}",
                  flush=True)
        yield True
    finally:
        del os.environ["PREFECT_API_URL"]
        if not one_off:
            server_file.unlink(missing_ok=True)
        stop(server)


def start_server(one_off: bool) -> tuple[subprocess.Popen, str]:
    """`prefect server start` on a free loopback port (a one-off run's without the scheduler and
    other services), its output in PREFECT_HOME/server.log; returns it and its API's URL at once."""
    with socket.socket() as probe:  # a free port on loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with server_log().open("ab") as log:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "prefect"), "server", "start", "--host", "127.0.0.1",
             "--port", str(port), "--analytics-off", *(["--no-services"] if one_off else [])],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)
    return server, f"http://127.0.0.1:{port}/api"


def server_log() -> Path:
    return Path(os.environ["PREFECT_HOME"]) / "server.log"


def _served_api() -> str | None:
    """The API of the server a `serve` started with this Prefect state, if it answers."""
    try:
        url = (Path(os.environ["PREFECT_HOME"]) / SERVER_FILE).read_text(encoding="utf-8").strip()
        return url if httpx.get(f"{url}/health", timeout=2).status_code == 200 else None
    except (OSError, httpx.HTTPError):
        return None


def _die_with_parent() -> None:
    """In the server process: Linux sends it SIGTERM if `serve` dies without cleaning up (SIGKILL)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def wait_until_healthy(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AuditError(f"the local Prefect server stopped at start (exit {server.returncode}); see {server_log()}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop(server)
    raise AuditError(f"the local Prefect server did not answer within {STARTUP_SECONDS} s; see {server_log()}")


def stop(server: subprocess.Popen) -> None:
    """SIGTERM to the server's whole process group, then SIGKILL if it lingers."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def serve(cron: str, parameters: dict, own_server: bool) -> None:
    """Register the deployment `ivig-audit-run/ivig-audit` with the cron schedule and run its flow
    runs here until SIGTERM or Ctrl-C. On a hospital's own server Prefect pauses the schedule on the
    way out; a server started here stops with us. Prefect reads PREFECT_API_URL when first
    imported: call this inside prefect_api()."""
    from prefect.client.schemas.schedules import CronSchedule

    from pipelines.flow import audit_run
    try:
        CronSchedule(cron=cron)
    except ValueError:
        raise AuditError(f"--cron {cron!r} is not a cron expression (five fields, e.g. '0 6 * * 1')") from None
    audit_run.serve(name="ivig-audit", cron=cron, parameters=parameters, pause_on_shutdown=not own_server,
                    limit=1,  # a run due while one works waits for it, instead of failing on the lock
                    description="Scheduled IVIg audit: new extracts in the inbox, then classify, analyse, publish.")

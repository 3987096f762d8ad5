"""The installed `fakeserver serve` command, over real HTTP, run from outside the checkout."""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from conftest import AI_VERSION_ID
from served import eventually, serve


def fakeserver_command() -> list[str]:
    """The console script that `pip install` put next to this interpreter."""
    script = Path(sys.executable).parent / "fakeserver"
    found = str(script) if script.exists() else shutil.which("fakeserver")
    assert found, "the fakeserver command is not installed"
    return [found]


def test_serve_over_real_http(tmp_path: Path) -> None:
    with serve("--clock", "manual", cwd=tmp_path, command=fakeserver_command()) as served:
        base_url = served.url
        with served.client("alice-token") as alice:
            listed = alice.get("/api/v2/tasks")
            assert listed.status_code == 200
            assert listed.headers["content-type"] == "application/json; charset=utf-8"
            assert "server" not in listed.headers  # coderd (Go's net/http) names no server
            assert listed.json()["count"] == 3

            created = alice.post("/api/v2/tasks/me", json={"template_version_id": AI_VERSION_ID, "input": "Hi"})
            assert created.status_code == 201
            task = created.json()
            assert task["status"] == "pending"

            clock = httpx.post(f"{base_url}/__fake__/clock/advance", json={"seconds": 10}, timeout=10.0)
            assert clock.status_code == 200
            assert clock.json()["mode"] == "manual"
            assert clock.json()["applied"] > 0

            fetched = alice.get(f"/api/v2/tasks/alice/{task['name']}")
            assert fetched.status_code == 200
            assert fetched.json()["status"] == "active"
            assert alice.get(f"/api/v2/tasks/me/{task['id']}/logs").json()["logs"][0]["content"] == "Hi"
    stdout, stderr = served.stdout(), served.stderr()  # all it printed: the block stopped it
    assert "Traceback" not in stderr
    # served.url comes from the banner's first line and answered: with --port 0 it names the port the system chose
    assert re.fullmatch(r"http://127\.0\.0\.1:[1-9][0-9]*", base_url), stdout
    assert "clock: manual" in stdout
    for username, token in (("admin", "admin-token"), ("alice", "alice-token"), ("bob", "bob-token")):
        line = next((line for line in stdout.splitlines() if line.split()[:1] == [username]), "")
        assert token in line, stdout


def test_log_requests_prints_one_line_per_request_and_never_a_token(tmp_path: Path) -> None:
    with serve("--clock", "manual", "--log-requests", cwd=tmp_path) as served:
        with served.client("alice-token") as alice:
            assert alice.get("/api/v2/tasks", params={"coder_session_token": "alice-token"}).status_code == 200
            assert alice.get("/api/v2/tasks/me/no-such-task").status_code == 404
        with served.client() as anonymous:
            assert anonymous.get("/api/v2/tasks").status_code == 401
        assert eventually(lambda: "/api/v2/tasks 401" in served.stderr())
        lines = [line for line in served.stderr().splitlines() if " /api/v2/" in line]
    assert re.fullmatch(r"fakeserver: GET /api/v2/tasks 200 \d+\.\dms alice", lines[0]), lines
    assert re.fullmatch(r"fakeserver: GET /api/v2/tasks/me/no-such-task 404 \d+\.\dms alice", lines[1]), lines
    assert re.fullmatch(r"fakeserver: GET /api/v2/tasks 401 \d+\.\dms -", lines[2]), lines
    assert "alice-token" not in served.stderr()


def test_sigterm_stops_the_server_at_once_and_says_so(tmp_path: Path) -> None:
    """Even with a request in flight (an injected 30 s latency) and an idle keep-alive connection."""
    with serve("--clock", "manual", cwd=tmp_path) as served:
        with served.control_client() as control:
            fault = control.post("/__fake__/faults", json={"operation_id": "listTasks", "latency_ms": 30_000})
            assert fault.status_code == 201
        idle = served.client("alice-token")
        assert idle.get("/api/v2/tasks/me/fix-login-bug").status_code == 200
        in_flight = threading.Thread(target=lambda: _quietly(served.client("alice-token").get, "/api/v2/tasks"))
        in_flight.start()
        time.sleep(0.3)
        started = time.monotonic()
        served.process.send_signal(signal.SIGTERM)
        served.process.wait(timeout=10)
        assert time.monotonic() - started < 5
        assert served.process.returncode == -signal.SIGTERM  # stopped by the signal, as the exit status says
        assert "fakeserver: SIGTERM, stopping" in served.stderr()
        assert "fakeserver: stopped" in served.stderr()
        idle.close()


def _quietly(get: Callable[[str], object], path: str) -> None:
    with contextlib.suppress(httpx.HTTPError):
        get(path)

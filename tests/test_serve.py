"""The installed `fakeserver serve` command, over real HTTP, run from outside the checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
from conftest import AI_VERSION_ID, free_port, stop, wait_until_up


def fakeserver_command() -> list[str]:
    """The console script that `pip install` put next to this interpreter."""
    script = Path(sys.executable).parent / "fakeserver"
    found = str(script) if script.exists() else shutil.which("fakeserver")
    assert found, "the fakeserver command is not installed"
    return [found]


def test_serve_over_real_http(tmp_path: Path) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [*fakeserver_command(), "serve", "--port", str(port), "--clock", "manual"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_up(process, base_url)
        alice = httpx.Client(base_url=base_url, headers={"Coder-Session-Token": "alice-token"}, timeout=10.0)
        with alice:
            listed = alice.get("/api/v2/tasks")
            assert listed.status_code == 200
            assert listed.headers["content-type"] == "application/json; charset=utf-8"
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
    finally:
        stdout, stderr = stop(process)
    assert "Traceback" not in stderr
    assert f"http://127.0.0.1:{port}" in stdout
    assert "clock: manual" in stdout
    for username, token in (("admin", "admin-token"), ("alice", "alice-token"), ("bob", "bob-token")):
        line = next((line for line in stdout.splitlines() if line.split()[:1] == [username]), "")
        assert token in line, stdout

"""The installed `fakeserver serve` command, over real HTTP, run from outside the checkout."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import httpx
from conftest import AI_VERSION_ID
from served import serve


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

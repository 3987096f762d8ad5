"""A clock clients can see: the `Date` header follows the fake's clock, and a test can wait for a
task on the control plane instead of polling."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx
import pytest
from conftest import AI_VERSION_ID
from served import Served, serve

from fakeserver.fake import FakeCoder


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve("--clock", "manual") as server:
        yield server


def fake_now(client: httpx.Client) -> str:
    return str(client.get("/__fake__/clock").json()["now"])


def test_the_date_header_follows_a_manual_clock(served: Served) -> None:
    with served.control_client() as control, served.client("alice-token") as alice:
        control.post("/__fake__/reset")
        first = alice.get("/api/v2/tasks")
        assert first.headers.get_list("date") == ["Mon, 05 Jan 2026 09:00:00 GMT"]  # one, the fake's
        control.post("/__fake__/clock/advance", json={"seconds": 90_061})
        later = alice.get("/api/v2/tasks/me/fix-login-bug")
        assert later.headers["date"] == "Tue, 06 Jan 2026 10:01:01 GMT"
        assert parsedate_to_datetime(later.headers["date"]).isoformat() == fake_now(control).replace("Z", "+00:00")


def test_in_process_answers_carry_the_fakes_date_too(fake: FakeCoder) -> None:
    with fake.client("alice") as alice:
        fake.advance(59)
        assert alice.get("/api/v2/tasks").headers["date"] == "Mon, 05 Jan 2026 09:00:59 GMT"


def test_an_answer_is_dated_at_the_moment_its_body_was_made() -> None:
    """One reading of the clock per call: under a clock running a million times faster than time,
    the `Date` of a create still names the second of the new task's `created_at`."""
    fake = FakeCoder(clock="real", speed=1_000_000)
    with fake.client("alice") as alice:
        for attempt in range(5):
            answer = alice.post(
                "/api/v2/tasks/me", json={"template_version_id": AI_VERSION_ID, "input": f"Hi {attempt}"}
            )
            assert answer.status_code == 201, answer.text
            created = datetime.fromisoformat(answer.json()["created_at"].replace("Z", "+00:00"))
            assert parsedate_to_datetime(answer.headers["date"]) == created.replace(microsecond=0)


def test_a_wait_answers_when_another_client_moves_the_task_on(served: Served) -> None:
    with served.control_client() as control, served.client("alice-token") as alice:
        control.post("/__fake__/reset")
        task = alice.post("/api/v2/tasks/me", json={"template_version_id": AI_VERSION_ID, "input": "Hi"}).json()
        answers: list[httpx.Response] = []
        waiting = threading.Thread(
            target=lambda: answers.append(
                control.post(f"/__fake__/tasks/{task['id']}/wait", json={"status": "active", "timeout": 20})
            )
        )
        started = time.monotonic()
        waiting.start()
        time.sleep(0.2)
        with served.control_client() as other:  # the server goes on serving while one request waits
            assert other.post("/__fake__/clock/advance", json={"seconds": 30}).status_code == 200
        waiting.join(20)
        assert time.monotonic() - started < 5
        (answer,) = answers
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "active"


def test_a_wait_that_cannot_be_met_in_time_says_why(served: Served) -> None:
    with served.control_client() as control:
        control.post("/__fake__/reset")
        ref = "bob%2Fadd-dark-mode"
        answer = control.post(f"/__fake__/tasks/{ref}/wait", json={"status": "active", "timeout": 0.2})
        assert answer.status_code == 409
        assert answer.json()["message"] == "The task did not reach status 'active' in time."
        assert "It is pending after 0.2 s. The clock is manual: nothing moves by itself" in answer.json()["detail"]
        both = control.post(f"/__fake__/tasks/{ref}/wait", json={"status": "pending", "state": "idle", "timeout": 0})
        assert both.status_code == 409 and "status 'pending' and state 'idle'" in both.json()["message"]
        assert control.post(f"/__fake__/tasks/{ref}/wait", json={"status": "pending"}).status_code == 200
        assert control.post(f"/__fake__/tasks/{ref}/wait", json={}).status_code == 400
        assert control.post("/__fake__/tasks/nobody%2Fnothing/wait", json={"status": "active"}).status_code == 404
        too_long = control.post(f"/__fake__/tasks/{ref}/wait", json={"status": "active", "timeout": 61})
        assert too_long.status_code == 400


def test_the_journal_tells_a_stalled_wait(fake: FakeCoder) -> None:
    with fake.client("alice") as alice, fake.control_client() as control:
        created = alice.post("/api/v2/tasks/me", json={"template_version_id": AI_VERSION_ID, "input": "Hi"}).json()
        for _ in range(3):
            alice.get(f"/api/v2/tasks/me/{created['id']}")  # in motion: its build is due
            alice.get("/api/v2/tasks/me/fix-login-bug")  # active and idle: nothing is due
        stalled = control.get("/__fake__/requests/stalled").json()["stalled"]
        assert [(item["task"], item["status"], item["polls"]) for item in stalled] == [
            ("alice/fix-login-bug", "active", 3)
        ]
        assert "advance the clock" in stalled[0]["hint"]
        alice.post("/api/v2/tasks/me/fix-login-bug/send", json={"input": "More"})  # acted on: no longer stalled
        assert fake.stalled_waits() == []
        fake.set_clock("real")
        assert fake.stalled_waits() == []  # under a running clock, waiting is what clients do

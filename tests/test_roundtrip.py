"""Save and restore: export → load → export gives the same document, and the restored world serves the same.

Checked for the default world, after every step of a full lifecycle, through HTTP
(`GET /__fake__/state?format=yaml` → `PUT /__fake__/state`), and in a separate
`fakeserver serve --fixtures exported.yaml` process.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml
from conftest import ACTIVE_ID, AI_VERSION_ID, PAUSED_ID, create_task, get_task
from served import serve

from fakeserver.fake import FakeCoder


def restored(fake: FakeCoder) -> FakeCoder:
    """A new fake loaded from `fake`'s YAML export."""
    other = FakeCoder()
    other.load_text(fake.export_yaml(), "exported.yaml")
    return other


def public_view(fake: FakeCoder, username: str = "admin") -> dict[str, Any]:
    """What a client sees: every task, and each task's logs where it has them."""
    with fake.client(username) as client:
        tasks = client.get("/api/v2/tasks").json()
        logs = {task["id"]: client.get(f"/api/v2/tasks/me/{task['id']}/logs").json() for task in tasks["tasks"]}
    return {"tasks": tasks, "logs": logs}


def assert_round_trips(fake: FakeCoder) -> None:
    other = restored(fake)
    assert other.export() == fake.export()
    assert other.state() == fake.state()
    assert public_view(other) == public_view(fake)


def test_the_default_world_round_trips(fake: FakeCoder) -> None:
    assert_round_trips(fake)


def test_a_json_export_round_trips_too(fake: FakeCoder) -> None:
    fake.advance(2)
    document = fake.export()
    other = FakeCoder()
    other.load_text(json.dumps(document), "exported.json")
    assert other.export() == document


def test_the_export_writes_every_record_explicitly(fake: FakeCoder) -> None:
    document = fake.export()
    assert document["settings"]["clock_start"] == "2026-01-05T09:00:00Z"
    assert all("status" not in task for task in document["tasks"])  # no task is left to be derived
    paused = next(task for task in document["tasks"] if task["id"] == PAUSED_ID)
    assert [build["transition"] for build in paused["workspace"]["builds"]] == ["start", "stop"]
    assert paused["snapshot"]["payload"]["messages"]


def lifecycle_steps(fake: FakeCoder) -> Iterator[str]:
    """Create → active → send → pause → resume → delete another, stopping at every step in between."""
    with fake.client("alice") as alice:
        task_id = create_task(alice, name="round-trip", display_name="Round trip", input="Make it round")["id"]
        yield "created"
        fake.advance(1.5)
        yield "building"
        fake.advance(3)
        yield "agent starting"
        fake.advance(10)
        assert get_task(alice, task_id)["status"] == "active"
        yield "active"
        assert alice.post(f"/api/v2/tasks/me/{task_id}/send", json={"input": "Now the edges"}).status_code == 204
        fake.advance(1)
        yield "agent working"
        fake.advance(5)
        yield "agent answered"
        assert alice.post(f"/api/v2/tasks/me/{task_id}/pause").status_code == 202
        fake.advance(1)
        yield "stopping"
        fake.advance(5)
        assert get_task(alice, task_id)["status"] == "paused"
        yield "paused"
        assert alice.post(f"/api/v2/tasks/me/{task_id}/resume").status_code == 202
        fake.advance(10)
        assert get_task(alice, task_id)["status"] == "active"
        yield "resumed"
        assert alice.delete(f"/api/v2/tasks/me/{ACTIVE_ID}").status_code == 202
        yield "deleting another"
        fake.advance(10)
        yield "deleted another"


def test_every_step_of_a_lifecycle_round_trips(fake: FakeCoder) -> None:
    steps = []
    for step in lifecycle_steps(fake):
        assert_round_trips(fake)
        steps.append(step)
    assert len(steps) == 11


def test_a_restored_world_carries_on_the_same(fake: FakeCoder) -> None:
    """Mid-transition (a build running, an answer pending), both worlds take the same next steps."""
    with fake.client("alice") as alice:
        task_id = create_task(alice, name="carry-on", display_name="Carry on")["id"]
        fake.advance(8)
        assert alice.post(f"/api/v2/tasks/me/{ACTIVE_ID}/send", json={"input": "One more"}).status_code == 204
        fake.advance(0.5)
    other = restored(fake)
    for world in (fake, other):
        world.advance(30)
        with world.client("alice") as alice:
            assert alice.post(f"/api/v2/tasks/me/{task_id}/pause").status_code == 202
        world.advance(30)
    assert other.export() == fake.export()  # the same ids drawn, the same times, the same answers
    assert public_view(other) == public_view(fake)


def test_the_same_world_through_http(fake: FakeCoder) -> None:
    with fake.client("bob") as bob:
        create_task(bob, template_version_id=AI_VERSION_ID, name="via-http", display_name="Via HTTP")
    fake.advance(2.5)
    with fake.control_client() as control:
        exported = control.get("/__fake__/state", params={"format": "yaml"}).text
        before = control.get("/__fake__/state").json()
        other = FakeCoder()
        with other.control_client() as other_control:
            response = other_control.put(
                "/__fake__/state", content=exported, headers={"content-type": "application/yaml"}
            )
            assert response.status_code == 200, response.text
            assert other_control.get("/__fake__/state").json() == before
            assert other_control.get("/__fake__/state", params={"format": "yaml"}).text == exported


# a separate process


def test_a_served_export_is_the_same_world(fake: FakeCoder, tmp_path: Path) -> None:
    lifecycle = lifecycle_steps(fake)
    for _ in range(8):  # up to "paused", with alice's other tasks as they were
        next(lifecycle)
    fake.save(tmp_path / "exported.yaml")
    with serve("--fixtures", "exported.yaml", "--clock", "manual", cwd=tmp_path) as server:
        url = server.url
        state = httpx.get(f"{url}/__fake__/state").json()
        assert state == fake.state()
        assert yaml.safe_load(httpx.get(f"{url}/__fake__/state", params={"format": "yaml"}).text) == fake.export()
        with fake.client("alice") as alice, server.client("alice-token") as served_alice:
            for path in ("/api/v2/tasks", "/api/v2/tasks/alice/round-trip", "/api/v2/tasks/alice/round-trip/logs"):
                served = served_alice.get(path)
                assert (served.status_code, served.json()) == (200, alice.get(path).json())

            # The served world moves on exactly as the in-process one does.
            resumed = served_alice.post("/api/v2/tasks/alice/round-trip/resume")
            assert resumed.status_code == 202
            assert resumed.json() == alice.post("/api/v2/tasks/alice/round-trip/resume").json()
        assert httpx.post(f"{url}/__fake__/clock/advance", json={"seconds": 20}).status_code == 200
        fake.advance(20)
        assert httpx.get(f"{url}/__fake__/state").json() == fake.state()

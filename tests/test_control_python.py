"""The control plane from Python: the same actions as `/__fake__/...`, as `FakeCoder` methods.

What an action changes is checked through the public API (an in-process client), as a client sees it.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
import yaml
from conftest import ACTIVE_ID, ERROR_ID, PAUSED_ID, PENDING_ID, create_task, get_task

import fakeserver
from fakeserver.fake import FakeCoder
from fakeserver.fixtures import FixtureError, default_fixture_path
from fakeserver.routing import ConnectionDropped
from fakeserver.timefmt import parse_time

SMALL_WORLD = """\
settings:
  seed: 4
  clock_start: "2026-03-01T08:00:00Z"
users:
  - username: yan
    tokens: [yan-token]
templates:
  - name: agent
    versions: [{name: v1}]
tasks:
  - owner: yan
    name: first
    status: paused
  - owner: yan
    name: second
    status: error
"""


def state_of(fake: FakeCoder, task_id: str) -> tuple[str, object]:
    with fake.client("admin") as admin:
        task = get_task(admin, task_id)
    return task["status"], task["current_state"]


# the world


def test_reset_returns_to_the_fixtures_and_clears_journal_and_faults(fake: FakeCoder, alice: httpx.Client) -> None:
    created = create_task(alice)
    fake.fault("listTasks", status=500)
    fake.advance(60)
    assert len(fake.requests()) == 1
    world = fake.reset()
    assert world is fake.world
    assert fake.requests() == []
    assert fake.faults.list() == []
    assert alice.get("/api/v2/tasks").status_code == 200
    assert alice.get(f"/api/v2/tasks/me/{created['id']}").status_code == 404
    assert fake.summary() == {"users": 3, "tasks": 6, "files": [str(default_fixture_path())]}
    assert fake.clock()["now"] == "2026-01-05T09:00:00Z"


def test_state_is_the_export_and_every_task(fake: FakeCoder) -> None:
    state = fake.state()
    assert state["clock"] == fake.clock()
    assert state["world"] == fake.export()
    assert {task["id"]: task["status"] for task in state["tasks"]}[PAUSED_ID] == "paused"
    assert yaml.safe_load(fake.export_yaml()) == fake.export()


def test_save_then_load(fake: FakeCoder, alice: httpx.Client, tmp_path: Path) -> None:
    created = create_task(alice, name="saved-task")
    fake.advance(4)
    saved = fake.save(tmp_path / "world.yaml")
    assert saved == tmp_path / "world.yaml"
    exported = fake.export()

    other = FakeCoder()
    other.load(saved)
    assert other.export() == exported
    assert other.fixture_paths == [saved]
    with other.client("alice") as client:
        assert get_task(client, created["id"]) == get_task(alice, created["id"])
    other.advance(100)
    other.reset()  # back to the loaded file, not to the default world
    assert other.export() == exported


def test_load_text_takes_yaml_and_json(fake: FakeCoder) -> None:
    fake.load_text(SMALL_WORLD)
    assert fake.summary() == {"users": 1, "tasks": 2, "files": ["<text>"]}
    assert [task["status"] for task in fake.state()["tasks"]] == ["paused", "error"]
    assert fake.clock()["now"] == "2026-03-01T08:00:00Z"
    fake.load_text('{"users": [{"username": "only", "tokens": ["t"]}]}', "inline.json")
    assert fake.summary() == {"users": 1, "tasks": 0, "files": ["inline.json"]}


def test_an_invalid_document_raises_and_keeps_the_world(fake: FakeCoder, tmp_path: Path) -> None:
    before = fake.export()
    with pytest.raises(FixtureError) as raised:
        fake.load_text("users:\n  - username: a\n    bogus: 1\n", "bad.yaml")
    assert str(raised.value) == (
        "bad.yaml:3: users[0].bogus: unknown key 'bogus' "
        "(known: avatar_url, email, id, name, organizations, roles, status, tokens, username)"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("tasks:\n  - owner: nobody\n", encoding="utf-8")
    with pytest.raises(FixtureError) as raised:
        fake.load(bad)
    assert (raised.value.line, raised.value.reason) == (2, "no user 'nobody' (known: none)")
    assert fake.export() == before
    assert fake.fixture_paths == [default_fixture_path()]


# the clock


def test_advance_returns_the_steps_applied(fake: FakeCoder, alice: httpx.Client) -> None:
    create_task(alice)
    assert fake.advance(1) >= 1  # the new task's job starts
    fake.load_text(SMALL_WORLD)  # nothing in motion
    assert fake.advance(100) == 0
    assert fake.clock()["now"] == "2026-03-01T08:01:40Z"
    fake.reset()  # to the loaded document, at its clock_start
    assert fake.clock()["now"] == "2026-03-01T08:00:00Z"
    with pytest.raises(ValueError, match="forward"):
        fake.advance(-1)


def test_set_clock_mode_and_speed(fake: FakeCoder) -> None:
    real = fake.set_clock("real", 500)
    assert (real["mode"], real["speed"], real["now"][:19]) == ("real", 500, "2026-01-05T09:00:00")  # no jump
    time.sleep(0.02)
    assert parse_time(fake.clock()["now"]) >= parse_time("2026-01-05T09:00:10Z")  # 20 ms at 500x
    frozen = fake.set_clock("manual")
    assert (frozen["mode"], frozen["speed"]) == ("manual", 500)
    assert fake.clock() == frozen
    assert fake.set_clock(speed=3)["speed"] == 3
    with pytest.raises(ValueError):
        fake.set_clock(speed=0)


# driving tasks


def test_every_status_from_python(fake: FakeCoder, alice: httpx.Client) -> None:
    task_id = create_task(alice)["id"]
    assert state_of(fake, task_id) == ("pending", None)
    assert fake.set_job(task_id, "running")["status"] == "initializing"
    assert fake.finish_build(task_id)["status"] == "initializing"
    assert fake.set_agent(task_id, "ready")["current_state"]["message"] == "App is initializing"
    assert fake.set_app_health(task_id, "healthy")["status"] == "active"
    assert state_of(fake, task_id) == ("active", None)
    fake.advance(0.25)
    view = fake.report_status(task_id, "complete", "All green", "https://ci.example.com/1")
    done = {
        "timestamp": "2026-01-05T09:00:00.25Z",
        "state": "complete",
        "message": "All green",
        "uri": "https://ci.example.com/1",
    }
    assert view["current_state"] == done
    assert state_of(fake, task_id) == ("active", done)
    fake.set_app_health(task_id, "unhealthy")
    assert state_of(fake, task_id) == ("error", done)
    fake.set_app_health(task_id, "disabled")
    assert state_of(fake, task_id)[0] == "active"
    fake.set_agent(task_id, "shutdown_error")
    assert state_of(fake, task_id) == ("unknown", done)
    fake.set_agent(task_id, "start_timeout")
    assert state_of(fake, task_id)[0] == "active"
    assert alice.post(f"/api/v2/tasks/me/{task_id}/pause").status_code == 202
    assert state_of(fake, task_id)[0] == "unknown"
    fake.advance(2)
    assert state_of(fake, task_id) == ("paused", done)
    assert alice.post(f"/api/v2/tasks/me/{task_id}/resume").status_code == 202
    assert state_of(fake, task_id) == ("pending", None)
    assert fake.fail_build(task_id, "quota exceeded")["status"] == "error"
    record = fake.task_record(task_id)["record"]
    assert record["workspace"]["builds"][-1]["job"]["error"] == "quota exceeded"


def test_tasks_are_named_by_id_or_owner_and_name(fake: FakeCoder) -> None:
    assert fake.task("alice/fix-login-bug")["id"] == ACTIVE_ID
    assert fake.task("ALICE/Fix-Login-Bug")["id"] == ACTIVE_ID
    assert fake.task(ACTIVE_ID.upper())["id"] == ACTIVE_ID
    assert fake.task_record("bob/add-dark-mode")["task"]["id"] == PENDING_ID
    for ref in ("alice/nothing", "nobody/fix-login-bug", "not-an-id"):
        with pytest.raises(fakeserver.NotFound) as raised:
            fake.task(ref)
        assert raised.value.message == "No such task."
        assert isinstance(raised.value, LookupError)


def test_refusals_raise_domain_errors_that_python_callers_catch_by_kind(fake: FakeCoder) -> None:
    with pytest.raises(fakeserver.Conflict, match="The job is failed, which is final"):
        fake.set_job(ERROR_ID, "succeeded")
    with pytest.raises(fakeserver.Conflict) as raised:
        fake.agent(PENDING_ID)
    assert raised.value.message == "The task has no agent yet."
    with pytest.raises(ValueError, match="Invalid lifecycle"):  # fakeserver.Invalid is a ValueError
        fake.set_agent(ACTIVE_ID, "sleeping")
    with pytest.raises(fakeserver.Invalid, match="Invalid app health"):
        fake.set_app_health(ACTIVE_ID, "great")
    with pytest.raises(fakeserver.FakeError):
        fake.fault("getTask", status=418)


def test_over_http_the_same_refusals_get_their_status(fake: FakeCoder, control: httpx.Client) -> None:
    conflict = control.put(f"/__fake__/tasks/{ERROR_ID}/job", json={"status": "succeeded"})
    assert conflict.status_code == 409 and conflict.json()["message"] == "Cannot move the job there."
    assert control.get("/__fake__/tasks/alice%2Fnothing").status_code == 404
    assert control.post("/__fake__/faults", json={"operation_id": "getTask", "status": 418}).status_code == 400


def test_agent_says_and_task_view(fake: FakeCoder, alice: httpx.Client) -> None:
    view = fake.agent_says(ACTIVE_ID, "One more thing: the tests pass.")
    assert (view["id"], view["agentapi_status"], view["in_motion"]) == (ACTIVE_ID, "stable", False)
    logs = alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}/logs").json()["logs"]
    assert logs[-1]["content"] == "One more thing: the tests pass."
    assert alice.post(f"/api/v2/tasks/me/{ACTIVE_ID}/send", json={"input": "thanks"}).status_code == 204
    assert fake.task(ACTIVE_ID)["agentapi_status"] == "running"
    assert fake.task(ACTIVE_ID)["in_motion"] is True


def test_act_as_the_agent(fake: FakeCoder, alice: httpx.Client) -> None:
    info = fake.agent(ACTIVE_ID)
    assert set(info) == {"agent_id", "agent_token", "workspace_id", "app_slug"}
    with fake.client() as agent:
        agent.headers["Coder-Session-Token"] = info["agent_token"]
        body = {"app_slug": info["app_slug"], "state": "failure", "message": "Tests fail"}
        assert agent.patch("/api/v2/workspaceagents/me/app-status", json=body).status_code == 200
    state = get_task(alice, ACTIVE_ID)["current_state"]
    assert (state["state"], state["message"]) == ("failed", "Tests fail")


# the journal and faults


def test_requests_filter_and_clear(fake: FakeCoder, alice: httpx.Client, bob: httpx.Client) -> None:
    get_task(alice, "fix-login-bug")
    assert bob.get("/api/v2/tasks").status_code == 200
    assert [entry.operation_id for entry in fake.requests()] == ["getTask", "listTasks"]
    (by_alice,) = fake.requests(user="alice")
    assert (by_alice.task_id, by_alice.token, by_alice.status) == (ACTIVE_ID, "al…", 200)
    assert fake.requests(task=ACTIVE_ID) == [by_alice]
    assert [entry.user for entry in fake.requests(operation="listTasks")] == ["bob"]
    fake.clear_requests()
    assert fake.requests() == []


def test_fault_from_python(fake: FakeCoder, alice: httpx.Client) -> None:
    fault = fake.fault("getTask", status=404, count=1)
    assert fault.to_json()["body"] == {"message": "Resource not found or you do not have access to this resource"}
    assert alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}").status_code == 404
    assert alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}").status_code == 200
    fake.fault("listTasks", latency_ms=50)
    started = time.perf_counter()
    assert alice.get("/api/v2/tasks").status_code == 200
    assert time.perf_counter() - started >= 0.05
    fake.clear_faults()
    assert fake.faults.list() == []


@pytest.mark.parametrize(
    ("operation", "options", "message"),
    [
        ("getTask", {"status": 418}, "The spec does not allow this fault."),
        ("getTask", {"status": 500, "body": {"nope": True}}, "The spec does not allow this fault."),
        ("noSuchOperation", {"status": 500}, "Unknown operation."),
        ("getTask", {"stauts": 500}, "Invalid fault."),  # a typo is not a fault that hits every call
        ("getTask", {"status": 500, "count": 0}, "Invalid fault."),
        ("getTask", {"latency_ms": "50"}, "Invalid fault."),
    ],
)
def test_fault_outside_the_spec_raises(
    fake: FakeCoder, operation: str, options: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError) as raised:
        fake.fault(operation, **options)
    assert str(raised.value).startswith(message)
    assert fake.faults.list() == []


def test_drop_from_python(fake: FakeCoder, alice: httpx.Client) -> None:
    fake.fault("listTasks", drop=True)
    with pytest.raises((ConnectionDropped, httpx.RemoteProtocolError)):
        alice.get("/api/v2/tasks")


# clients


def test_clients_sign_in_as_a_user_or_no_one(fake: FakeCoder) -> None:
    with fake.client("bob") as bob, fake.client() as anonymous:
        assert bob.get("/api/v2/tasks").json()["count"] == 3
        assert anonymous.get("/api/v2/tasks").status_code == 401
        assert anonymous.get("/__fake__/clock").status_code == 200
    with pytest.raises(fakeserver.NotFound, match="No user 'nobody' with a token"):
        fake.client("nobody")


def test_async_client(fake: FakeCoder) -> None:
    async def scenario() -> tuple[int, int, int]:
        async with fake.async_client("alice") as alice, fake.async_client() as control:
            listed = await alice.get("/api/v2/tasks")
            advanced = await control.post("/__fake__/clock/advance", json={"seconds": 1})
            fake.fault("getTask", status=500, count=1)
            faulted = await alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}")
            return listed.status_code, advanced.status_code, faulted.status_code

    assert asyncio.run(scenario()) == (200, 200, 500)
    assert [entry.operation_id for entry in fake.requests()] == ["listTasks", "getTask"]

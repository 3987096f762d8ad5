"""The control plane over HTTP (openapi/control.yaml): every `/__fake__` operation, called without a token.

Where an action changes a task, the change is checked where a client sees it:
the public task API (`GET /api/v2/tasks/{user}/{task}`), not the control plane's own view.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from conftest import (
    ACTIVE_ID,
    AI_VERSION_ID,
    ERROR_ID,
    INITIALIZING_ID,
    PAUSED_ID,
    PENDING_ID,
    UNKNOWN_ID,
    create_task,
    get_task,
)

from fakeserver.fake import FakeCoder
from fakeserver.fixtures import default_fixture_path
from fakeserver.routing import ConnectionDropped
from fakeserver.timefmt import parse_time

NO_SUCH_TASK = "No such task."
CONTROL_OPERATIONS = {
    "getControlSpec",
    "resetWorld",
    "getState",
    "putState",
    "getClock",
    "setClock",
    "advanceClock",
    "getTaskRecord",
    "setTaskJob",
    "getTaskAgent",
    "setTaskAgent",
    "setTaskApp",
    "reportTaskAppStatus",
    "appendAgentOutput",
    "waitForTask",
    "listRequests",
    "listStalledWaits",
    "clearRequests",
    "listFaults",
    "addFault",
    "clearFaults",
    "listWorlds",
    "deleteWorld",
}
SMALL_WORLD = """\
settings:
  seed: 9
  clock_start: "2026-02-01T12:00:00Z"
users:
  - username: zoe
    tokens: [zoe-token]
templates:
  - name: agent
    versions: [{name: v1}]
tasks:
  - owner: zoe
    name: only-task
    prompt: Do the one thing.
    status: active
"""


def task_path(task_id: str, action: str = "") -> str:
    return f"/__fake__/tasks/{task_id}{action}"


def status_and_state(client: httpx.Client, task_id: str) -> tuple[str, Any]:
    task = get_task(client, task_id)
    return task["status"], task["current_state"]


def working(message: str, timestamp: str) -> dict[str, str]:
    return {"timestamp": timestamp, "state": "working", "message": message, "uri": ""}


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


# the control spec and reset


def test_control_needs_no_token_and_serves_its_spec(control: httpx.Client) -> None:
    spec = ok(control.get("/__fake__/openapi.json"))
    assert spec["info"]["title"] == "fakeserver control API"
    operations = {op["operationId"] for item in spec["paths"].values() for op in item.values() if "operationId" in op}
    assert operations == CONTROL_OPERATIONS
    assert "/tasks/{task}/job" in spec["paths"]


def test_reset_returns_to_the_loaded_fixtures(fake: FakeCoder, control: httpx.Client, alice: httpx.Client) -> None:
    created = create_task(alice)
    ok(control.post("/__fake__/faults", json={"operation_id": "listTasks", "latency_ms": 1}), 201)
    fake.advance(30)
    assert ok(control.get("/__fake__/requests"))["count"] == 1
    summary = ok(control.post("/__fake__/reset"))
    assert summary == {"users": 3, "tasks": 6, "files": [str(default_fixture_path())]}
    assert ok(control.get("/__fake__/requests")) == {"requests": [], "count": 0, "first_id": 2, "last_id": 1}
    assert ok(control.get("/__fake__/faults")) == {"faults": []}
    assert ok(control.get("/__fake__/clock"))["now"] == "2026-01-05T09:00:00Z"
    assert alice.get(f"/api/v2/tasks/me/{created['id']}").status_code == 404
    assert get_task(alice, ACTIVE_ID)["status"] == "active"  # the fixtures' tasks, not an empty world


def test_reset_after_a_put_returns_to_the_put_world(fake: FakeCoder, control: httpx.Client) -> None:
    ok(control.put("/__fake__/state", content=SMALL_WORLD, headers={"content-type": "application/yaml"}))
    with fake.client("zoe") as zoe:
        create_task(zoe, template_version_id=fake.export()["templates"][0]["versions"][0]["id"])
        assert ok(zoe.get("/api/v2/tasks"))["count"] == 2
        assert ok(control.post("/__fake__/reset"))["tasks"] == 1
        assert ok(zoe.get("/api/v2/tasks"))["count"] == 1


# the state


def test_get_state_is_the_world_and_every_task(fake: FakeCoder, control: httpx.Client) -> None:
    state = ok(control.get("/__fake__/state"))
    assert state["clock"] == {"now": "2026-01-05T09:00:00Z", "mode": "manual", "speed": 1.0}
    assert state["world"] == fake.export()
    statuses = {task["id"]: task["status"] for task in state["tasks"]}
    assert statuses == {
        ACTIVE_ID: "active",
        PAUSED_ID: "paused",
        ERROR_ID: "error",
        PENDING_ID: "pending",
        INITIALIZING_ID: "initializing",
        UNKNOWN_ID: "unknown",
    }
    assert {task["agentapi_status"] for task in state["tasks"]} <= {"running", "stable"}


def test_get_state_as_yaml_is_the_fixture_document(control: httpx.Client) -> None:
    response = control.get("/__fake__/state", params={"format": "yaml"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(response.text) == ok(control.get("/__fake__/state"))["world"]


@pytest.mark.parametrize("media_type", ["application/yaml", "application/json"])
def test_put_state_loads_a_document(control: httpx.Client, media_type: str) -> None:
    text = SMALL_WORLD if media_type == "application/yaml" else json.dumps(yaml.safe_load(SMALL_WORLD))
    summary = ok(control.put("/__fake__/state", content=text, headers={"content-type": media_type}))
    assert summary == {"users": 1, "tasks": 1, "files": ["PUT /__fake__/state"]}
    state = ok(control.get("/__fake__/state"))
    assert state["clock"]["now"] == "2026-02-01T12:00:00Z"
    assert [(task["name"], task["status"]) for task in state["tasks"]] == [("only-task", "active")]
    assert [user["username"] for user in state["world"]["users"]] == ["zoe"]


def test_what_get_state_gives_put_state_takes_back(fake: FakeCoder, control: httpx.Client) -> None:
    fake.advance(3)  # tasks in the middle of their transitions
    before = ok(control.get("/__fake__/state"))
    ok(control.post("/__fake__/reset"))
    ok(control.put("/__fake__/state", content=json.dumps(before), headers={"content-type": "application/json"}))
    assert ok(control.get("/__fake__/state")) == before


@pytest.mark.parametrize(
    ("document", "detail", "field"),
    [
        (
            "users:\n  - username: a\n    bogus: 1\n",
            "line 3: users[0].bogus: unknown key 'bogus' "
            "(known: avatar_url, email, id, name, organizations, roles, status, tokens, username)",
            "users[0].bogus",
        ),
        ("tasks:\n  - owner: nobody\n", "line 2: tasks[0].owner: no user 'nobody' (known: none)", "tasks[0].owner"),
        ("users: [\n", "line 2: (document): not valid YAML: expected the node content", "(document)"),
        ("[1, 2]", "line 1: (document): a fixture file is a mapping of sections", "(document)"),
        ('{"settings": {"seed": "x"}}', "line 1: settings.seed: ", "settings.seed"),
    ],
)
def test_an_invalid_document_is_400_and_the_world_stays(
    control: httpx.Client, alice: httpx.Client, document: str, detail: str, field: str
) -> None:
    before = ok(control.get("/__fake__/state"))
    response = control.put("/__fake__/state", content=document, headers={"content-type": "application/yaml"})
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "Invalid fixture document."
    assert body["detail"].startswith(detail)
    assert "PUT /__fake__/state" not in body["detail"]  # a location in the document, not a file name
    assert [validation["field"] for validation in body["validations"]] == [field]
    assert ok(control.get("/__fake__/state")) == before
    assert get_task(alice, ACTIVE_ID)["status"] == "active"


def test_an_empty_document_is_refused_rather_than_emptying_the_world(control: httpx.Client) -> None:
    response = control.put("/__fake__/state", content="", headers={"content-type": "application/yaml"})
    assert response.status_code == 400
    assert response.json()["message"] == "Invalid fixture document."
    assert ok(control.get("/__fake__/clock"))  # still served
    assert len(ok(control.get("/__fake__/state"))["tasks"]) == 6


# the clock


def test_clock_advance_applies_what_falls_due(control: httpx.Client, alice: httpx.Client) -> None:
    created = create_task(alice)
    clock = ok(control.post("/__fake__/clock/advance", json={"seconds": 1.5}))
    assert clock["now"] == "2026-01-05T09:00:01.5Z"
    assert clock["mode"] == "manual"
    assert clock["applied"] >= 1  # at least the new task's job started running
    assert get_task(alice, created["id"])["workspace_status"] == "starting"
    assert ok(control.get("/__fake__/clock"))["now"] == "2026-01-05T09:00:01.5Z"
    assert ok(control.post("/__fake__/clock/advance", json={"seconds": 0}))["applied"] == 0


@pytest.mark.parametrize("body", [{"seconds": -1}, {}, {"seconds": "5"}, {"seconds": 1, "extra": 1}])
def test_clock_advance_refuses_a_bad_body(control: httpx.Client, body: dict[str, Any]) -> None:
    response = control.post("/__fake__/clock/advance", json=body)
    assert response.status_code == 400
    assert response.json()["message"] == "Invalid request body."


def test_clock_switches_mode_and_speed(control: httpx.Client) -> None:
    real = ok(control.put("/__fake__/clock", json={"mode": "real", "speed": 1000}))
    assert (real["mode"], real["speed"]) == ("real", 1000)
    time.sleep(0.05)
    moved = parse_time(ok(control.get("/__fake__/clock"))["now"])
    assert moved >= parse_time("2026-01-05T09:00:50Z")  # 50 ms of wall time at 1000x
    manual = ok(control.put("/__fake__/clock", json={"mode": "manual"}))
    assert (manual["mode"], manual["speed"]) == ("manual", 1000)
    time.sleep(0.01)
    assert ok(control.get("/__fake__/clock"))["now"] == manual["now"]  # frozen again, no jump back
    assert parse_time(manual["now"]) >= moved
    assert ok(control.put("/__fake__/clock", json={"speed": 2}))["speed"] == 2


@pytest.mark.parametrize("body", [{"speed": 0}, {"mode": "fast"}, {"speed": 10001}])
def test_clock_refuses_a_bad_setting(control: httpx.Client, body: dict[str, Any]) -> None:
    assert control.put("/__fake__/clock", json=body).status_code == 400


# driving a task through every status of §3.1


def test_every_status_through_the_control_api(fake: FakeCoder, control: httpx.Client, alice: httpx.Client) -> None:
    task_id = create_task(alice)["id"]
    created = "2026-01-05T09:00:00Z"
    assert status_and_state(alice, task_id) == ("pending", None)

    ok(control.put(task_path(task_id, "/job"), json={"status": "running"}))
    assert status_and_state(alice, task_id) == ("initializing", working("Workspace is starting", created))
    ok(control.put(task_path(task_id, "/job"), json={"status": "succeeded"}))
    assert status_and_state(alice, task_id) == ("initializing", working("Agent is connecting", created))
    ok(control.patch(task_path(task_id, "/agent"), json={"lifecycle": "starting"}))
    assert status_and_state(alice, task_id) == ("initializing", working("Agent is starting", created))
    ok(control.patch(task_path(task_id, "/agent"), json={"lifecycle": "ready"}))
    assert status_and_state(alice, task_id) == ("initializing", working("App is initializing", created))

    view = ok(control.patch(task_path(task_id, "/app"), json={"health": "healthy"}))
    assert (view["status"], view["current_state"]) == ("active", None)  # no app status reported yet
    assert status_and_state(alice, task_id) == ("active", None)

    ok(control.post("/__fake__/clock/advance", json={"seconds": 1}))
    ok(control.post(task_path(task_id, "/app-status"), json={"state": "idle", "message": "Ready", "uri": "u://1"}))
    idle = {"timestamp": "2026-01-05T09:00:01Z", "state": "idle", "message": "Ready", "uri": "u://1"}
    assert status_and_state(alice, task_id) == ("active", idle)

    ok(control.patch(task_path(task_id, "/app"), json={"health": "unhealthy"}))
    assert status_and_state(alice, task_id) == ("error", idle)
    ok(control.patch(task_path(task_id, "/app"), json={"health": "healthy"}))
    ok(control.patch(task_path(task_id, "/agent"), json={"lifecycle": "off"}))
    assert status_and_state(alice, task_id) == ("unknown", idle)
    ok(control.patch(task_path(task_id, "/agent"), json={"lifecycle": "ready"}))
    assert status_and_state(alice, task_id) == ("active", idle)

    assert alice.post(f"/api/v2/tasks/me/{task_id}/pause").status_code == 202
    assert status_and_state(alice, task_id) == ("unknown", idle)  # the stop job is pending
    ok(control.put(task_path(task_id, "/job"), json={"status": "succeeded"}))
    assert status_and_state(alice, task_id) == ("paused", idle)  # after a stop the last status still shows

    ok(control.post("/__fake__/clock/advance", json={"seconds": 1}))
    assert alice.post(f"/api/v2/tasks/me/{task_id}/resume").status_code == 202
    assert status_and_state(alice, task_id) == ("pending", None)  # pending: no synthetic state (§3.2)
    ok(control.put(task_path(task_id, "/job"), json={"status": "failed", "error": "no capacity"}))
    assert status_and_state(alice, task_id) == ("error", None)  # the old status predates this start build
    record = ok(control.get(task_path(task_id)))["record"]
    assert record["workspace"]["builds"][-1]["job"]["status"] == "failed"
    assert record["workspace"]["builds"][-1]["job"]["error"] == "no capacity"

    seen = ok(control.get(task_path(task_id)))["task"]
    assert (seen["status"], seen["in_motion"]) == ("error", False)


def test_the_clock_alone_takes_a_task_to_active(control: httpx.Client, alice: httpx.Client) -> None:
    task_id = create_task(alice, input="")["id"]
    steps = []
    for seconds in (1, 2, 0.5, 1, 0.5):
        ok(control.post("/__fake__/clock/advance", json={"seconds": seconds}))
        steps.append(status_and_state(alice, task_id)[0])
    assert steps == ["initializing", "initializing", "initializing", "initializing", "active"]


def test_a_canceled_build_is_an_error(control: httpx.Client, alice: httpx.Client) -> None:
    task_id = create_task(alice)["id"]
    ok(control.put(task_path(task_id, "/job"), json={"status": "canceling"}))
    assert status_and_state(alice, task_id) == ("error", None)
    ok(control.put(task_path(task_id, "/job"), json={"status": "canceled"}))
    assert status_and_state(alice, task_id) == ("error", None)


# task actions: answers and refusals


def test_task_record_shows_the_task_and_its_records(control: httpx.Client, alice: httpx.Client) -> None:
    body = ok(control.get(task_path(PAUSED_ID)))
    assert body["task"]["status"] == get_task(alice, PAUSED_ID)["status"] == "paused"
    transitions = [build["transition"] for build in body["record"]["workspace"]["builds"]]
    assert transitions == ["start", "stop"]
    assert body["record"]["snapshot"]["format"] == "agentapi"


@pytest.mark.parametrize("ref", ["nope", "00000000-0000-4000-8000-000000000000", "alice%2Fno-such-task"])
def test_an_unknown_task_is_404(control: httpx.Client, ref: str) -> None:
    response = control.get(task_path(ref))
    assert response.status_code == 404
    assert response.json()["message"] in (NO_SUCH_TASK, "Route not found.")


def test_a_task_can_be_named_owner_slash_name(control: httpx.Client) -> None:
    response = control.get(task_path("alice%2Ffix-login-bug"))
    assert response.status_code == 200, response.text
    assert response.json()["task"]["id"] == ACTIVE_ID


def test_a_deleted_task_is_no_longer_driven(control: httpx.Client, alice: httpx.Client) -> None:
    assert alice.delete(f"/api/v2/tasks/me/{ACTIVE_ID}").status_code == 202
    response = control.put(task_path(ACTIVE_ID, "/job"), json={"status": "failed"})
    assert response.status_code == 404
    assert response.json()["message"] == NO_SUCH_TASK


def test_a_job_cannot_move_backwards(control: httpx.Client) -> None:
    response = control.put(task_path(ERROR_ID, "/job"), json={"status": "succeeded"})
    assert response.status_code == 409
    assert response.json() == {
        "message": "Cannot move the job there.",
        "detail": "The job is failed, which is final; start a new build instead.",
    }


@pytest.mark.parametrize(
    ("task", "status", "detail"),
    [
        (ACTIVE_ID, "failed", "The job is succeeded, which is final; start a new build instead."),
        (ERROR_ID, "failed", "The job is failed, which is final; start a new build instead."),
    ],
)
def test_only_the_provisioners_moves_are_allowed(control: httpx.Client, task: str, status: str, detail: str) -> None:
    response = control.put(task_path(task, "/job"), json={"status": status})
    assert response.status_code == 409, response.text
    assert response.json()["detail"] == detail


def test_a_move_to_where_the_job_is_already_is_refused(control: httpx.Client) -> None:
    ok(control.put(task_path(PENDING_ID, "/job"), json={"status": "running"}))
    again = control.put(task_path(PENDING_ID, "/job"), json={"status": "running"})
    assert again.status_code == 409
    assert again.json()["detail"] == "The job is running, it can become succeeded, failed, canceling or canceled."


def test_a_canceling_job_ends_canceled_or_failed(control: httpx.Client) -> None:
    ok(control.put(task_path(PENDING_ID, "/job"), json={"status": "canceling"}))
    refused = control.put(task_path(PENDING_ID, "/job"), json={"status": "succeeded"})
    assert refused.json()["detail"] == "The job is canceling, it can become canceled or failed."
    assert ok(control.put(task_path(PENDING_ID, "/job"), json={"status": "canceled"}))["status"] == "error"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/job", {"status": "pending"}),
        ("/agent", {"lifecycle": "dancing"}),
        ("/app", {"health": "great"}),
        ("/app-status", {"state": "failed"}),
        ("/output", {}),
    ],
)
def test_a_bad_action_body_is_400(control: httpx.Client, path: str, body: dict[str, Any]) -> None:
    method = {"/job": "PUT", "/agent": "PATCH", "/app": "PATCH"}.get(path, "POST")
    response = control.request(method, task_path(ACTIVE_ID, path), json=body)
    assert response.status_code == 400
    assert response.json()["message"] == "Invalid request body."


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/agent", None),
        ("PATCH", "/agent", {"lifecycle": "ready"}),
        ("PATCH", "/app", {"health": "healthy"}),
        ("POST", "/app-status", {"state": "idle"}),
        ("POST", "/output", {"content": "hi"}),
    ],
)
def test_agent_actions_need_an_agent(control: httpx.Client, method: str, path: str, body: Any) -> None:
    response = control.request(method, task_path(PENDING_ID, path), json=body)
    assert response.status_code == 409
    assert response.json()["message"] == "The task has no agent yet."


def test_agent_output_shows_in_the_logs(control: httpx.Client, alice: httpx.Client) -> None:
    ok(control.post(task_path(ACTIVE_ID, "/output"), json={"content": "Also updated the changelog."}))
    logs = ok(alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}/logs"))["logs"]
    assert (logs[-1]["type"], logs[-1]["content"]) == ("output", "Also updated the changelog.")


def test_a_disconnected_agent_cannot_be_reached(control: httpx.Client, alice: httpx.Client) -> None:
    view = ok(control.patch(task_path(ACTIVE_ID, "/agent"), json={"disconnected": True}))
    assert view["workspace_agent_health"] == {"healthy": False, "reason": "agent has lost connection"}
    response = alice.post(f"/api/v2/tasks/me/{ACTIVE_ID}/send", json={"input": "hello?"})
    assert (response.status_code, response.json()) == (502, {"message": "Failed to reach task app endpoint."})
    ok(control.patch(task_path(ACTIVE_ID, "/agent"), json={"disconnected": False}))
    assert alice.post(f"/api/v2/tasks/me/{ACTIVE_ID}/send", json={"input": "hello?"}).status_code == 204


# acting as the agent


def test_the_agent_token_moves_current_state(fake: FakeCoder, control: httpx.Client, alice: httpx.Client) -> None:
    info = ok(control.get(task_path(ACTIVE_ID, "/agent")))
    assert info["agent_id"] == get_task(alice, ACTIVE_ID)["workspace_agent_id"]
    assert info["workspace_id"] == get_task(alice, ACTIVE_ID)["workspace_id"]
    fake.advance(5)
    with fake.client() as agent:
        agent.headers["Coder-Session-Token"] = info["agent_token"]
        body = {"app_slug": info["app_slug"], "state": "working", "message": "Reading the code", "uri": ""}
        response = agent.patch("/api/v2/workspaceagents/me/app-status", json=body)
    assert response.status_code == 200, response.text
    assert get_task(alice, ACTIVE_ID)["current_state"] == working("Reading the code", "2026-01-05T09:00:05Z")
    (entry,) = ok(control.get("/__fake__/requests", params={"operation": "patchWorkspaceAgentAppStatus"}))["requests"]
    assert entry["user"] == f"agent:{info['agent_id']}"
    assert info["agent_token"] not in json.dumps(entry)


# the journal


def test_the_journal_records_what_a_client_sent(fake: FakeCoder, control: httpx.Client, alice: httpx.Client) -> None:
    fake.advance(2)
    assert alice.post("/api/v2/tasks/alice/fix-login-bug/send", json={"input": "and the logout?"}).status_code == 204
    (entry,) = ok(control.get("/__fake__/requests"))["requests"]
    assert entry | {"id": 0, "duration_ms": 0} == {
        "id": 0,
        "time": "2026-01-05T09:00:02Z",
        "method": "POST",
        "path": "/api/v2/tasks/alice/fix-login-bug/send",
        "query": {},
        "body": {"input": "and the logout?"},
        "operation_id": "sendTaskInput",
        "task_id": ACTIVE_ID,  # resolved from the name
        "user": "alice",
        "token": "al…",
        "status": 204,
        "response": None,
        "duration_ms": 0,
    }
    assert entry["duration_ms"] >= 0


def test_the_journal_keeps_queries_answers_and_order(control: httpx.Client, alice: httpx.Client) -> None:
    listed = ok(alice.get("/api/v2/tasks", params={"q": "status:active"}))
    created = create_task(alice, input="Write a changelog")
    entries = ok(control.get("/__fake__/requests"))
    assert entries["count"] == 2
    first, second = entries["requests"]
    assert first["id"] < second["id"]
    assert (first["operation_id"], first["query"], first["response"]) == ("listTasks", {"q": "status:active"}, listed)
    assert (second["operation_id"], second["task_id"], second["status"]) == ("createTask", created["id"], 201)
    assert second["body"] == {"template_version_id": AI_VERSION_ID, "input": "Write a changelog"}


def test_the_journal_filters(control: httpx.Client, alice: httpx.Client, bob: httpx.Client) -> None:
    get_task(alice, ACTIVE_ID)
    assert alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}/logs").status_code == 200
    get_task(bob, PENDING_ID)
    assert bob.get(f"/api/v2/tasks/me/{ACTIVE_ID}").status_code == 404

    def ids(**params: str) -> list[tuple[str, str | None, str]]:
        found = ok(control.get("/__fake__/requests", params=params))["requests"]
        return [(entry["operation_id"], entry["task_id"], entry["user"]) for entry in found]

    assert ids(operation="getTaskLogs") == [("getTaskLogs", ACTIVE_ID, "alice")]
    assert ids(user="bob") == [("getTask", PENDING_ID, "bob"), ("getTask", None, "bob")]  # bob may not see it
    assert ids(task=ACTIVE_ID) == [("getTask", ACTIVE_ID, "alice"), ("getTaskLogs", ACTIVE_ID, "alice")]
    assert ids(operation="getTask", user="alice") == [("getTask", ACTIVE_ID, "alice")]
    assert ids(user="nobody") == []


def test_a_faulted_call_is_journaled_with_its_caller_and_task(control: httpx.Client, alice: httpx.Client) -> None:
    add_fault(control, operation_id="getTask", status=500, count=1)
    assert alice.get("/api/v2/tasks/alice/fix-login-bug").status_code == 500
    (entry,) = ok(control.get("/__fake__/requests", params={"user": "alice"}))["requests"]
    assert (entry["status"], entry["task_id"]) == (500, ACTIVE_ID)


def test_an_agents_calls_are_journaled_under_its_task(fake: FakeCoder, control: httpx.Client) -> None:
    token = ok(control.get(task_path(ACTIVE_ID, "/agent")))["agent_token"]
    with fake.client() as agent:
        agent.headers["Coder-Session-Token"] = token
        body = {"app_slug": "ai", "state": "complete", "message": "Done"}
        assert agent.patch("/api/v2/workspaceagents/me/app-status", json=body).status_code == 200
    (entry,) = ok(control.get("/__fake__/requests", params={"task": ACTIVE_ID}))["requests"]
    assert entry["operation_id"] == "patchWorkspaceAgentAppStatus"


def test_tokens_never_appear_in_the_journal(fake: FakeCoder, control: httpx.Client) -> None:
    agent_token = ok(control.get(task_path(ACTIVE_ID, "/agent")))["agent_token"]
    with fake.client() as anonymous:
        assert anonymous.get("/api/v2/tasks", params={"coder_session_token": "alice-token"}).status_code == 200
        anonymous.cookies.set("coder_session_token", "bob-token")
        assert anonymous.get("/api/v2/tasks").status_code == 200
        anonymous.cookies.clear()
        headers = {"Coder-Session-Token": "admin-token"}
        assert anonymous.get(f"/api/v2/tasks/me/{ACTIVE_ID}", headers=headers).status_code == 200
        headers = {"Coder-Session-Token": "not-a-real-token-123"}
        assert anonymous.get("/api/v2/tasks", headers=headers).status_code == 401
        headers = {"Coder-Session-Token": agent_token}
        body = {"app_slug": "ai", "state": "idle", "message": ""}
        assert anonymous.patch("/api/v2/workspaceagents/me/app-status", json=body, headers=headers).status_code == 200
    journal = control.get("/__fake__/requests")
    entries = journal.json()["requests"]
    assert [entry["user"] for entry in entries[:3]] == ["alice", "bob", "admin"]
    assert entries[0]["query"] == {"coder_session_token": "al…"}
    for secret in ("alice-token", "bob-token", "admin-token", "not-a-real-token-123", agent_token):
        assert secret not in journal.text


def test_a_poller_gets_only_what_is_new(fake: FakeCoder, control: httpx.Client, alice: httpx.Client) -> None:
    for _ in range(5):
        get_task(alice, ACTIVE_ID)
    first = ok(control.get("/__fake__/requests", params={"limit": 2}))
    assert [entry["id"] for entry in first["requests"]] == [4, 5]  # the newest two, oldest first
    assert (first["count"], first["first_id"], first["last_id"]) == (2, 1, 5)
    assert ok(control.get("/__fake__/requests", params={"since": 5}))["requests"] == []
    alice.get("/api/v2/tasks")
    newer = ok(control.get("/__fake__/requests", params={"since": 5}))
    assert [entry["operation_id"] for entry in newer["requests"]] == ["listTasks"]
    filtered = ok(control.get("/__fake__/requests", params={"since": 2, "operation": "getTask"}))
    assert [entry["id"] for entry in filtered["requests"]] == [3, 4, 5]
    assert [entry.id for entry in fake.requests("getTask", since=3, limit=1)] == [5]
    assert control.get("/__fake__/requests", params={"since": "-1"}).status_code == 400


def test_the_journal_holds_a_task_answer_without_a_copy_of_its_body(alice: httpx.Client, fake: FakeCoder) -> None:
    """Polling one task records each answer, but the body is the task's encoded bytes, which the
    world keeps anyway: 500 polls hold far less than 500 bodies."""
    body = get_task(alice, ACTIVE_ID)  # the task is encoded and kept now
    size = len(json.dumps(body))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(500):
            get_task(alice, ACTIVE_ID)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert [entry.response for entry in fake.requests("getTask")][-1] == body  # what was answered
    assert size > 1000
    assert grown < 500 * size, (grown, size)  # less than one body a poll: each would hold one more


def test_the_journal_is_bounded_in_bytes_as_well_as_entries() -> None:
    from fakeserver.journal import BODY_LIMIT, Journal, JournalEntry

    journal = Journal(limit=1_000, max_bytes=100 * 1024)
    for _ in range(50):
        entry = JournalEntry(
            journal.next_id(),
            datetime(2026, 1, 1, tzinfo=UTC),
            "GET",
            "/",
            {},
            b"",
            "listTasks",
            None,
            "",
            "",
            200,
            (b"x" * 12_000, b"y" * 8_000),
            1.0,
        )
        journal.record(entry)
    assert journal.size_bytes <= 100 * 1024
    kept = journal.entries()
    assert [entry.id for entry in kept] == list(range(51 - len(kept), 51))  # the newest
    assert kept[0].response_bytes == b"x" * 12_000 + b"y" * (BODY_LIMIT - 12_000)  # cut across its parts
    assert journal.first_id == kept[0].id


def test_control_calls_are_not_journaled_and_the_journal_clears(control: httpx.Client, alice: httpx.Client) -> None:
    get_task(alice, ACTIVE_ID)
    ok(control.get("/__fake__/state"))
    ok(control.post("/__fake__/clock/advance", json={"seconds": 1}))
    assert ok(control.get("/__fake__/requests"))["count"] == 1
    assert control.delete("/__fake__/requests").status_code == 204
    assert ok(control.get("/__fake__/requests")) == {"requests": [], "count": 0, "first_id": 2, "last_id": 1}
    get_task(alice, ACTIVE_ID)
    ok(control.post("/__fake__/reset"))
    assert ok(control.get("/__fake__/requests"))["count"] == 0


# faults


def add_fault(control: httpx.Client, **body: Any) -> dict[str, Any]:
    fault: dict[str, Any] = ok(control.post("/__fake__/faults", json=body), 201)
    return fault


@pytest.mark.parametrize(
    ("body", "message", "detail"),
    [
        (
            {"operation_id": "getTask", "status": 418},
            "The spec does not allow this fault.",
            "status is not declared (getTask declares 200, 400, 401, 404, 500).",
        ),
        (
            {"operation_id": "getTask", "status": 404, "body": {"error": "gone"}},
            "The spec does not allow this fault.",
            "'error' was unexpected",
        ),
        (
            {"operation_id": "getTask", "status": 200, "body": {"id": "x"}},
            "The spec does not allow this fault.",
            "is a required property",
        ),
        ({"operation_id": "getTasks", "status": 500}, "Unknown operation.", "No operation 'getTasks' in the spec."),
        ({"operation_id": "resetWorld", "status": 500}, "Unknown operation.", "No operation 'resetWorld' in the spec."),
        ({"operation_id": "getTask"}, "A fault needs a latency, a status or drop.", None),
        ({"operation_id": "getTask", "body": {"message": "x"}}, "A fault body needs a status.", None),
        ({"operation_id": "getTask", "stauts": 500}, "Invalid fault.", "'stauts' was unexpected"),
        ({"operation_id": "getTask", "status": 500, "probability": 2}, "Invalid fault.", "maximum of 1"),
        ({"operation_id": "getTask", "latency_ms": [50, 10]}, "Invalid latency.", "lower end is above its upper end"),
    ],
)
def test_a_fault_outside_the_spec_is_refused(
    control: httpx.Client, body: dict[str, Any], message: str, detail: str | None
) -> None:
    response = control.post("/__fake__/faults", json=body)
    assert response.status_code == 400
    assert response.json()["message"] == message
    if detail is not None:
        assert detail in response.json()["detail"]
    assert ok(control.get("/__fake__/faults")) == {"faults": []}
    assert add_fault(control, operation_id="getTask", status=500)["id"] == 1  # a refusal takes no id


def test_a_status_fault_hits_the_next_n_calls(control: httpx.Client, alice: httpx.Client) -> None:
    fault = add_fault(control, operation_id="getTask", status=500, count=2)
    assert fault == {
        "id": 1,
        "operation_id": "getTask",
        "hits": 0,
        "seed": 0,
        "status": 500,
        "count": 2,
        "body": {"message": "An internal server error occurred (injected fault)."},
    }
    first = alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}")
    assert (first.status_code, first.json()) == (500, fault["body"])
    assert ok(control.get("/__fake__/faults"))["faults"][0]["hits"] == 1
    assert alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}").status_code == 500
    assert alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}").status_code == 200
    assert ok(control.get("/__fake__/faults")) == {"faults": []}  # spent
    assert alice.get("/api/v2/tasks").status_code == 200  # other operations were never hit
    statuses = [entry["status"] for entry in ok(control.get("/__fake__/requests"))["requests"]]
    assert statuses == [500, 500, 200, 200]


def test_a_fault_can_answer_a_declared_body(control: httpx.Client, alice: httpx.Client) -> None:
    add_fault(control, operation_id="sendTaskInput", status=409, body={"message": "Busy.", "detail": "Status: running"})
    response = alice.post(f"/api/v2/tasks/me/{ACTIVE_ID}/send", json={"input": "hi"})
    assert (response.status_code, response.json()) == (409, {"message": "Busy.", "detail": "Status: running"})


def test_a_seeded_probability_repeats_its_pattern(control: httpx.Client, alice: httpx.Client) -> None:
    def pattern(seed: int) -> list[int]:
        ok(control.post("/__fake__/reset"))
        add_fault(control, operation_id="listTasks", status=500, probability=0.5, seed=seed)
        return [alice.get("/api/v2/tasks").status_code for _ in range(16)]

    first = pattern(7)
    assert set(first) == {200, 500}
    assert pattern(7) == first
    assert pattern(8) != first


def test_latency_delays_the_answer(control: httpx.Client, alice: httpx.Client) -> None:
    add_fault(control, operation_id="getTask", latency_ms=300)  # far above a request's cost on a busy machine
    started = time.perf_counter()
    response = alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}")
    assert time.perf_counter() - started >= 0.3
    assert response.status_code == 200  # slow, not failed
    ok(control.delete("/__fake__/faults"), 204)
    started = time.perf_counter()
    get_task(alice, ACTIVE_ID)
    assert time.perf_counter() - started < 0.3


def test_drop_cuts_the_connection(control: httpx.Client, alice: httpx.Client) -> None:
    add_fault(control, operation_id="getTask", drop=True, count=1)
    with pytest.raises((ConnectionDropped, httpx.RemoteProtocolError)):
        alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}")
    assert get_task(alice, ACTIVE_ID)["id"] == ACTIVE_ID  # only the next call


def test_faults_are_removed_one_or_all(control: httpx.Client, alice: httpx.Client) -> None:
    slow = add_fault(control, operation_id="listTasks", latency_ms=[1, 2])
    failing = add_fault(control, operation_id="getTask", status=404)
    assert slow["latency_ms"] == [1, 2]
    assert [fault["id"] for fault in ok(control.get("/__fake__/faults"))["faults"]] == [slow["id"], failing["id"]]
    ok(control.delete("/__fake__/faults", params={"id": str(failing["id"])}), 204)
    assert [fault["id"] for fault in ok(control.get("/__fake__/faults"))["faults"]] == [slow["id"]]
    assert get_task(alice, ACTIVE_ID)["status"] == "active"
    assert control.delete("/__fake__/faults", params={"id": "first"}).status_code == 400
    ok(control.delete("/__fake__/faults"), 204)
    assert ok(control.get("/__fake__/faults")) == {"faults": []}


def test_reset_clears_faults(control: httpx.Client, alice: httpx.Client) -> None:
    add_fault(control, operation_id="listTasks", status=500)
    assert alice.get("/api/v2/tasks").status_code == 500
    ok(control.post("/__fake__/reset"))
    assert alice.get("/api/v2/tasks").status_code == 200


def test_the_control_plane_cannot_be_faulted(control: httpx.Client) -> None:
    add_fault(control, operation_id="listTasks", status=500)
    assert control.get("/__fake__/state").status_code == 200


# the fake agent's rules, from fixtures

RULES = """\
agent:
  rules:
    - match: "^quick"
      reply: "Quick answer to: {input}"
      state: complete
      message: "Answered {input}"
      delay: 0.5
    - match: crash
      reply: "I crashed."
      state: failure
      message: "Could not do it"
      delay: 3
    - match: forever
      reply: "Looking into it, this will take a while."
      state: working
      message: "Still digging"
      delay: 1
"""


@pytest.fixture
def ruled(tmp_path: Path) -> FakeCoder:
    """The default world plus a few agent rules."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    return FakeCoder([default_fixture_path(), rules])


def send(client: httpx.Client, text: str) -> httpx.Response:
    return client.post(f"/api/v2/tasks/me/{ACTIVE_ID}/send", json={"input": text})


def test_a_rule_gives_the_reply_state_message_and_delay(ruled: FakeCoder) -> None:
    with ruled.client("alice") as alice:
        assert send(alice, "quick: what time is it?").status_code == 204
        ruled.advance(0.4)
        assert get_task(alice, ACTIVE_ID)["current_state"] == working(
            "Working on: quick: what time is it?", "2026-01-05T09:00:00Z"
        )
        ruled.advance(0.1)
        assert get_task(alice, ACTIVE_ID)["current_state"] == {
            "timestamp": "2026-01-05T09:00:00.5Z",
            "state": "complete",
            "message": "Answered quick: what time is it?",
            "uri": "",
        }
        logs = ok(alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}/logs"))["logs"]
        assert logs[-1]["content"] == "Quick answer to: quick: what time is it?"
        assert logs[-1]["time"] == "2026-01-05T09:00:00.5Z"


def test_a_rule_without_a_match_falls_back_to_the_default(ruled: FakeCoder) -> None:
    with ruled.client("alice") as alice:
        assert send(alice, "Tidy up the imports").status_code == 204
        ruled.advance(2)  # the default reply comes after the world's agent_reply timing
        state = get_task(alice, ACTIVE_ID)["current_state"]
        assert (state["state"], state["message"]) == ("idle", "Done: Tidy up the imports")


def test_a_failing_rule_ends_in_failed(ruled: FakeCoder) -> None:
    with ruled.client("alice") as alice:
        assert send(alice, "please crash").status_code == 204
        ruled.advance(3)
        task = get_task(alice, ACTIVE_ID)
        assert task["status"] == "active"  # the app still runs; the agent reports its failure
        assert task["current_state"] == {
            "timestamp": "2026-01-05T09:00:03Z",
            "state": "failed",
            "message": "Could not do it",
            "uri": "",
        }
        assert ok(alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}/logs"))["logs"][-1]["content"] == "I crashed."


def test_a_working_rule_keeps_the_agent_busy(ruled: FakeCoder) -> None:
    with ruled.client("alice") as alice, ruled.control_client() as control:
        assert send(alice, "work forever").status_code == 204
        ruled.advance(3600)
        assert get_task(alice, ACTIVE_ID)["current_state"] == working("Still digging", "2026-01-05T09:00:01Z")
        logs = ok(alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}/logs"))["logs"]
        assert logs[-1]["content"] == "Looking into it, this will take a while."
        assert ok(control.get(task_path(ACTIVE_ID)))["task"]["agentapi_status"] == "running"
        response = send(alice, "are you done?")
        assert response.status_code == 409
        assert response.json() == {"message": "Task app is not ready to accept input.", "detail": "Status: running"}
        # Stopping the workspace ends the work: after a resume the agent takes input again.
        assert alice.post(f"/api/v2/tasks/me/{ACTIVE_ID}/pause").status_code == 202
        ruled.advance(10)
        assert alice.post(f"/api/v2/tasks/me/{ACTIVE_ID}/resume").status_code == 202
        ruled.advance(10)
        assert get_task(alice, ACTIVE_ID)["status"] == "active"
        assert send(alice, "are you done?").status_code == 204

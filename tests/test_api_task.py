"""One task: get, delete, input, send, logs, pause and resume (§4.3-§4.9), and the whole lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import (
    ACTIVE_ID,
    ADMIN_ID,
    ALICE_ID,
    BOB_ID,
    ERROR_ID,
    INITIALIZING_ID,
    NOT_FOUND,
    PAUSED_ID,
    PENDING_ID,
    SETTLE,
    UNKNOWN_ID,
    create_task,
    get_task,
)

from fakeserver.fake import FakeCoder

BUILD_ACTIVE = {"message": "A workspace build is already active."}

# (method, path after /api/v2/tasks/{user}/{task}, JSON body) of every operation on one task
OPERATIONS = [
    ("GET", "", None),
    ("DELETE", "", None),
    ("PATCH", "/input", {"input": "new prompt"}),
    ("POST", "/send", {"input": "hello"}),
    ("GET", "/logs", None),
    ("POST", "/pause", None),
    ("POST", "/resume", None),
]
OPERATION_IDS = ["get", "delete", "input", "send", "logs", "pause", "resume"]

# The default world's tasks: (owner, id, status)
TASKS_BY_STATUS = {
    "active": ("alice", ACTIVE_ID),
    "paused": ("alice", PAUSED_ID),
    "error": ("alice", ERROR_ID),
    "pending": ("bob", PENDING_ID),
    "initializing": ("bob", INITIALIZING_ID),
    "unknown": ("bob", UNKNOWN_ID),
}


def call(client: httpx.Client, method: str, path: str, body: Any = None) -> httpx.Response:
    return client.request(method, path, json=body)


def status_of(client: httpx.Client, task_id: str) -> str:
    status: str = get_task(client, task_id)["status"]
    return status


def watch(fake: FakeCoder, client: httpx.Client, task_id: str, seconds: float, step: float = 0.25) -> list[Any]:
    """The distinct (status, workspace_status, current_state message) the task goes through."""
    seen: list[Any] = []
    for _ in range(int(seconds / step) + 1):
        task = get_task(client, task_id)
        state = task["current_state"]
        snapshot = (task["status"], task.get("workspace_status"), state and (state["state"], state["message"]))
        if not seen or seen[-1] != snapshot:
            seen.append(snapshot)
        fake.advance(step)
    return seen


# {user} and {task}


@pytest.mark.parametrize("user", ["me", "alice", "ALICE", ALICE_ID])
def test_task_by_name_for_each_form_of_user(alice: httpx.Client, user: str) -> None:
    response = alice.get(f"/api/v2/tasks/{user}/fix-login-bug")
    assert response.status_code == 200
    assert response.json()["id"] == ACTIVE_ID


@pytest.mark.parametrize("name", ["FIX-LOGIN-BUG", "Fix-Login-Bug"])
def test_task_names_are_case_insensitive(alice: httpx.Client, name: str) -> None:
    assert alice.get(f"/api/v2/tasks/me/{name}").json()["id"] == ACTIVE_ID


@pytest.mark.parametrize(("method", "suffix", "body"), OPERATIONS, ids=OPERATION_IDS)
@pytest.mark.parametrize("user", ["nobody", "00000000-0000-4000-8000-000000000000"])
def test_unknown_user_is_400(alice: httpx.Client, method: str, suffix: str, body: Any, user: str) -> None:
    response = call(alice, method, f"/api/v2/tasks/{user}/{ACTIVE_ID}{suffix}", body)
    assert response.status_code == 400
    assert response.json() == {
        "message": '"user" must be an existing uuid or username.',
        "detail": f'queried user="{user}"',
    }


@pytest.mark.parametrize("user", ["me", "bob", "alice", BOB_ID])
def test_a_task_id_is_looked_up_across_users(admin: httpx.Client, user: str) -> None:
    response = admin.get(f"/api/v2/tasks/{user}/{ACTIVE_ID}")
    assert response.status_code == 200
    assert response.json()["owner_name"] == "alice"


def test_a_task_id_works_in_upper_case(alice: httpx.Client) -> None:
    assert alice.get(f"/api/v2/tasks/me/{ACTIVE_ID.upper()}").json()["id"] == ACTIVE_ID


def test_names_are_looked_up_within_user(admin: httpx.Client, alice: httpx.Client) -> None:
    assert admin.get("/api/v2/tasks/me/fix-login-bug").json() == NOT_FOUND  # the admin owns no such task
    assert admin.get("/api/v2/tasks/alice/fix-login-bug").json()["id"] == ACTIVE_ID
    assert alice.get("/api/v2/tasks/bob/add-dark-mode").status_code == 404
    assert alice.get("/api/v2/tasks/me/add-dark-mode").status_code == 404


@pytest.mark.parametrize("task", ["no-such-task", "b3f1c1e0-1111-4222-8333-444455556666"])
def test_unknown_task_is_404(alice: httpx.Client, task: str) -> None:
    response = alice.get(f"/api/v2/tasks/me/{task}")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


@pytest.mark.parametrize(("method", "suffix", "body"), OPERATIONS, ids=OPERATION_IDS)
@pytest.mark.parametrize(
    "ref", [f"me/{ACTIVE_ID}", f"alice/{ACTIVE_ID}", "alice/fix-login-bug", f"{ALICE_ID}/fix-login-bug"]
)
def test_another_members_task_is_404(
    fake: FakeCoder, bob: httpx.Client, method: str, suffix: str, body: Any, ref: str
) -> None:
    response = call(bob, method, f"/api/v2/tasks/{ref}{suffix}", body)
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    with fake.client("alice") as alice:  # and nothing happened to it
        task = get_task(alice, ACTIVE_ID)
    assert (task["status"], task["workspace_build_number"]) == ("active", 1)


def test_admin_acts_on_another_users_task_by_owner_and_name(admin: httpx.Client) -> None:
    response = admin.post("/api/v2/tasks/alice/fix-login-bug/pause")
    assert response.status_code == 202
    build = response.json()["workspace_build"]
    assert (build["initiator_id"], build["initiator_name"]) == (ADMIN_ID, "admin")
    assert (build["workspace_owner_id"], build["workspace_owner_name"]) == (ALICE_ID, "alice")


# get


def test_get_returns_the_derived_task(alice: httpx.Client) -> None:
    task = get_task(alice, ACTIVE_ID)
    assert task["status"] == "active"
    assert task["workspace_status"] == "running"
    assert task["workspace_agent_lifecycle"] == "ready"
    assert task["workspace_agent_health"] == {"healthy": True}
    assert task["workspace_agent_id"] is not None
    assert task["workspace_app_id"] is not None
    assert task["current_state"]["state"] == "idle"
    assert task["current_state"]["message"] == "Fixed the session cookie and added a test"


@pytest.mark.parametrize("status", list(TASKS_BY_STATUS))
def test_each_default_task_has_its_status(fake: FakeCoder, status: str) -> None:
    owner, task_id = TASKS_BY_STATUS[status]
    with fake.client(owner) as client:
        assert status_of(client, task_id) == status


def test_paused_task_has_no_agent(alice: httpx.Client) -> None:
    task = get_task(alice, PAUSED_ID)
    assert task["workspace_status"] == "stopped"
    assert task["workspace_build_number"] == 2
    assert task["workspace_agent_id"] is None
    assert task["workspace_agent_lifecycle"] is None
    assert task["workspace_agent_health"] is None
    assert task["workspace_app_id"] is None
    assert task["current_state"]["state"] == "complete"  # a stop build keeps the last status


def test_error_task_shows_the_failed_build(alice: httpx.Client) -> None:
    task = get_task(alice, ERROR_ID)
    assert (task["status"], task["workspace_status"], task["current_state"]) == ("error", "failed", None)


# delete


def test_delete_is_202_with_an_empty_body_then_404_everywhere(alice: httpx.Client, admin: httpx.Client) -> None:
    response = alice.delete(f"/api/v2/tasks/me/{ACTIVE_ID}")
    assert response.status_code == 202
    assert response.content == b""
    for method, suffix, body in OPERATIONS:
        for ref in (f"me/{ACTIVE_ID}", "me/fix-login-bug"):
            gone = call(alice, method, f"/api/v2/tasks/{ref}{suffix}", body)
            assert (gone.status_code, gone.json()) == (404, NOT_FOUND), (method, suffix)
    assert ACTIVE_ID not in [task["id"] for task in alice.get("/api/v2/tasks").json()["tasks"]]
    assert ACTIVE_ID not in [task["id"] for task in admin.get("/api/v2/tasks").json()["tasks"]]
    assert admin.get(f"/api/v2/tasks/alice/{ACTIVE_ID}").status_code == 404


@pytest.mark.parametrize("status", ["active", "paused", "error", "initializing", "unknown"])
def test_delete_in_any_settled_state(fake: FakeCoder, status: str) -> None:
    owner, task_id = TASKS_BY_STATUS[status]
    with fake.client(owner) as client:
        assert client.delete(f"/api/v2/tasks/me/{task_id}").status_code == 202
        assert client.get(f"/api/v2/tasks/me/{task_id}").status_code == 404


def test_delete_while_the_first_build_is_queued_is_409(fake: FakeCoder, alice: httpx.Client) -> None:
    task = create_task(alice)
    response = alice.delete(f"/api/v2/tasks/me/{task['id']}")
    assert response.status_code == 409
    assert response.json() == BUILD_ACTIVE
    fake.advance(1.5)  # the job is running now
    assert alice.delete(f"/api/v2/tasks/me/{task['id']}").status_code == 409
    fake.advance(SETTLE)
    assert alice.delete(f"/api/v2/tasks/me/{task['id']}").status_code == 202


def test_delete_while_pausing_is_409(alice: httpx.Client) -> None:
    assert alice.post(f"/api/v2/tasks/me/{ACTIVE_ID}/pause").status_code == 202
    response = alice.delete(f"/api/v2/tasks/me/{ACTIVE_ID}")
    assert (response.status_code, response.json()) == (409, BUILD_ACTIVE)
    assert status_of(alice, ACTIVE_ID) == "unknown"


def test_delete_by_admin(admin: httpx.Client, bob: httpx.Client) -> None:
    assert admin.delete("/api/v2/tasks/bob/lost-agent").status_code == 202
    assert bob.get(f"/api/v2/tasks/me/{UNKNOWN_ID}").status_code == 404


def test_user_and_task_are_resolved_before_the_body_is_read(alice: httpx.Client, bob: httpx.Client) -> None:
    # coderd resolves both in middleware, so a bad body cannot hide a 404 or a bad {user}
    response = bob.patch("/api/v2/tasks/alice/write-docs/input", json={"input": " "})
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    response = alice.post("/api/v2/tasks/nobody", content=b"{")
    assert response.json()["message"] == '"user" must be an existing uuid or username.'


# update input


def test_update_input_of_a_paused_task(alice: httpx.Client) -> None:
    response = alice.patch(f"/api/v2/tasks/me/{PAUSED_ID}/input", json={"input": "  Write better docs.  "})
    assert response.status_code == 204
    assert response.content == b""
    assert get_task(alice, PAUSED_ID)["initial_prompt"] == "  Write better docs.  "  # stored untrimmed


@pytest.mark.parametrize("status", ["active", "pending", "initializing", "error", "unknown"])
def test_update_input_when_not_paused_is_409(fake: FakeCoder, status: str) -> None:
    owner, task_id = TASKS_BY_STATUS[status]
    with fake.client(owner) as client:
        before = get_task(client, task_id)["initial_prompt"]
        response = client.patch(f"/api/v2/tasks/me/{task_id}/input", json={"input": "new prompt"})
        assert response.status_code == 409
        assert response.json() == {
            "message": "Unable to update task input, task must be paused.",
            "detail": "Please stop the task's workspace before updating the input.",
        }
        assert get_task(client, task_id)["initial_prompt"] == before


@pytest.mark.parametrize("body", [{"input": ""}, {"input": "   "}, {"input": "\n\t "}, {}])
@pytest.mark.parametrize("task_id", [PAUSED_ID, ACTIVE_ID])
def test_update_input_blank_is_400(alice: httpx.Client, body: dict[str, str], task_id: str) -> None:
    response = alice.patch(f"/api/v2/tasks/me/{task_id}/input", json=body)
    assert response.status_code == 400
    assert response.json() == {"message": "Task input is required."}


def test_update_input_malformed_json(alice: httpx.Client) -> None:
    response = alice.patch(f"/api/v2/tasks/me/{PAUSED_ID}/input", content=b"{input}")
    assert response.status_code == 400
    assert response.json()["message"] == "Request body must be valid JSON."


def test_update_input_while_pausing_is_409(alice: httpx.Client) -> None:
    alice.post(f"/api/v2/tasks/me/{ACTIVE_ID}/pause")
    response = alice.patch(f"/api/v2/tasks/me/{ACTIVE_ID}/input", json={"input": "x"})
    assert response.status_code == 409


# send


def test_send_to_an_active_task(fake: FakeCoder, alice: httpx.Client) -> None:
    response = alice.post(f"/api/v2/tasks/me/{ACTIVE_ID}/send", json={"input": "Also add a regression test."})
    assert response.status_code == 204
    assert response.content == b""
    logs = alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}/logs").json()["logs"]
    assert logs[-1]["type"] == "input"
    assert logs[-1]["content"] == "Also add a regression test."
    assert logs[-1]["id"] == 2
    assert get_task(alice, ACTIVE_ID)["current_state"]["state"] == "working"
    fake.advance(SETTLE)
    logs = alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}/logs").json()["logs"]
    assert [entry["type"] for entry in logs] == ["input", "output", "input", "output"]
    assert [entry["id"] for entry in logs] == [0, 1, 2, 3]
    assert get_task(alice, ACTIVE_ID)["current_state"]["state"] == "idle"


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        ("active", 204, None),
        ("paused", 409, {"message": "Task is paused.", "detail": "Resume the task to send messages."}),
        (
            "pending",
            409,
            {
                "message": "Task is pending.",
                "detail": "The task is resuming. Wait for the task to become active before sending messages.",
            },
        ),
        (
            "initializing",
            409,
            {
                "message": "Task is initializing.",
                "detail": "The task is resuming. Wait for the task to become active before sending messages.",
            },
        ),
        (
            "error",
            400,
            {
                "message": "Task must be active.",
                "detail": 'Task status is "error", it must be "active" to interact with the task.',
            },
        ),
        (
            "unknown",
            400,
            {
                "message": "Task must be active.",
                "detail": 'Task status is "unknown", it must be "active" to interact with the task.',
            },
        ),
    ],
)
def test_send_gate_for_every_status(fake: FakeCoder, status: str, code: int, expected: Any) -> None:
    owner, task_id = TASKS_BY_STATUS[status]
    with fake.client(owner) as client:
        response = client.post(f"/api/v2/tasks/me/{task_id}/send", json={"input": "hello"})
    assert response.status_code == code
    assert (response.json() if response.content else None) == expected


def test_send_requires_input(alice: httpx.Client) -> None:
    for body in ({"input": ""}, {}):
        response = alice.post(f"/api/v2/tasks/me/{ACTIVE_ID}/send", json=body)
        assert response.status_code == 400
        assert response.json() == {"message": "Task input is required."}


def test_send_does_not_trim(alice: httpx.Client) -> None:
    assert alice.post(f"/api/v2/tasks/me/{ACTIVE_ID}/send", json={"input": "   "}).status_code == 204


def test_empty_input_is_checked_before_the_status(alice: httpx.Client) -> None:
    response = alice.post(f"/api/v2/tasks/me/{PAUSED_ID}/send", json={"input": ""})
    assert (response.status_code, response.json()) == (400, {"message": "Task input is required."})


def test_send_while_the_agent_is_still_answering_is_409(fake: FakeCoder, alice: httpx.Client) -> None:
    assert alice.post(f"/api/v2/tasks/me/{ACTIVE_ID}/send", json={"input": "first"}).status_code == 204
    response = alice.post(f"/api/v2/tasks/me/{ACTIVE_ID}/send", json={"input": "second"})
    assert response.status_code == 409
    assert response.json() == {"message": "Task app is not ready to accept input.", "detail": "Status: running"}
    fake.advance(SETTLE)
    assert alice.post(f"/api/v2/tasks/me/{ACTIVE_ID}/send", json={"input": "second"}).status_code == 204
    contents = [entry["content"] for entry in alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}/logs").json()["logs"]]
    assert contents.count("second") == 1


def test_send_to_an_unreachable_agent_is_502(fake: FakeCoder, alice: httpx.Client) -> None:
    fake.set_agent(ACTIVE_ID, disconnected=True)
    assert status_of(alice, ACTIVE_ID) == "active"
    response = alice.post(f"/api/v2/tasks/me/{ACTIVE_ID}/send", json={"input": "hello"})
    assert response.status_code == 502
    assert response.json()["message"] == "Failed to reach task app endpoint."
    assert alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}/logs").status_code == 502


# logs


def test_live_logs_of_an_active_task(alice: httpx.Client) -> None:
    response = alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}/logs")
    assert response.status_code == 200
    assert response.json() == {
        "logs": [
            {
                "id": 0,
                "content": "Fix the login bug where users get logged out after a refresh.",
                "type": "input",
                "time": "2026-01-05T08:00:10Z",
            },
            {
                "id": 1,
                "content": "The session cookie was missing SameSite=Lax; I fixed it and added a test.",
                "type": "output",
                "time": "2026-01-05T08:00:30Z",
            },
        ]
    }


def test_snapshot_logs_of_a_paused_task(alice: httpx.Client) -> None:
    body = alice.get(f"/api/v2/tasks/me/{PAUSED_ID}/logs").json()
    assert body["snapshot"] is True
    assert body["snapshot_at"] == "2026-01-05T08:11:31Z"
    assert [(entry["id"], entry["type"]) for entry in body["logs"]] == [(0, "input"), (1, "output")]
    assert body["logs"][0]["content"] == "Write docs for the tasks API."


@pytest.mark.parametrize("status", ["pending", "initializing"])
def test_no_snapshot_yet(fake: FakeCoder, status: str) -> None:
    owner, task_id = TASKS_BY_STATUS[status]
    with fake.client(owner) as client:
        response = client.get(f"/api/v2/tasks/me/{task_id}/logs")
    assert response.status_code == 200
    assert response.text == '{"logs":[],"snapshot":true}\n'  # Go's Encoder ends with a newline


@pytest.mark.parametrize("status", ["error", "unknown"])
def test_logs_in_error_or_unknown_is_409(fake: FakeCoder, status: str) -> None:
    owner, task_id = TASKS_BY_STATUS[status]
    with fake.client(owner) as client:
        response = client.get(f"/api/v2/tasks/me/{task_id}/logs")
    assert response.status_code == 409
    assert response.json() == {
        "message": "Cannot fetch logs for task in current state.",
        "detail": f'Task status is "{status}".',
    }


def test_logs_while_pausing_is_409_then_the_snapshot(fake: FakeCoder, alice: httpx.Client) -> None:
    live = alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}/logs").json()["logs"]
    alice.post(f"/api/v2/tasks/me/{ACTIVE_ID}/pause")
    assert alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}/logs").status_code == 409  # unknown while stopping
    fake.advance(SETTLE)
    body = alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}/logs").json()
    assert body["logs"] == live
    assert body["snapshot"] is True
    # the agent saved it when the stop job started
    assert datetime.fromisoformat(body["snapshot_at"]) == datetime(2026, 1, 5, 9, 0, 0, 500000, tzinfo=UTC)


def test_fractional_seconds_are_written_as_go_does(fake: FakeCoder, alice: httpx.Client) -> None:
    alice.post(f"/api/v2/tasks/me/{ACTIVE_ID}/pause")
    fake.advance(SETTLE)
    assert alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}/logs").json()["snapshot_at"] == "2026-01-05T09:00:00.5Z"


def test_snapshot_is_served_while_resuming(fake: FakeCoder, alice: httpx.Client) -> None:
    paused = alice.get(f"/api/v2/tasks/me/{PAUSED_ID}/logs").json()
    assert alice.post(f"/api/v2/tasks/me/{PAUSED_ID}/resume").status_code == 202
    assert status_of(alice, PAUSED_ID) == "pending"
    assert alice.get(f"/api/v2/tasks/me/{PAUSED_ID}/logs").json() == paused
    fake.advance(1.5)
    assert status_of(alice, PAUSED_ID) == "initializing"
    assert alice.get(f"/api/v2/tasks/me/{PAUSED_ID}/logs").json() == paused


STORED_SNAPSHOTS = """\
users:
  - {username: alice, tokens: [alice-token]}
templates:
  - {name: claude-code, versions: [{name: v1}]}
tasks:
  - owner: alice
    name: other-format
    status: paused
    snapshot: {format: asciinema, payload: {messages: []}}
  - owner: alice
    name: not-a-list
    status: paused
    snapshot: {payload: {messages: {id: 0}}}
  - owner: alice
    name: bad-role
    status: paused
    snapshot: {payload: {messages: [{id: 0, content: hi, role: system, time: '2026-01-05T08:00:00Z'}]}}
  - owner: alice
    name: stored
    status: paused
    snapshot:
      created_at: '2026-01-05T08:45:00Z'
      payload: {messages: [{id: 7, content: saved, role: agent, time: '2026-01-05T08:44:00Z'}]}
"""


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "other-format",
            {"message": "Unsupported task snapshot format.", "detail": 'Expected format "agentapi", got "asciinema".'},
        ),
        ("not-a-list", {"message": "Internal error decoding task snapshot."}),
        ("bad-role", {"message": "Invalid snapshot data."}),
    ],
)
def test_a_stored_snapshot_that_cannot_be_served_is_500(tmp_path: Path, name: str, expected: Any) -> None:
    (tmp_path / "snapshots.yaml").write_text(STORED_SNAPSHOTS)
    with FakeCoder([tmp_path / "snapshots.yaml"]).client("alice") as alice:
        response = alice.get(f"/api/v2/tasks/me/{name}/logs")
    assert response.status_code == 500
    assert response.json() == expected


def test_a_stored_snapshot_is_served_as_stored(tmp_path: Path) -> None:
    (tmp_path / "snapshots.yaml").write_text(STORED_SNAPSHOTS)
    with FakeCoder([tmp_path / "snapshots.yaml"]).client("alice") as alice:
        response = alice.get("/api/v2/tasks/me/stored/logs")
    assert response.json() == {
        "logs": [{"id": 7, "content": "saved", "type": "output", "time": "2026-01-05T08:44:00Z"}],
        "snapshot": True,
        "snapshot_at": "2026-01-05T08:45:00Z",
    }


# pause


def test_pause_returns_the_stop_build(alice: httpx.Client) -> None:
    response = alice.post(f"/api/v2/tasks/me/{ACTIVE_ID}/pause")
    assert response.status_code == 202
    assert set(response.json()) == {"workspace_build"}
    build = response.json()["workspace_build"]
    task = get_task(alice, ACTIVE_ID)
    assert build["transition"] == "stop"
    assert build["reason"] == "task_manual_pause"
    assert build["status"] == "pending"
    assert build["build_number"] == 2
    assert build["resources"] == []
    assert build["job"]["status"] == "pending"
    assert build["job"]["queue_position"] == 0
    assert build["workspace_id"] == task["workspace_id"]
    assert build["workspace_name"] == "fix-login-bug"
    assert build["initiator_id"] == ALICE_ID
    assert build["created_at"] == "2026-01-05T09:00:00Z"
    assert task["workspace_build_number"] == 2


def test_pause_moves_unknown_then_paused(fake: FakeCoder, alice: httpx.Client) -> None:
    alice.post(f"/api/v2/tasks/me/{ACTIVE_ID}/pause")
    seen = watch(fake, alice, ACTIVE_ID, 5)
    assert [(status, workspace) for status, workspace, _ in seen] == [
        ("unknown", "pending"),
        ("unknown", "stopping"),
        ("paused", "stopped"),
    ]
    task = get_task(alice, ACTIVE_ID)
    assert task["workspace_agent_id"] is None
    assert task["workspace_app_id"] is None
    assert task["current_state"]["message"] == "Fixed the session cookie and added a test"


def test_pause_while_the_first_build_is_queued_is_409(bob: httpx.Client) -> None:
    response = bob.post(f"/api/v2/tasks/me/{PENDING_ID}/pause")
    assert (response.status_code, response.json()) == (409, BUILD_ACTIVE)


def test_pause_twice_while_stopping_is_409(alice: httpx.Client) -> None:
    assert alice.post(f"/api/v2/tasks/me/{ACTIVE_ID}/pause").status_code == 202
    response = alice.post(f"/api/v2/tasks/me/{ACTIVE_ID}/pause")
    assert (response.status_code, response.json()) == (409, BUILD_ACTIVE)


def test_pause_of_a_paused_task_makes_another_stop_build(alice: httpx.Client) -> None:
    response = alice.post(f"/api/v2/tasks/me/{PAUSED_ID}/pause")
    assert response.status_code == 202
    assert response.json()["workspace_build"]["build_number"] == 3


@pytest.mark.parametrize("status", ["error", "unknown", "initializing"])
def test_pause_has_no_status_precondition(fake: FakeCoder, status: str) -> None:
    owner, task_id = TASKS_BY_STATUS[status]
    with fake.client(owner) as client:
        assert client.post(f"/api/v2/tasks/me/{task_id}/pause").status_code == 202
        fake.advance(SETTLE)
        assert status_of(client, task_id) == "paused"


# resume


@pytest.mark.parametrize("status", ["active", "initializing", "unknown"])
def test_resume_of_a_running_workspace_is_409(fake: FakeCoder, status: str) -> None:
    owner, task_id = TASKS_BY_STATUS[status]
    with fake.client(owner) as client:
        response = client.post(f"/api/v2/tasks/me/{task_id}/resume")
    assert response.status_code == 409
    assert response.json() == {
        "message": "Task workspace is already running.",
        "detail": 'Workspace status is "running".',
    }


def test_resume_while_a_build_is_active_is_409(bob: httpx.Client) -> None:
    response = bob.post(f"/api/v2/tasks/me/{PENDING_ID}/resume")
    assert (response.status_code, response.json()) == (409, BUILD_ACTIVE)


def test_resume_while_stopping_is_409(alice: httpx.Client) -> None:
    alice.post(f"/api/v2/tasks/me/{ACTIVE_ID}/pause")
    response = alice.post(f"/api/v2/tasks/me/{ACTIVE_ID}/resume")
    assert (response.status_code, response.json()) == (409, BUILD_ACTIVE)


def test_resume_of_a_paused_task(fake: FakeCoder, alice: httpx.Client) -> None:
    response = alice.post(f"/api/v2/tasks/me/{PAUSED_ID}/resume")
    assert response.status_code == 202
    build = response.json()["workspace_build"]
    assert (build["transition"], build["reason"], build["status"]) == ("start", "task_resume", "pending")
    assert build["build_number"] == 3
    assert build["resources"] == []
    seen = watch(fake, alice, PAUSED_ID, SETTLE)
    assert seen == [
        ("pending", "pending", None),  # the stale "complete" is hidden by the new start build
        ("initializing", "starting", ("working", "Workspace is starting")),
        ("initializing", "running", ("working", "Agent is connecting")),
        ("initializing", "running", ("working", "Agent is starting")),
        ("initializing", "running", ("working", "App is initializing")),
        ("active", "running", None),
    ]
    task = get_task(alice, PAUSED_ID)
    assert task["workspace_status"] == "running"
    assert task["workspace_agent_lifecycle"] == "ready"
    assert task["current_state"] is None  # the old app status predates this build


def test_resume_of_an_error_task(fake: FakeCoder, alice: httpx.Client) -> None:
    assert alice.post(f"/api/v2/tasks/me/{ERROR_ID}/resume").status_code == 202
    assert status_of(alice, ERROR_ID) == "pending"
    fake.advance(SETTLE)
    assert status_of(alice, ERROR_ID) == "active"


def test_pause_resume_round_trip_keeps_the_conversation(fake: FakeCoder, alice: httpx.Client) -> None:
    before = alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}/logs").json()["logs"]
    alice.post(f"/api/v2/tasks/me/{ACTIVE_ID}/pause")
    fake.advance(SETTLE)
    alice.post(f"/api/v2/tasks/me/{ACTIVE_ID}/resume")
    fake.advance(SETTLE)
    assert status_of(alice, ACTIVE_ID) == "active"
    assert alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}/logs").json() == {"logs": before}
    assert get_task(alice, ACTIVE_ID)["workspace_build_number"] == 3


# the whole lifecycle


def test_full_lifecycle(fake: FakeCoder, alice: httpx.Client) -> None:
    task = create_task(alice, input="Add a health check endpoint")
    seen = watch(fake, alice, task["id"], SETTLE)
    prompt = "Add a health check endpoint"
    assert seen == [
        ("pending", "pending", None),
        ("initializing", "starting", ("working", "Workspace is starting")),
        ("initializing", "running", ("working", "Agent is connecting")),
        ("initializing", "running", ("working", "Agent is starting")),
        ("initializing", "running", ("working", "App is initializing")),
        ("active", "running", ("working", f"Working on: {prompt}")),
        ("active", "running", ("idle", f"Done: {prompt}")),
    ]
    logs = alice.get(f"/api/v2/tasks/me/{task['id']}/logs").json()
    assert set(logs) == {"logs"}
    assert [(entry["type"], entry["content"]) for entry in logs["logs"]] == [
        ("input", prompt),
        ("output", f"Done. I worked on: {prompt}"),
    ]
    final = get_task(alice, task["id"])
    assert final["workspace_agent_lifecycle"] == "ready"
    assert final["workspace_agent_health"] == {"healthy": True}
    assert final["workspace_agent_id"] is not None
    assert final["workspace_app_id"] is not None
    assert final["updated_at"] == task["updated_at"]  # the workspace itself did not change


def test_a_failed_first_build_is_error(fake: FakeCoder, alice: httpx.Client) -> None:
    task = create_task(alice)
    fake.fail_build(task["id"], "terraform apply: exit status 1")
    assert status_of(alice, task["id"]) == "error"
    assert get_task(alice, task["id"])["workspace_status"] == "failed"


def test_a_lone_surrogate_is_replaced_as_go_decodes_it(fake: FakeCoder, alice: httpx.Client) -> None:
    response = alice.post(
        f"/api/v2/tasks/me/{ACTIVE_ID}/send",
        content=b'{"input": "hi \\ud800"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 204
    logs = alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}/logs").json()["logs"]
    assert logs[-1]["content"] == "hi \ufffd"
    assert alice.get("/api/v2/tasks").status_code == 200

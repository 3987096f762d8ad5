"""What a workspace agent calls with its agent token: the log-snapshot upload (§4.10) and app statuses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import ACTIVE_ID, NOT_FOUND, PAUSED_ID, PENDING_ID, SETTLE, UNKNOWN_ID, create_task, get_task

from fakeserver.fake import FakeCoder

SNAPSHOT = "/api/v2/workspaceagents/me/tasks/{task}/log-snapshot"
APP_STATUS = "/api/v2/workspaceagents/me/app-status"
MESSAGES = {
    "messages": [
        {"id": 0, "content": "Write docs for the tasks API.", "role": "user", "time": "2026-01-05T08:10:10Z"},
        {"id": 1, "content": "Docs written.", "role": "agent", "time": "2026-01-05T08:11:00Z"},
    ]
}
UNAUTHORIZED = "Workspace agent not authorized."


def agent_token(fake: FakeCoder, task_id: str) -> str:
    with fake.control_client() as control:
        response = control.get(f"/__fake__/tasks/{task_id}/agent")
    assert response.status_code == 200, response.text
    token: str = response.json()["agent_token"]
    return token


def agent_client(fake: FakeCoder, token: str) -> httpx.Client:
    client = fake.client()
    client.headers["Coder-Session-Token"] = token
    return client


@pytest.fixture
def paused_agent(fake: FakeCoder) -> Iterator[httpx.Client]:
    """The agent of alice's paused task (it may still upload: its stop build is the latest)."""
    with agent_client(fake, agent_token(fake, PAUSED_ID)) as client:
        yield client


@pytest.fixture
def active_agent(fake: FakeCoder) -> Iterator[httpx.Client]:
    with agent_client(fake, agent_token(fake, ACTIVE_ID)) as client:
        yield client


def upload(client: httpx.Client, task_id: str = PAUSED_ID, body: Any = MESSAGES, **params: str) -> httpx.Response:
    query = {"format": "agentapi", **params}
    return client.post(SNAPSHOT.format(task=task_id), params=query, json=body)


# the upload


def test_upload_then_the_paused_task_serves_it(
    fake: FakeCoder, paused_agent: httpx.Client, alice: httpx.Client
) -> None:
    fake.advance(42)
    response = upload(paused_agent)
    assert response.status_code == 204
    assert response.content == b""
    assert alice.get(f"/api/v2/tasks/me/{PAUSED_ID}/logs").json() == {
        "logs": [
            {"id": 0, "content": "Write docs for the tasks API.", "type": "input", "time": "2026-01-05T08:10:10Z"},
            {"id": 1, "content": "Docs written.", "type": "output", "time": "2026-01-05T08:11:00Z"},
        ],
        "snapshot": True,
        "snapshot_at": "2026-01-05T09:00:42Z",  # when the server stored it
    }


def test_a_later_upload_replaces_the_earlier(fake: FakeCoder, paused_agent: httpx.Client, alice: httpx.Client) -> None:
    assert upload(paused_agent).status_code == 204
    fake.advance(5)
    assert upload(paused_agent, body={"messages": []}).status_code == 204
    assert alice.get(f"/api/v2/tasks/me/{PAUSED_ID}/logs").json() == {
        "logs": [],
        "snapshot": True,
        "snapshot_at": "2026-01-05T09:00:05Z",
    }


def test_unknown_top_level_fields_are_ignored(paused_agent: httpx.Client, alice: httpx.Client) -> None:
    assert upload(paused_agent, body={**MESSAGES, "agent_type": "claude"}).status_code == 204
    assert len(alice.get(f"/api/v2/tasks/me/{PAUSED_ID}/logs").json()["logs"]) == 2


def test_upload_by_an_active_tasks_agent_leaves_live_logs_alone(
    active_agent: httpx.Client, alice: httpx.Client
) -> None:
    live = alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}/logs").json()
    assert upload(active_agent, ACTIVE_ID, {"messages": []}).status_code == 204
    assert alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}/logs").json() == live


def test_roles_are_checked_only_when_logs_are_read(paused_agent: httpx.Client, alice: httpx.Client) -> None:
    body = {"messages": [{"id": 0, "content": "hi", "role": "system", "time": "2026-01-05T08:10:10Z"}]}
    assert upload(paused_agent, body=body).status_code == 204
    response = alice.get(f"/api/v2/tasks/me/{PAUSED_ID}/logs")
    assert response.status_code == 500
    assert response.json()["message"] == "Invalid snapshot data."


def test_upload_of_exactly_64_kib_is_accepted(paused_agent: httpx.Client) -> None:
    assert upload_of_size(paused_agent, 65536).status_code == 204


def test_upload_over_64_kib_is_400(paused_agent: httpx.Client, alice: httpx.Client) -> None:
    before = alice.get(f"/api/v2/tasks/me/{PAUSED_ID}/logs").json()
    response = upload_of_size(paused_agent, 65537)
    assert response.status_code == 400
    assert response.json()["message"] == "Failed to decode request payload."
    assert alice.get(f"/api/v2/tasks/me/{PAUSED_ID}/logs").json() == before


def upload_of_size(client: httpx.Client, size: int) -> httpx.Response:
    skeleton = b'{"messages":[{"id":0,"role":"agent","time":"2026-01-05T08:10:10Z","content":""}]}'
    content = skeleton.replace(b'"content":""', b'"content":"' + b"x" * (size - len(skeleton)) + b'"')
    assert len(content) == size
    return client.post(SNAPSHOT.format(task=PAUSED_ID), params={"format": "agentapi"}, content=content)


# the checks, in order


@pytest.mark.parametrize("task", ["write-docs", "1234", "22222222-2222-4222-8222-2222222222"])
def test_task_must_be_a_uuid(paused_agent: httpx.Client, task: str) -> None:
    response = upload(paused_agent, task)
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "Invalid task ID format."
    assert "validations" not in body


def test_task_uuid_is_checked_before_the_query(paused_agent: httpx.Client) -> None:
    response = paused_agent.post(SNAPSHOT.format(task="write-docs"), json=MESSAGES)
    assert response.json()["message"] == "Invalid task ID format."


@pytest.mark.parametrize("query", [{}, {"format": ""}])
def test_format_is_required(paused_agent: httpx.Client, query: dict[str, str]) -> None:
    response = paused_agent.post(SNAPSHOT.format(task=PAUSED_ID), params=query, json=MESSAGES)
    assert response.status_code == 400
    assert response.json() == {
        "message": "Invalid query parameters.",
        "validations": [{"field": "format", "detail": 'Query param "format" is required and cannot be empty'}],
    }


def test_extra_query_parameters_are_refused(paused_agent: httpx.Client) -> None:
    response = upload(paused_agent, verbose="1")
    assert response.status_code == 400
    assert response.json() == {
        "message": "Invalid query parameters.",
        "validations": [{"field": "verbose", "detail": 'Query param "verbose" is not a valid query param'}],
    }


def test_unsupported_format(paused_agent: httpx.Client) -> None:
    response = upload(paused_agent, format="x")
    assert response.status_code == 400
    assert response.json() == {
        "message": "Invalid format parameter.",
        "detail": 'Only "agentapi" format is currently supported, got "x".',
    }


def test_the_query_parser_runs_before_the_format_check(paused_agent: httpx.Client) -> None:
    response = upload(paused_agent, format="x", verbose="1")
    assert response.json()["message"] == "Invalid query parameters."


@pytest.mark.parametrize("task_id", [ACTIVE_ID, PENDING_ID, UNKNOWN_ID, "b3f1c1e0-1111-4222-8333-444455556666"])
def test_another_workspaces_task_is_404(paused_agent: httpx.Client, task_id: str) -> None:
    response = upload(paused_agent, task_id)
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_the_task_is_looked_up_before_the_payload_is_read(paused_agent: httpx.Client) -> None:
    # coderd checks the task before reading up to 64 KiB of payload (§4.10, checks 4 then 5)
    response = paused_agent.post(SNAPSHOT.format(task=ACTIVE_ID), params={"format": "agentapi"}, content=b"x" * 70000)
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


@pytest.mark.parametrize("content", [b"{", b"", b'{"messages": "nope"}', b'{"messages": [1]}', b"[]"])
def test_undecodable_payload(paused_agent: httpx.Client, content: bytes) -> None:
    response = paused_agent.post(SNAPSHOT.format(task=PAUSED_ID), params={"format": "agentapi"}, content=content)
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "Failed to decode request payload."
    if content in (b"{", b""):  # not JSON at all: there is no field to name
        assert "validations" not in body
    else:  # JSON of the wrong shape: the validations name where
        assert body["validations"]


@pytest.mark.parametrize("body", [{}, {"messages": None}, {"other": []}])
def test_messages_must_be_present(paused_agent: httpx.Client, body: dict[str, Any]) -> None:
    response = upload(paused_agent, body=body)
    assert response.status_code == 400
    assert response.json() == {
        "message": "Invalid agentapi payload structure.",
        "detail": 'Missing required "messages" field.',
    }


# who may upload


@pytest.mark.parametrize("token", ["", "not-a-token", "alice-token", "admin-token"])
def test_only_an_agent_token_is_accepted(fake: FakeCoder, token: str) -> None:
    with agent_client(fake, token) as client:
        response = upload(client)
    assert response.status_code == 401
    assert response.json()["message"] == UNAUTHORIZED


def test_after_delete_the_token_is_401(paused_agent: httpx.Client, alice: httpx.Client) -> None:
    assert alice.delete(f"/api/v2/tasks/me/{PAUSED_ID}").status_code == 202
    response = upload(paused_agent)
    assert response.status_code == 401
    assert response.json()["message"] == UNAUTHORIZED


def test_after_a_new_start_build_the_old_agent_is_401(fake: FakeCoder, paused_agent: httpx.Client) -> None:
    with fake.client("alice") as alice:
        assert alice.post(f"/api/v2/tasks/me/{PAUSED_ID}/resume").status_code == 202
    assert upload(paused_agent).status_code == 401
    fake.advance(SETTLE)
    with agent_client(fake, agent_token(fake, PAUSED_ID)) as new_agent:
        assert upload(new_agent).status_code == 204


# app statuses: what moves current_state


@pytest.mark.parametrize(
    ("state", "shown"), [("working", "working"), ("idle", "idle"), ("complete", "complete"), ("failure", "failed")]
)
def test_app_status_moves_current_state(
    fake: FakeCoder, active_agent: httpx.Client, alice: httpx.Client, state: str, shown: str
) -> None:
    fake.advance(3)
    body = {"app_slug": "ai", "state": state, "message": "Reported", "uri": "https://example.com/pr/1"}
    response = active_agent.patch(APP_STATUS, json=body)
    assert response.status_code == 200
    assert get_task(alice, ACTIVE_ID)["current_state"] == {
        "timestamp": "2026-01-05T09:00:03Z",
        "state": shown,
        "message": "Reported",
        "uri": "https://example.com/pr/1",
    }


def test_the_latest_app_status_wins(fake: FakeCoder, active_agent: httpx.Client, alice: httpx.Client) -> None:
    active_agent.patch(APP_STATUS, json={"app_slug": "ai", "state": "working", "message": "one"})
    fake.advance(1)
    active_agent.patch(APP_STATUS, json={"app_slug": "ai", "state": "complete", "message": "two"})
    state = get_task(alice, ACTIVE_ID)["current_state"]
    assert (state["state"], state["message"], state["uri"]) == ("complete", "two", "")


def test_app_status_of_a_new_task(fake: FakeCoder, alice: httpx.Client) -> None:
    task = create_task(alice, input="")  # no prompt: the built-in agent reports nothing itself
    fake.advance(SETTLE)
    assert get_task(alice, task["id"])["current_state"] is None
    with agent_client(fake, agent_token(fake, task["id"])) as agent:
        assert agent.patch(APP_STATUS, json={"app_slug": "ai", "state": "idle", "message": "Ready"}).status_code == 200
    assert get_task(alice, task["id"])["current_state"]["message"] == "Ready"


def test_app_status_for_an_unknown_app(active_agent: httpx.Client) -> None:
    response = active_agent.patch(APP_STATUS, json={"app_slug": "vscode", "state": "idle"})
    assert response.status_code == 400
    assert response.json() == {"message": "Failed to get workspace app.", "detail": 'No app found with slug "vscode"'}


def test_app_status_message_is_limited(active_agent: httpx.Client) -> None:
    response = active_agent.patch(APP_STATUS, json={"app_slug": "ai", "state": "idle", "message": "x" * 161})
    assert response.status_code == 400
    assert response.json()["message"] == "Message is too long."
    assert active_agent.patch(APP_STATUS, json={"app_slug": "ai", "state": "idle", "message": "x" * 160}).is_success


def test_app_status_needs_an_agent_token(alice: httpx.Client) -> None:
    response = alice.patch(APP_STATUS, json={"app_slug": "ai", "state": "idle"})
    assert response.status_code == 401


def test_a_message_without_time_is_read_back_as_go_zero_time(paused_agent: httpx.Client, alice: httpx.Client) -> None:
    body = {"messages": [{"content": "x", "role": "user"}]}
    assert upload(paused_agent, PAUSED_ID, body).status_code == 204
    (entry,) = alice.get(f"/api/v2/tasks/me/{PAUSED_ID}/logs").json()["logs"]
    assert entry["time"] == "0001-01-01T00:00:00Z"


def test_a_message_id_beyond_int64_is_a_decode_error(paused_agent: httpx.Client) -> None:
    response = upload(paused_agent, PAUSED_ID, {"messages": [{"id": 2**70, "content": "x", "role": "user"}]})
    assert (response.status_code, response.json()["message"]) == (400, "Failed to decode request payload.")


@pytest.mark.parametrize(
    "form",
    [
        "{11111111-1111-4111-8111-111111111111}",
        "urn:uuid:11111111-1111-4111-8111-111111111111",
        "URN:UUID:11111111-1111-4111-8111-111111111111",
        "11111111111141118111111111111111",
    ],
)
def test_the_snapshot_route_takes_every_uuid_form_go_parses(fake: FakeCoder, form: str) -> None:
    token = fake.agent("alice/fix-login-bug")["agent_token"]
    with fake.client() as agent:
        path = f"/api/v2/workspaceagents/me/tasks/{form}/log-snapshot?format=agentapi"
        response = agent.post(path, json={"messages": []}, headers={"Coder-Session-Token": token})
    assert response.status_code == 204, response.text

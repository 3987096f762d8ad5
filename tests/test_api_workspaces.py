"""A task's workspace and its builds: what the web UI's task page and `coder task pause`/`resume`
read, derived from the same records as the task."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest
from conftest import ACTIVE_ID, AI_VERSION_ID, ALICE_ID, NOT_FOUND, PAUSED_ID, PRESET_ID, SETTLE, create_task, get_task
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from fakeserver import FakeCoder
from fakeserver.pytest_plugin import ServedFakeCoder
from fakeserver.releases import LATEST

BUILD_VERSION = LATEST.version


def alice_cookie() -> dict[str, str]:
    """Where codersdk puts the token for a WebSocket (a new dict each time: the test client adds to it)."""
    return {"cookie": "coder_session_token=alice-token"}


def workspace_of(client: httpx.Client, task: dict[str, Any]) -> dict[str, Any]:
    response = client.get(f"/api/v2/workspaces/{task['workspace_id']}")
    assert response.status_code == 200, response.text
    workspace: dict[str, Any] = response.json()
    return workspace


def test_a_tasks_workspace_agrees_with_the_task(alice: httpx.Client) -> None:
    task = get_task(alice, ACTIVE_ID)
    workspace = workspace_of(alice, task)
    build = workspace["latest_build"]
    assert workspace["task_id"] == task["id"]
    assert workspace["name"] == task["workspace_name"]
    assert (workspace["owner_id"], workspace["owner_name"]) == (ALICE_ID, "alice")
    assert workspace["template_id"] == task["template_id"]
    assert workspace["template_display_name"] == task["template_display_name"]
    assert workspace["outdated"] is False
    assert build["status"] == task["workspace_status"] == "running"
    assert build["build_number"] == task["workspace_build_number"]
    assert build["template_version_id"] == task["template_version_id"]
    [resource] = build["resources"]
    [agent] = resource["agents"]
    assert agent["id"] == task["workspace_agent_id"]
    assert agent["lifecycle_state"] == task["workspace_agent_lifecycle"] == "ready"
    assert agent["health"] == task["workspace_agent_health"]
    assert agent["status"] == "connected"
    assert agent["resource_id"] == resource["id"]
    [app] = agent["apps"]
    assert app["id"] == task["workspace_app_id"]
    assert app["health"] == "healthy"
    assert workspace["health"] == {"healthy": True, "failing_agents": []}
    latest = workspace["latest_app_status"]
    assert latest["state"] == task["current_state"]["state"]
    assert latest["message"] == task["current_state"]["message"]
    assert app["statuses"][0] == latest
    assert alice.get(f"/api/v2/users/me/workspace/{task['workspace_name']}").json() == workspace
    assert alice.get(f"/api/v2/users/alice/workspace/{task['workspace_name'].upper()}").json() == workspace


def test_a_paused_tasks_workspace_is_stopped_with_no_agent(alice: httpx.Client) -> None:
    workspace = workspace_of(alice, get_task(alice, PAUSED_ID))
    assert workspace["latest_build"]["transition"] == "stop"
    assert workspace["latest_build"]["status"] == "stopped"
    assert workspace["latest_build"]["resources"] == []


def test_members_read_only_their_own_workspaces(alice: httpx.Client, bob: httpx.Client, admin: httpx.Client) -> None:
    task = get_task(alice, ACTIVE_ID)
    assert bob.get(f"/api/v2/workspaces/{task['workspace_id']}").json() == NOT_FOUND
    assert bob.get(f"/api/v2/users/alice/workspace/{task['workspace_name']}").json() == NOT_FOUND
    assert admin.get(f"/api/v2/workspaces/{task['workspace_id']}").status_code == 200
    assert admin.get(f"/api/v2/users/alice/workspace/{task['workspace_name']}").status_code == 200
    assert alice.get("/api/v2/users/me/workspace/no-such-workspace").json() == NOT_FOUND


def test_a_deleted_workspace_is_gone_unless_asked_for(fake: FakeCoder, alice: httpx.Client) -> None:
    task = create_task(alice)
    fake.advance(SETTLE)
    assert alice.delete(f"/api/v2/tasks/me/{task['id']}").status_code == 202
    fake.advance(SETTLE)
    path = f"/api/v2/workspaces/{task['workspace_id']}"
    gone = alice.get(path)
    assert gone.status_code == 410
    assert gone.json() == {
        "message": f'Workspace "{task["workspace_id"]}" was deleted, '
        "you can view this workspace by specifying '?deleted=true' and trying again."
    }
    shown = alice.get(path, params={"include_deleted": "true"}).json()
    assert shown["latest_build"]["transition"] == "delete"
    assert shown["latest_build"]["status"] == "deleted"
    by_name = f"/api/v2/users/me/workspace/{task['workspace_name']}"
    assert alice.get(by_name).json() == NOT_FOUND
    assert alice.get(by_name, params={"include_deleted": "1"}).json()["id"] == task["workspace_id"]


@pytest.mark.parametrize(
    ("path", "field"),
    [("/api/v2/workspaces/{id}", "deleted"), ("/api/v2/users/me/workspace/{name}", "include_deleted")],
)
def test_include_deleted_must_be_a_go_boolean(alice: httpx.Client, path: str, field: str) -> None:
    task = get_task(alice, ACTIVE_ID)
    url = path.format(id=task["workspace_id"], name=task["workspace_name"])
    response = alice.get(url, params={"include_deleted": "perhaps"})
    assert response.status_code == 400
    assert response.json() == {
        "message": 'Invalid boolean value "perhaps" for "include_deleted" query param.',
        "validations": [{"field": field, "detail": "Must be a valid boolean"}],
    }


def test_a_build_and_its_parameters_from_its_preset(alice: httpx.Client, bob: httpx.Client) -> None:
    task = create_task(alice, template_version_preset_id=PRESET_ID)
    build = workspace_of(alice, task)["latest_build"]
    assert alice.get(f"/api/v2/workspacebuilds/{build['id']}").json() == build
    assert build["template_version_preset_id"] == PRESET_ID
    parameters = alice.get(f"/api/v2/workspacebuilds/{build['id']}/parameters").json()
    assert parameters == [{"name": "model", "value": "sonnet"}]
    assert bob.get(f"/api/v2/workspacebuilds/{build['id']}").json() == NOT_FOUND
    bare = create_task(alice)
    bare_build = workspace_of(alice, bare)["latest_build"]
    assert alice.get(f"/api/v2/workspacebuilds/{bare_build['id']}/parameters").json() == []


def test_a_builds_logs_grow_with_its_job(fake: FakeCoder, alice: httpx.Client) -> None:
    task = create_task(alice)
    logs_path = f"/api/v2/workspacebuilds/{workspace_of(alice, task)['latest_build']['id']}/logs"
    assert alice.get(logs_path).json() == []  # queued: nothing written yet
    fake.advance(1.5)
    started = alice.get(logs_path).json()
    assert [log["stage"] for log in started] == ["Setting up", "Planning infrastructure", "Starting workspace"]
    assert [log["id"] for log in started] == [1, 2, 3]
    fake.advance(SETTLE)
    done = alice.get(logs_path).json()
    assert done[:3] == started
    assert done[-1]["stage"] == "Cleaning Up"
    assert alice.get(logs_path, params={"after": "3"}).json() == done[3:]
    bad = alice.get(logs_path, params={"after": "3.5"})
    assert bad.status_code == 400
    assert bad.json() == {
        "message": 'Query param "after" must be an integer.',
        "validations": [{"field": "after", "detail": "Must be an integer"}],
    }


def test_a_failed_builds_logs_end_with_its_error(fake: FakeCoder, alice: httpx.Client) -> None:
    task = create_task(alice)
    build_id = workspace_of(alice, task)["latest_build"]["id"]
    fake.fail_build(task["id"], "out of disk")
    last = alice.get(f"/api/v2/workspacebuilds/{build_id}/logs").json()[-1]
    assert (last["log_level"], last["output"]) == ("error", "out of disk")


def test_following_a_builds_logs_streams_them_until_the_job_ends(fake: FakeCoder, alice: httpx.Client) -> None:
    task = create_task(alice)
    build_id = workspace_of(alice, task)["latest_build"]["id"]
    moved = threading.Event()

    def finish_the_build() -> None:
        moved.wait(5)
        fake.advance(SETTLE)

    threading.Thread(target=finish_the_build).start()
    received = []
    with (
        TestClient(fake.app) as client,
        client.websocket_connect(
            f"/api/v2/workspacebuilds/{build_id}/logs?follow&after=0", headers=alice_cookie()
        ) as socket,
    ):
        moved.set()
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                received.append(socket.receive_json())
    assert closed.value.code == 1000
    assert received == alice.get(f"/api/v2/workspacebuilds/{build_id}/logs").json()
    assert received[-1]["stage"] == "Cleaning Up"
    journaled = fake.requests("getWorkspaceBuildLogs")
    assert [(entry.status, entry.user) for entry in journaled] == [(101, "alice"), (200, "alice")]


def test_following_a_finished_builds_logs_sends_those_after_the_cursor_and_closes(
    alice: httpx.Client, fake: FakeCoder
) -> None:
    build_id = workspace_of(alice, get_task(alice, ACTIVE_ID))["latest_build"]["id"]
    every = alice.get(f"/api/v2/workspacebuilds/{build_id}/logs").json()
    with (
        TestClient(fake.app) as client,
        client.websocket_connect(
            f"/api/v2/workspacebuilds/{build_id}/logs?follow=true&after=-1", headers=alice_cookie()
        ) as socket,
    ):
        assert [socket.receive_json() for _ in every] == every
        with pytest.raises(WebSocketDisconnect):
            socket.receive_json()


def test_a_follow_the_fake_refuses_gets_coderds_http_answer(fake: FakeCoder, alice: httpx.Client) -> None:
    from starlette.testclient import WebSocketDenialResponse

    build_id = workspace_of(alice, get_task(alice, ACTIVE_ID))["latest_build"]["id"]
    with TestClient(fake.app) as client:
        for path, headers, status in (
            (f"/api/v2/workspacebuilds/{build_id}/logs?follow", {}, 401),
            (f"/api/v2/workspacebuilds/{build_id}/logs?follow", {"cookie": "coder_session_token=bob-token"}, 404),
            ("/api/v2/workspacebuilds/nope/logs?follow", alice_cookie(), 400),
            (f"/api/v2/workspacebuilds/{build_id}/logs?follow&after=x", alice_cookie(), 400),
        ):
            with pytest.raises(WebSocketDenialResponse) as refused, client.websocket_connect(path, headers=headers):
                pass
            assert refused.value.status_code == status
            assert "message" in refused.value.json()


def test_a_plain_request_to_follow_is_refused(alice: httpx.Client) -> None:
    build_id = workspace_of(alice, get_task(alice, ACTIVE_ID))["latest_build"]["id"]
    response = alice.get(f"/api/v2/workspacebuilds/{build_id}/logs", params={"follow": "true"})
    assert response.status_code == 400
    assert response.json()["message"] == "Failed to accept websocket."


def test_a_reset_ends_an_open_stream(fake: FakeCoder, alice: httpx.Client) -> None:
    task = create_task(alice, template_version_id=AI_VERSION_ID)
    build_id = workspace_of(alice, task)["latest_build"]["id"]
    with (
        TestClient(fake.app) as client,
        client.websocket_connect(f"/api/v2/workspacebuilds/{build_id}/logs?follow", headers=alice_cookie()) as socket,
    ):
        fake.reset()
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
        assert closed.value.code == 1000


def test_following_over_a_real_socket_in_a_world_of_its_own(fake_coder_server: ServedFakeCoder) -> None:
    """As codersdk dials it: the token in a cookie, `?follow&after=0`, through uvicorn, in the test's own world."""
    with fake_coder_server.http_client("alice") as alice:
        task = alice.post("/api/v2/tasks/me", json={"template_version_id": AI_VERSION_ID, "input": "Go"}).json()
        build_id = alice.get(f"/api/v2/workspaces/{task['workspace_id']}").json()["latest_build"]["id"]
    fake_coder_server.advance(SETTLE)  # the job has ended: the stream sends its logs and closes
    url = fake_coder_server.url.replace("http://", "ws://") + f"/api/v2/workspacebuilds/{build_id}/logs?follow&after=0"
    with connect(url, additional_headers=alice_cookie(), open_timeout=10) as socket:
        received = [json.loads(message) for message in socket]
    assert socket.close_code == 1000
    assert socket.response is not None
    assert socket.response.headers["X-Coder-Build-Version"] == BUILD_VERSION  # the CLI checks the 101 too
    assert [log["stage"] for log in received][-1] == "Cleaning Up"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, open_timeout=10)
    assert refused.value.response.status_code == 401
    assert refused.value.response.headers["X-Coder-Build-Version"] == BUILD_VERSION


def test_a_page_of_a_foreign_origin_cannot_open_the_stream(fake: FakeCoder, alice: httpx.Client) -> None:
    """Its cookie would carry the user's token: coder/websocket refuses it, and so does the fake,
    unless CORS lets that origin call the fake (any localhost page, by default)."""
    from starlette.testclient import WebSocketDenialResponse

    build_id = workspace_of(alice, get_task(alice, ACTIVE_ID))["latest_build"]["id"]
    path = f"/api/v2/workspacebuilds/{build_id}/logs?follow"
    with TestClient(fake.app) as client:  # its WebSockets say `Host: testserver`
        foreign = {**alice_cookie(), "origin": "https://evil.example"}
        with pytest.raises(WebSocketDenialResponse) as refused, client.websocket_connect(path, headers=foreign):
            pass
        assert refused.value.status_code == 403
        assert refused.value.json() == {
            "message": 'request Origin "https://evil.example" is not authorized for Host "testserver"'
        }
        for origin in ("http://testserver", "http://localhost:5173"):  # the same host; a local dev server
            with client.websocket_connect(path, headers={**alice_cookie(), "origin": origin}) as socket:
                assert socket.receive_json()["id"] == 1

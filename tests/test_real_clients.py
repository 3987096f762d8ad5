"""Real Coder clients' task flows, replayed request by request against the fake.

Each flow is written from reading the client at v2.33 (`cli/task_*.go` over `codersdk`, and the
web UI's `site/src/pages/TasksPage` and `TaskPage` over `site/src/api/api.ts`), in our words: the
same requests in the same order, with the same bodies and queries, reading the same fields and
parsing them as the client's types do (UUIDs, RFC 3339 times, enums). docs/clients.md lists them.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
from conftest import AI_TEMPLATE_ID, AI_VERSION_ID, PRESET_ID, SETTLE
from websockets.sync.client import connect

from fakeserver import FakeCoder
from fakeserver.pytest_plugin import ServedFakeCoder

NIL_UUID = uuid.UUID(int=0)
TASK_STATUSES = {"pending", "initializing", "active", "paused", "error", "unknown"}
TASK_STATES = {"working", "idle", "complete", "failed"}
WORKSPACE_STATUSES = {
    "pending", "starting", "running", "stopping", "stopped", "failed", "canceling", "canceled", "deleting", "deleted",
}  # fmt: skip
JOB_STATUSES = {"pending", "running", "succeeded", "canceling", "canceled", "failed"}


def parse_uuid(value: Any) -> uuid.UUID:
    assert isinstance(value, str), value
    return uuid.UUID(value)


def parse_time(value: Any) -> datetime:
    assert isinstance(value, str) and value.endswith("Z"), value
    return datetime.fromisoformat(value)


@dataclass
class SDK:
    """What codersdk does for every request: the session token header, JSON, errors read as
    `codersdk.Error`, and the CLI's check of `X-Coder-Build-Version` on each answer."""

    http: httpx.Client
    requests: list[str] = field(default_factory=list)
    server_versions: set[str] = field(default_factory=set)

    def call(self, method: str, path: str, body: Any = None, expect: int = 200, **params: str) -> Any:
        response = self.http.request(method, path, json=body, params=params or None)
        self.requests.append(f"{method} {path}" + (f"?{response.request.url.query.decode()}" if params else ""))
        self.server_versions.add(response.headers["X-Coder-Build-Version"])
        assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text}"
        if not response.content:
            return None
        assert response.headers["content-type"].startswith("application/json")
        return response.json()

    def check_version(self) -> None:
        """The CLI warns on a mismatch and then fetches the build info: either way, it must parse."""
        [version] = self.server_versions
        info = self.call("GET", "/api/v2/buildinfo")
        assert info["version"] == version
        assert info["dashboard_url"]


# codersdk's readers: each parses what the CLI reads of a type.


def read_task(body: dict[str, Any]) -> dict[str, Any]:
    parse_uuid(body["id"])
    parse_uuid(body["owner_id"])
    assert body["status"] in TASK_STATUSES
    assert body["workspace_status"] in WORKSPACE_STATUSES | {None}
    parse_time(body["created_at"])
    parse_time(body["updated_at"])
    assert body["workspace_id"] is None or parse_uuid(body["workspace_id"])
    state = body["current_state"]
    if state is not None:
        assert state["state"] in TASK_STATES
        parse_time(state["timestamp"])
        assert isinstance(state["message"], str)
    health = body["workspace_agent_health"]
    assert health is None or isinstance(health["healthy"], bool)
    return body


def read_build(body: dict[str, Any]) -> dict[str, Any]:
    parse_uuid(body["id"])
    job = body["job"]
    assert job["status"] in JOB_STATUSES
    assert isinstance(job["queue_position"], int)
    for moment in ("started_at", "completed_at"):
        if moment in job:
            parse_time(job[moment])
    return body


def read_workspace(body: dict[str, Any]) -> dict[str, Any]:
    parse_uuid(body["id"])
    assert body["latest_build"]["status"] in WORKSPACE_STATUSES
    read_build(body["latest_build"])
    for resource in body["latest_build"]["resources"]:
        for agent in resource["agents"]:
            parse_uuid(agent["id"])
            assert agent["status"] in {"connecting", "connected", "disconnected", "timeout"}
            for app in agent["apps"]:
                parse_uuid(app["id"])
                assert app["health"] in {"disabled", "initializing", "healthy", "unhealthy"}
    return body


# The CLI: `coder task ...`, as cli/task_*.go calls codersdk.


def task_by_identifier(sdk: SDK, identifier: str) -> dict[str, Any]:
    """codersdk.TaskByIdentifier: a UUID is fetched under `me`; `owner/name` or a bare name by name."""
    try:
        return read_task(sdk.call("GET", f"/api/v2/tasks/me/{uuid.UUID(identifier)}"))
    except ValueError:
        owner, _, name = identifier.rpartition("/")
        return read_task(sdk.call("GET", f"/api/v2/tasks/{owner or 'me'}/{name}"))


def cli_create(
    sdk: SDK, prompt: str, template: str = "", version: str = "", preset: str = "", name: str = ""
) -> dict[str, Any]:
    [organization] = sdk.call("GET", "/api/v2/users/me/organizations")  # OrganizationContext.Selected
    org_id = parse_uuid(organization["id"])
    templates_path = f"/api/v2/organizations/{org_id}/templates"
    if not template:  # the one AI template of the organization, else the CLI asks for --template
        [only] = sdk.call("GET", "/api/v2/templates", q=f'organization:"{org_id}" has-ai-task:true')
        if version:
            version_id = parse_uuid(sdk.call("GET", f"{templates_path}/{only['name']}/versions/{version}")["id"])
        else:
            version_id = parse_uuid(only["active_version_id"])
    elif version:
        version_id = parse_uuid(sdk.call("GET", f"{templates_path}/{template}/versions/{version}")["id"])
    else:
        version_id = parse_uuid(sdk.call("GET", f"{templates_path}/{template}")["active_version_id"])
    preset_id = NIL_UUID
    if preset:
        presets = sdk.call("GET", f"/api/v2/templateversions/{version_id}/presets")
        [chosen] = [p for p in presets if p["Name"] == preset]  # resolvePreset matches by name
        preset_id = parse_uuid(chosen["ID"])
    body: dict[str, Any] = {
        "template_version_id": str(version_id),
        "template_version_preset_id": str(preset_id),  # a uuid.UUID is never omitted: nil means none
        "input": prompt,
    }
    if name:
        body["name"] = name
    task = read_task(sdk.call("POST", "/api/v2/tasks/me", body, expect=201))
    assert task["name"]
    return task


def cli_list(sdk: SDK, status: str = "") -> list[dict[str, Any]]:
    query = 'owner:"me"' + (f' status:"{status}"' if status else "")
    body = sdk.call("GET", "/api/v2/tasks", q=query)
    assert body["count"] == len(body["tasks"])
    return [read_task(task) for task in body["tasks"]]


def cli_status(sdk: SDK, identifier: str) -> dict[str, Any]:
    task = task_by_identifier(sdk, identifier)
    if task["workspace_agent_lifecycle"] is not None:
        assert task["workspace_agent_lifecycle"] in {"created", "starting", "ready", "off", "shutting_down"}
    return task


def cli_logs(sdk: SDK, identifier: str) -> dict[str, Any]:
    task = task_by_identifier(sdk, identifier)
    logs: dict[str, Any] = sdk.call("GET", f"/api/v2/tasks/me/{task['id']}/logs")
    for entry in logs["logs"]:
        assert entry["type"] in {"input", "output"}
        parse_time(entry["time"])
    if logs.get("snapshot"):
        assert "snapshot_at" in logs or not logs["logs"]
    return logs


def watch_build(sdk: SDK, build_id: str, follow: FollowLogs) -> dict[str, Any]:
    """cliui.WorkspaceBuild: the build, its logs followed until the stream closes, the build again."""
    read_build(sdk.call("GET", f"/api/v2/workspacebuilds/{build_id}"))
    follow(build_id)
    build = read_build(sdk.call("GET", f"/api/v2/workspacebuilds/{build_id}"))
    assert "completed_at" in build["job"], "the logs closed before the job ended"
    return build


def cli_pause(sdk: SDK, identifier: str, follow: FollowLogs) -> dict[str, Any]:
    task = task_by_identifier(sdk, identifier)
    answer = sdk.call("POST", f"/api/v2/tasks/{task['owner_name']}/{task['id']}/pause", expect=202)
    return watch_build(sdk, read_build(answer["workspace_build"])["id"], follow)


def cli_resume(sdk: SDK, identifier: str, follow: FollowLogs) -> dict[str, Any]:
    task = task_by_identifier(sdk, identifier)
    assert task["status"] == "paused"  # the CLI says so and stops otherwise
    answer = sdk.call("POST", f"/api/v2/tasks/{task['owner_name']}/{task['id']}/resume", expect=202)
    return watch_build(sdk, read_build(answer["workspace_build"])["id"], follow)


def cli_send(sdk: SDK, identifier: str, text: str, follow: FollowLogs) -> None:
    task = task_by_identifier(sdk, identifier)
    if task["status"] == "paused":
        answer = sdk.call("POST", f"/api/v2/tasks/{task['owner_name']}/{task['id']}/resume", expect=202)
        watch_build(sdk, answer["workspace_build"]["id"], follow)
    elif task["status"] == "initializing":
        workspace = read_workspace(sdk.call("GET", f"/api/v2/workspaces/{task['workspace_id']}"))
        watch_build(sdk, workspace["latest_build"]["id"], follow)
    sdk.call("POST", f"/api/v2/tasks/me/{task['id']}/send", {"input": text}, expect=204)


def cli_delete(sdk: SDK, identifier: str) -> None:
    task = task_by_identifier(sdk, identifier)
    sdk.call("DELETE", f"/api/v2/tasks/{task['owner_name']}/{task['id']}", expect=202)


class FollowLogs:
    """codersdk.WorkspaceBuildLogsAfter(ctx, build, 0): `?follow` over a WebSocket, the token in a
    cookie; returns once the server closes the stream. In-process, the fake's clock is moved on
    while the stream is open, as the passing of time would."""

    def __init__(self, fake: FakeCoder, url: str = "", token: str = "alice-token") -> None:
        self.fake = fake
        self.url = url
        self.token = token
        self.logs: list[dict[str, Any]] = []

    def __call__(self, build_id: str) -> None:
        path = f"/api/v2/workspacebuilds/{build_id}/logs?follow"
        headers = {"cookie": f"coder_session_token={self.token}"}
        if self.url:
            with connect(self.url.replace("http://", "ws://") + path, additional_headers=headers) as socket:
                self.logs += [json.loads(message) for message in socket]
            return
        from starlette.testclient import TestClient

        clock = threading.Timer(0.2, self.fake.advance, args=(SETTLE,))
        clock.start()
        with TestClient(self.fake.app) as client, client.websocket_connect(path, headers=headers) as socket:
            self.logs += _until_closed(socket)
        clock.join()


def _until_closed(socket: Any) -> list[dict[str, Any]]:
    from starlette.websockets import WebSocketDisconnect

    received = []
    try:
        while True:
            received.append(socket.receive_json())
    except WebSocketDisconnect as closed:
        assert closed.code == 1000
    return received


@pytest.fixture
def sdk(fake: FakeCoder) -> SDK:
    return SDK(fake.client("alice"))


def test_coder_task_create_with_template_and_preset(fake: FakeCoder, sdk: SDK) -> None:
    task = cli_create(sdk, "Add authentication to the user service", template="claude-code", preset="default")
    assert sdk.requests == [
        "GET /api/v2/users/me/organizations",
        f"GET /api/v2/organizations/{task['organization_id']}/templates/claude-code",
        f"GET /api/v2/templateversions/{AI_VERSION_ID}/presets",
        "POST /api/v2/tasks/me",
    ]
    assert task["template_version_id"] == AI_VERSION_ID
    fake.advance(SETTLE)
    workspace = read_workspace(sdk.call("GET", f"/api/v2/workspaces/{task['workspace_id']}"))
    assert workspace["latest_build"]["template_version_preset_id"] == PRESET_ID
    sdk.check_version()


def test_coder_task_create_without_a_template_or_preset_and_with_a_version(sdk: SDK) -> None:
    bare = cli_create(sdk, "Write the release notes")
    assert sdk.requests[1].startswith("GET /api/v2/templates?q=organization%3A%22")
    assert bare["template_id"] == AI_TEMPLATE_ID
    versioned = cli_create(sdk, "Bump the version", template="claude-code", version="v1", name="bump-version")
    assert versioned["name"] == "bump-version"
    assert sdk.requests[-2].endswith("/templates/claude-code/versions/v1")


def test_coder_task_list_status_and_logs(fake: FakeCoder, sdk: SDK) -> None:
    created = cli_create(sdk, "Fix the flaky test", template="claude-code")
    listed = cli_list(sdk)
    assert created["id"] in [task["id"] for task in listed]
    assert all(task["owner_name"] == "alice" for task in listed)
    assert [task["id"] for task in cli_list(sdk, status="paused")] == [
        task["id"] for task in listed if task["status"] == "paused"
    ]
    fake.advance(SETTLE * 2)  # the agent starts on the prompt and answers
    for identifier in (created["id"], created["name"], f"alice/{created['name']}"):
        assert cli_status(sdk, identifier)["status"] == "active"
    logs = cli_logs(sdk, created["name"])
    assert [entry["type"] for entry in logs["logs"]] == ["input", "output"]
    paused = next(task for task in listed if task["status"] == "paused")
    assert cli_logs(sdk, paused["id"])["snapshot"] is True


def test_coder_task_pause_resume_send_and_delete(fake: FakeCoder, sdk: SDK) -> None:
    follow = FollowLogs(fake)
    task = cli_create(sdk, "Refactor the API client", template="claude-code")
    fake.advance(SETTLE * 2)
    stopped = cli_pause(sdk, task["name"], follow)
    assert (stopped["transition"], stopped["status"], stopped["job"]["status"]) == ("stop", "stopped", "succeeded")
    assert follow.logs[-1]["stage"] == "Cleaning Up"
    assert cli_status(sdk, task["id"])["status"] == "paused"
    started = cli_resume(sdk, task["name"], follow)
    assert (started["transition"], started["status"]) == ("start", "running")
    fake.advance(SETTLE)
    cli_send(sdk, task["name"], "Also update the changelog", follow)
    fake.advance(SETTLE)
    assert cli_logs(sdk, task["name"])["logs"][-2]["content"] == "Also update the changelog"
    cli_pause(sdk, task["id"], follow)
    cli_send(sdk, task["id"], "Resume and carry on", follow)  # v2.33: send resumes a paused task first
    cli_delete(sdk, f"alice/{task['name']}")
    assert task["id"] not in [t["id"] for t in cli_list(sdk)]


def test_coder_task_pause_and_resume_over_a_real_socket(fake_coder_server: ServedFakeCoder) -> None:
    """The build watch over uvicorn, with the clock moving on its own between the client's requests."""
    with fake_coder_server.http_client("alice") as http:
        sdk = SDK(http)
        follow = FollowLogs(fake_coder_server, url=fake_coder_server.url)
        task = cli_create(sdk, "Tidy the imports", template="claude-code")
        fake_coder_server.advance(SETTLE * 2)
        answer = sdk.call("POST", f"/api/v2/tasks/alice/{task['id']}/pause", expect=202)
        build_id = answer["workspace_build"]["id"]
        read_build(sdk.call("GET", f"/api/v2/workspacebuilds/{build_id}"))
        clock = threading.Timer(0.3, fake_coder_server.advance, args=(SETTLE,))
        clock.start()
        follow(build_id)
        clock.join()
        assert read_build(sdk.call("GET", f"/api/v2/workspacebuilds/{build_id}"))["status"] == "stopped"
        assert follow.logs[-1]["stage"] == "Cleaning Up"


# The web UI: its Tasks pages, as site/src/api/api.ts calls the API.


def test_the_web_tasks_page(sdk: SDK) -> None:
    """TasksPage: the AI templates for the prompt box, the signed-in user, the task list every 10 s."""
    templates = sdk.call("GET", "/api/v2/templates", q="has-ai-task:true")
    assert [(t["name"], t["display_name"], t["icon"]) for t in templates] == [
        ("claude-code", "Claude Code", "/icon/claude.svg")
    ]
    me = sdk.call("GET", "/api/v2/users/me")
    for _ in range(2):  # refetched on an interval
        tasks = sdk.call("GET", "/api/v2/tasks", q=f"owner:{me['username']}")["tasks"]
        for task in tasks:
            read_task(task)
            assert task["owner_name"] == me["username"]
            assert task["template_display_name"] and task["template_icon"]
    # TaskPrompt: the template's versions and the chosen version's presets, then the create.
    template = templates[0]
    versions = sdk.call("GET", f"/api/v2/templates/{template['id']}/versions")
    assert template["active_version_id"] in [v["id"] for v in versions]
    sdk.call("GET", f"/api/v2/templates/{template['id']}")
    presets = sdk.call("GET", f"/api/v2/templateversions/{template['active_version_id']}/presets")
    body = {
        "template_version_id": template["active_version_id"],
        "template_version_preset_id": presets[0]["ID"],
        "input": "Make the login page accessible",
    }
    created = read_task(sdk.call("POST", f"/api/v2/tasks/{me['id']}", body, expect=201))
    assert created["owner_name"] == me["username"]


def test_the_web_task_page(fake: FakeCoder, sdk: SDK) -> None:
    """TaskPage: the task and its workspace by owner and name every 5 s; while building, the
    template and the build's logs (followed from -1); then the app and its build parameters."""
    body = {"template_version_id": AI_VERSION_ID, "template_version_preset_id": PRESET_ID, "input": "Add dark mode"}
    task = read_task(sdk.call("POST", "/api/v2/tasks/me", body, expect=201))
    owner, task_id = task["owner_name"], task["id"]
    task = read_task(sdk.call("GET", f"/api/v2/tasks/{owner}/{task_id}"))
    workspace = read_workspace(sdk.call("GET", f"/api/v2/users/{owner}/workspace/{task['workspace_name']}"))
    assert workspace["latest_build"]["status"] in ("pending", "starting")
    template = sdk.call("GET", f"/api/v2/templates/{workspace['template_id']}")
    assert template["display_name"] == "Claude Code"
    logs = sdk.call("GET", f"/api/v2/workspacebuilds/{workspace['latest_build']['id']}/logs", after="-1")
    assert isinstance(logs, list)
    fake.advance(SETTLE * 2)
    task = read_task(sdk.call("GET", f"/api/v2/tasks/{owner}/{task_id}"))
    workspace = read_workspace(sdk.call("GET", f"/api/v2/users/{owner}/workspace/{task['workspace_name']}"))
    assert task["status"] == "active"
    [agent] = [agent for resource in workspace["latest_build"]["resources"] for agent in resource["agents"]]
    [app] = [app for app in agent["apps"] if app["id"] == task["workspace_app_id"]]
    assert (app["health"], agent["lifecycle_state"]) == ("healthy", "ready")
    assert workspace["latest_app_status"]["state"] == task["current_state"]["state"]
    parameters = sdk.call("GET", f"/api/v2/workspacebuilds/{workspace['latest_build']['id']}/parameters")
    assert parameters == [{"name": "model", "value": "sonnet"}]
    read_task(sdk.call("GET", f"/api/v2/tasks/{owner}/{task_id}"))
    sdk.call("GET", f"/api/v2/tasks/{owner}/{task_id}/logs")
    sdk.call("POST", f"/api/v2/tasks/{owner}/{task_id}/send", {"input": "Thanks"}, expect=204)

"""The operations a workspace agent calls with its agent token."""

from __future__ import annotations

from typing import Any

from fakeserver.errors import ApiError, envelope, not_found
from fakeserver.models import Snapshot
from fakeserver.routing import Call, Handler, Reply
from fakeserver.uuids import parse_uuid

APP_STATUS_MESSAGE_MAX = 160


def upload_task_log_snapshot(call: Call) -> Reply:
    """Store the agent's conversation; a later upload replaces the earlier one."""
    workspace = call.principal.workspace
    task_id = parse_uuid(call.params["task"])  # the spec lets through only what this parses
    task = call.world.live_task(task_id) if task_id is not None else None
    if task is None or workspace is None or task.workspace_id != workspace.id:
        raise not_found()
    call.task_id = task.id
    body: dict[str, Any] = call.body
    if body.get("messages") is None:
        raise ApiError(400, "Invalid agentapi payload structure.", 'Missing required "messages" field.')
    call.world.save_snapshot(task, Snapshot(format="agentapi", payload=body, created_at=call.world.now()))
    return Reply(204)


def patch_app_status(call: Call) -> Reply:
    """What an agent reports about its app; the latest report is the task's `current_state`."""
    agent, workspace = call.principal.agent, call.principal.workspace
    assert agent is not None and workspace is not None, "agent operations authenticate an agent"
    call.task_id = workspace.task_id
    body: dict[str, Any] = call.body
    slug = body["app_slug"]
    if agent.app.slug != slug:
        raise ApiError(400, "Failed to get workspace app.", f'No app found with slug "{slug}"')
    message = str(body.get("message") or "")
    if len(message) > APP_STATUS_MESSAGE_MAX:
        raise ApiError(400, "Message is too long.", "Message must be less than 160 characters.")
    call.world.report_app_status(workspace, agent, body["state"], message, str(body.get("uri") or ""))
    return Reply(200, envelope("App status updated."))


HANDLERS: dict[str, Handler] = {
    "uploadTaskLogSnapshot": upload_task_log_snapshot,
    "patchWorkspaceAgentAppStatus": patch_app_status,
}

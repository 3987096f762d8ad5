"""The world's records as coderd puts them on the wire (codersdk types).

Go's `omitempty` fields are left out when empty; nullable UUIDs and pointer
fields are `null`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fakeserver import derive
from fakeserver.models import Build, Message, Task, Workspace
from fakeserver.timefmt import format_time
from fakeserver.world import World

JSONObject = dict[str, Any]


def task_json(world: World, task: Task) -> JSONObject:
    """The task as the API shows it, computed once per change of the world (callers must not
    change the dict they get: it is what the next call answers too)."""
    cached = world.wire_cache.get(task.id)
    if cached is not None and cached[0] == world.revision:
        return cached[1]
    body = _task_json(world, task)
    world.wire_cache[task.id] = (world.revision, body)
    return body


def _task_json(world: World, task: Task) -> JSONObject:
    workspace = world.workspace_of(task)
    owner = world.users[task.owner_id]
    status = derive.status_of(workspace)
    body: JSONObject = {
        "id": task.id,
        "organization_id": task.organization_id,
        "owner_id": task.owner_id,
        "owner_name": owner.username,
        "name": task.name,
        "display_name": task.display_name,
        "template_version_id": task.template_version_id,
        "workspace_id": task.workspace_id,
        "workspace_agent_id": None,
        "workspace_agent_lifecycle": None,
        "workspace_agent_health": None,
        "workspace_app_id": None,
        "initial_prompt": task.prompt,
        "status": status,
        "current_state": derive.current_state_of(workspace, status),
        "created_at": format_time(task.created_at),
    }
    if owner.avatar_url:
        body["owner_avatar_url"] = owner.avatar_url
    if workspace is None:
        body.update(_no_workspace())
        return body
    template = world.template_of(workspace)
    build = workspace.latest_build
    agent = derive.linked_agent(build)
    body.update(
        template_id=template.id,
        template_name=template.name,
        template_display_name=template.display_name,
        template_icon=template.icon,
        workspace_name=workspace.name,
        workspace_status=derive.workspace_status(build.transition, build.job.status),
        workspace_build_number=build.number,
        updated_at=format_time(workspace.updated_at),
    )
    if agent is not None:
        body.update(
            workspace_agent_id=agent.id,
            workspace_agent_lifecycle=agent.lifecycle,
            workspace_agent_health=derive.agent_health(agent),
            workspace_app_id=agent.app.id,
        )
    return body


def _no_workspace() -> JSONObject:
    """coderd's zero values for a task whose workspace cannot be loaded."""
    return {
        "template_id": "00000000-0000-0000-0000-000000000000",
        "template_name": "",
        "template_display_name": "",
        "template_icon": "",
        "workspace_name": "",
        "updated_at": "0001-01-01T00:00:00Z",
    }


def build_json(world: World, workspace: Workspace, build: Build) -> JSONObject:
    """codersdk.WorkspaceBuild, converted with empty resources as pause and resume return it."""
    owner = world.users[workspace.owner_id]
    initiator = world.users.get(build.initiator_id)
    template = world.template_of(workspace)
    version = world.versions.get(build.template_version_id)
    version_name = version.name if version else ""
    body: JSONObject = {
        "id": build.id,
        "created_at": format_time(build.created_at),
        "updated_at": format_time(build.updated_at),
        "workspace_id": workspace.id,
        "workspace_name": workspace.name,
        "workspace_owner_id": owner.id,
        "workspace_owner_name": owner.username,
        "template_version_id": build.template_version_id,
        "template_version_name": version_name,
        "template_version_preset_id": build.preset_id,
        "build_number": build.number,
        "transition": build.transition,
        "reason": build.reason,
        "initiator_id": build.initiator_id,
        "initiator_name": initiator.username if initiator else "",
        "job": _job_json(
            workspace, build, template.id, template.name, template.display_name, template.icon, version_name
        ),
        "resources": [],
        "deadline": None,
        "max_deadline": None,
        "status": derive.workspace_status(build.transition, build.job.status),
        "daily_cost": 0,
        "matched_provisioners": {"count": 1, "available": 1, "most_recently_seen": format_time(world.now())},
        "has_ai_task": True,
        "has_external_agent": False,
    }
    if owner.avatar_url:
        body["workspace_owner_avatar_url"] = owner.avatar_url
    return body


def _job_json(
    workspace: Workspace,
    build: Build,
    template_id: str,
    template_name: str,
    template_display_name: str,
    template_icon: str,
    version_name: str,
) -> JSONObject:
    job = build.job
    body: JSONObject = {
        "id": job.id,
        "created_at": format_time(job.created_at),
        "status": job.status,
        "file_id": job.file_id,
        "tags": {"scope": "organization", "owner": ""},
        "queue_position": 0,
        "queue_size": 0,
        "organization_id": workspace.organization_id,
        "initiator_id": build.initiator_id,
        "input": {"workspace_build_id": build.id},
        "type": "workspace_build",
        "metadata": {
            "template_version_name": version_name,
            "template_id": template_id,
            "template_name": template_name,
            "template_display_name": template_display_name,
            "template_icon": template_icon,
            "workspace_id": workspace.id,
            "workspace_name": workspace.name,
        },
        "logs_overflowed": False,
    }
    for key, moment in (
        ("started_at", job.started_at),
        ("completed_at", job.completed_at),
        ("canceled_at", job.canceled_at),
    ):
        if moment is not None:
            body[key] = format_time(moment)
    if job.error:
        body["error"] = job.error
    return body


def log_entry_json(message: Message) -> JSONObject:
    return log_entry(message.id, message.content, message.role, message.time)


def log_entry(message_id: int, content: str, role: str, time: datetime) -> JSONObject:
    """A `TaskLogEntry`: AgentAPI's `user` is the task's input, `agent` its output."""
    return {"id": message_id, "content": content, "type": LOG_TYPES[role], "time": format_time(time)}


LOG_TYPES = {"user": "input", "agent": "output"}


def conversation_json(messages: list[Message]) -> list[JSONObject]:
    """The conversation as AgentAPI's `GET /messages` lists it (snapshots and exports keep it so)."""
    return [{"id": m.id, "content": m.content, "role": m.role, "time": format_time(m.time)} for m in messages]

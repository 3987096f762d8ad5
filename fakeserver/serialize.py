"""The world's records as coderd puts them on the wire (codersdk types).

Go's `omitempty` fields are left out when empty; nullable UUIDs and pointer
fields are `null`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fakeserver import derive
from fakeserver.buildinfo import AGENT_API_VERSION
from fakeserver.models import Agent, AppStatus, Build, Job, Message, Task, Workspace
from fakeserver.releases import FAILURE_SHOWN_AS_FAILED
from fakeserver.timefmt import format_time
from fakeserver.uuids import NIL_UUID, derived_id
from fakeserver.wire import Wire
from fakeserver.world import World

JSONObject = dict[str, Any]


def task_wire(world: World, task: Task) -> Wire:
    """The task as the API shows it, computed (and encoded, and checked) once per change of the
    world: callers must not change what they get, it is what the next call answers too."""
    wire = world.wire_cache.get(task.id)
    if wire is None:
        wire = world.wire_cache[task.id] = Wire(_task_json(world, task))
    return wire


def task_json(world: World, task: Task) -> JSONObject:
    return task_wire(world, task).value


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
        "current_state": derive.current_state_of(workspace, status, world.release.has(FAILURE_SHOWN_AS_FAILED)),
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
        "template_id": NIL_UUID,
        "template_name": "",
        "template_display_name": "",
        "template_icon": "",
        "workspace_name": "",
        "updated_at": "0001-01-01T00:00:00Z",
    }


def build_json(world: World, workspace: Workspace, build: Build) -> JSONObject:
    """codersdk.WorkspaceBuild; its resources are what the provisioner made (none until a start
    build's job has succeeded, so a pause or resume answer has none, as in coderd)."""
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
        "resources": resources_json(world, workspace, build),
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


def workspace_json(world: World, workspace: Workspace) -> JSONObject:
    """codersdk.Workspace with its latest build: a workspace without a schedule, never dormant."""
    owner = world.users[workspace.owner_id]
    template = world.template_of(workspace)
    organization = world.organizations[workspace.organization_id]
    build = workspace.latest_build
    agent = build.agent
    failing = [agent.id] if agent is not None and not (derive.agent_health(agent) or {}).get("healthy") else []
    latest_status = workspace.app_statuses[-1] if workspace.app_statuses else None
    return {
        "id": workspace.id,
        "created_at": format_time(workspace.created_at),
        "updated_at": format_time(workspace.updated_at),
        "owner_id": owner.id,
        "owner_name": owner.username,
        "owner_avatar_url": owner.avatar_url,
        "organization_id": organization.id,
        "organization_name": organization.name,
        "template_id": template.id,
        "template_name": template.name,
        "template_display_name": template.display_name,
        "template_icon": template.icon,
        "template_allow_user_cancel_workspace_jobs": False,
        "template_active_version_id": template.active_version_id,
        "template_require_active_version": False,
        "template_use_classic_parameter_flow": False,
        "latest_build": build_json(world, workspace, build),
        "latest_app_status": app_status_json(workspace, latest_status) if latest_status else None,
        "outdated": build.template_version_id != template.active_version_id,
        "name": workspace.name,
        "last_used_at": format_time(workspace.updated_at),
        "deleting_at": None,
        "dormant_at": None,
        "health": {"healthy": not failing, "failing_agents": failing},
        "automatic_updates": "never",
        "allow_renames": False,
        "favorite": False,
        "next_start_at": None,
        "is_prebuild": False,
        "task_id": workspace.task_id,
    }


# What the provisioner makes for a task: one container holding the agent.
RESOURCE_TYPE = "docker_container"
RESOURCE_ICON = "/icon/docker.png"


def resources_json(world: World, workspace: Workspace, build: Build) -> list[JSONObject]:
    agent = build.agent
    if agent is None:
        return []
    created_at = format_time(build.job.completed_at or build.updated_at)
    resource_id = derived_id(build.id, "resource")
    return [
        {
            "id": resource_id,
            "created_at": created_at,
            "job_id": build.job.id,
            "workspace_transition": build.transition,
            "type": RESOURCE_TYPE,
            "name": agent.name,
            "hide": False,
            "icon": RESOURCE_ICON,
            "agents": [agent_json(workspace, agent, resource_id, created_at, world.release.version)],
            "metadata": [],
            "daily_cost": 0,
        }
    ]


def agent_json(workspace: Workspace, agent: Agent, resource_id: str, created_at: str, version: str) -> JSONObject:
    """codersdk.WorkspaceAgent: a Linux agent with no scripts, hosting the task's app (its
    version is the server's, as after an upgrade)."""
    body: JSONObject = {
        "id": agent.id,
        "parent_id": None,
        "created_at": created_at,
        "updated_at": format_time(agent.changed_at),
        "status": _agent_connection(agent),
        "lifecycle_state": agent.lifecycle,
        "name": agent.name,
        "resource_id": resource_id,
        "architecture": "amd64",
        "environment_variables": {},
        "operating_system": "linux",
        "logs_length": 0,
        "logs_overflowed": False,
        "directory": "/home/coder",
        "expanded_directory": "/home/coder",
        "version": version,
        "api_version": AGENT_API_VERSION,
        "apps": [app_json(workspace, agent)],
        "connection_timeout_seconds": 120,
        "troubleshooting_url": "",
        "subsystems": [],
        "health": derive.agent_health(agent),
        "display_apps": ["vscode", "web_terminal", "port_forwarding_helper", "ssh_helper"],
        "log_sources": [],
        "scripts": [],
        "startup_script_behavior": "non-blocking",
    }
    if agent.lifecycle != "created":
        body["first_connected_at"] = body["last_connected_at"] = created_at
    if agent.disconnected:
        body["disconnected_at"] = format_time(agent.changed_at)
    if agent.lifecycle not in ("created", "starting"):
        body["started_at"] = created_at
    if agent.lifecycle in ("ready", "start_timeout", "start_error"):
        body["ready_at"] = format_time(agent.changed_at)
    return body


def _agent_connection(agent: Agent) -> str:
    if agent.disconnected:
        return "disconnected"
    return "connecting" if agent.lifecycle == "created" else "connected"


def app_json(workspace: Workspace, agent: Agent) -> JSONObject:
    """codersdk.WorkspaceApp of the task's app (AgentAPI), its statuses newest first."""
    app = agent.app
    statuses = [status for status in reversed(workspace.app_statuses) if status.app_id == app.id]
    return {
        "id": app.id,
        "url": app.url,
        "external": False,
        "slug": app.slug,
        "display_name": APP_DISPLAY_NAME,
        "subdomain": False,
        "sharing_level": "owner",
        "healthcheck": {"url": f"{app.url}/status", "interval": 5, "threshold": 6},
        "health": app.health,
        "hidden": False,
        "open_in": "slim-window",
        "statuses": [app_status_json(workspace, status) for status in statuses],
    }


APP_DISPLAY_NAME = "AI Agent"


def app_status_json(workspace: Workspace, status: AppStatus) -> JSONObject:
    """codersdk.WorkspaceAppStatus."""
    return {
        "id": status.id,
        "created_at": format_time(status.created_at),
        "workspace_id": workspace.id,
        "agent_id": status.agent_id,
        "app_id": status.app_id,
        "state": status.state,
        "message": status.message,
        "uri": status.uri,
        "icon": "",
        "needs_user_attention": False,
    }


def _job_json(
    workspace: Workspace,
    build: Build,
    template_id: str,
    template_name: str,
    template_display_name: str,
    template_icon: str,
    version_name: str,
) -> JSONObject:
    metadata = {
        "template_version_name": version_name,
        "template_id": template_id,
        "template_name": template_name,
        "template_display_name": template_display_name,
        "template_icon": template_icon,
        "workspace_id": workspace.id,
        "workspace_name": workspace.name,
    }
    return provisioner_job_json(
        build.job,
        organization_id=workspace.organization_id,
        initiator_id=build.initiator_id,
        job_input={"workspace_build_id": build.id},
        job_type="workspace_build",
        metadata=metadata,
    )


def provisioner_job_json(
    job: Job,
    *,
    organization_id: str,
    initiator_id: str,
    job_input: JSONObject,
    job_type: str,
    metadata: JSONObject,
) -> JSONObject:
    """codersdk.ProvisionerJob, of a workspace build or a version's import: taken at once by the
    fake's one provisioner, its times present once they happened (`omitempty`)."""
    body: JSONObject = {
        "id": job.id,
        "created_at": format_time(job.created_at),
        "status": job.status,
        "file_id": job.file_id,
        "tags": {"scope": "organization", "owner": ""},
        "queue_position": 0,
        "queue_size": 0,
        "organization_id": organization_id,
        "initiator_id": initiator_id,
        "input": job_input,
        "type": job_type,
        "metadata": metadata,
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

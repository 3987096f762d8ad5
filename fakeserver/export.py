"""The world written back out as a fixture document.

Every record is written explicitly (ids, tokens, timestamps, builds, jobs,
agents, apps, app statuses, conversations, snapshots), so that loading the
document gives the same world and exporting it again gives the same document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fakeserver.models import Agent, Build, Task, Workspace
from fakeserver.serialize import conversation_json
from fakeserver.timefmt import format_time
from fakeserver.world import World

Document = dict[str, Any]


def export_world(world: World) -> Document:
    return {
        "settings": {
            "seed": world.seed,
            "clock_start": format_time(world.now()),
            "timings": world.timings.to_mapping(),
        },
        "organizations": [
            {"id": o.id, "name": o.name, "display_name": o.display_name, "icon": o.icon, "default": o.is_default}
            for o in world.organizations.values()
        ],
        "users": [_user(world, user_id) for user_id in world.users],
        "templates": [_template(world, template_id) for template_id in world.templates],
        "agent": {"rules": [_rule(rule) for rule in world.agent_rules]},
        "tasks": [_task(world, task) for task in world.tasks.values()],
    }


def _user(world: World, user_id: str) -> Document:
    user = world.users[user_id]
    names = {org.id: org.name for org in world.organizations.values()}
    return {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "email": user.email,
        "avatar_url": user.avatar_url,
        "status": user.status,
        "roles": list(user.roles),
        "tokens": list(user.tokens),
        "organizations": [names[org_id] for org_id in user.organization_ids],
    }


def _template(world: World, template_id: str) -> Document:
    template = world.templates[template_id]
    versions = [v for v in world.versions.values() if v.template_id == template.id]
    versions.sort(key=lambda v: v.id != template.active_version_id)  # the active version is written first
    org = world.organizations[template.organization_id]
    return {
        "id": template.id,
        "name": template.name,
        "organization": org.name,
        "display_name": template.display_name,
        "icon": template.icon,
        "deprecated": template.deprecated,
        "versions": [
            {
                "id": v.id,
                "name": v.name,
                "has_ai_task": v.has_ai_task,
                "archived": v.archived,
                "import_status": v.job_status,
                "presets": [
                    {
                        "id": p.id,
                        "name": p.name,
                        "parameters": dict(p.parameters),
                        "default": p.default,
                        "description": p.description,
                    }
                    for p in world.presets.values()
                    if p.template_version_id == v.id
                ],
            }
            for v in versions
        ],
    }


def _rule(rule: Any) -> Document:
    body: Document = {"reply": rule.reply, "state": rule.state, "message": rule.message}
    if rule.match is not None:
        body["match"] = rule.match
    if rule.delay is not None:
        body["delay"] = rule.delay
    return body


def _task(world: World, task: Task) -> Document:
    version = world.versions[task.template_version_id]
    body: Document = {
        "id": task.id,
        "owner": world.users[task.owner_id].username,
        "name": task.name,
        "display_name": task.display_name,
        "template": world.templates[version.template_id].name,
        "template_version": version.id,
        "prompt": task.prompt,
        "created_at": format_time(task.created_at),
        "conversation": conversation_json(task.conversation),
    }
    if task.deleted_at is not None:
        body["deleted_at"] = format_time(task.deleted_at)
    if task.snapshot is not None:
        snapshot = task.snapshot
        body["snapshot"] = {
            "format": snapshot.format,
            "payload": snapshot.payload,
            "created_at": format_time(snapshot.created_at),
        }
    if task.pending_reply is not None:
        reply = task.pending_reply
        body["pending_reply"] = {
            "due_at": format_time(reply.due_at),
            "content": reply.content,
            "state": reply.state,
            "message": reply.message,
        }
    workspace = world.workspace_of(task)
    if workspace is not None:
        if workspace.held:
            body["hold"] = True
        body["workspace"] = _workspace(world, workspace)
    return body


def _workspace(world: World, workspace: Workspace) -> Document:
    return {
        "id": workspace.id,
        "name": workspace.name,
        "created_at": format_time(workspace.created_at),
        "updated_at": format_time(workspace.updated_at),
        "deleted": workspace.deleted,
        "builds": [_build(world, build) for build in workspace.builds],
        "app_statuses": [
            {
                "id": s.id,
                "state": s.state,
                "message": s.message,
                "uri": s.uri,
                "created_at": format_time(s.created_at),
            }
            for s in workspace.app_statuses
        ],
    }


def _build(world: World, build: Build) -> Document:
    job = build.job
    body: Document = {
        "id": build.id,
        "number": build.number,
        "transition": build.transition,
        "reason": build.reason,
        "template_version": build.template_version_id,
        "initiator": world.users[build.initiator_id].username,
        "created_at": format_time(build.created_at),
        "updated_at": format_time(build.updated_at),
        "job": {
            "id": job.id,
            "file_id": job.file_id,
            "status": job.status,
            "created_at": format_time(job.created_at),
            **_times(started_at=job.started_at, completed_at=job.completed_at, canceled_at=job.canceled_at),
            "error": job.error,
        },
    }
    if build.preset_id is not None:
        body["preset_id"] = build.preset_id
    if build.agent is not None:
        body["agent"] = _agent(build.agent)
    return body


def _agent(agent: Agent) -> Document:
    app = agent.app
    return {
        "id": agent.id,
        "name": agent.name,
        "token": agent.token,
        "lifecycle": agent.lifecycle,
        "changed_at": format_time(agent.changed_at),
        "disconnected": agent.disconnected,
        "app": {
            "id": app.id,
            "slug": app.slug,
            "url": app.url,
            "health": app.health,
            "changed_at": format_time(app.changed_at),
        },
    }


def _times(**moments: datetime | None) -> Document:
    return {key: format_time(value) for key, value in moments.items() if value is not None}

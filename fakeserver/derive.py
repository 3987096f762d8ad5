"""How coderd derives a task's `status` and `current_state` (the `tasks_with_status`
view and `deriveTaskCurrentState`), and a workspace's status from its latest build.

The first functions take plain values so that every combination can be tested;
the last ones read them off the world's records.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fakeserver.models import Agent, Build, TaskStatus, Workspace, WorkspaceStatus
from fakeserver.timefmt import format_time

# The link between a task and its latest build's agent and app exists only for
# start builds whose job has succeeded (the provisioner fills it in).


def build_status(transition: str | None, job_status: str | None) -> TaskStatus:
    if job_status is None:
        return "pending"
    if job_status in ("failed", "canceling", "canceled"):
        return "error"
    if transition in ("stop", "delete") and job_status == "succeeded":
        return "paused"
    if transition == "start" and job_status == "pending":
        return "pending"
    if transition == "start" and job_status in ("running", "succeeded"):
        return "active"
    return "unknown"


def agent_status(lifecycle: str | None) -> TaskStatus:
    if lifecycle in (None, "created", "starting"):
        return "initializing"
    if lifecycle in ("ready", "start_timeout", "start_error"):
        return "active"
    return "unknown"


def app_status(health: str | None) -> TaskStatus:
    if health == "initializing":
        return "initializing"
    if health == "unhealthy":
        return "error"
    if health in ("healthy", "disabled"):
        return "active"
    return "unknown"


def task_status(
    has_workspace: bool,
    transition: str | None,
    job_status: str | None,
    lifecycle: str | None,
    app_health: str | None,
) -> TaskStatus:
    """§3.1: the first of build, agent and app status that is not `active`."""
    if not has_workspace:
        return "pending"
    status = build_status(transition, job_status)
    if status == "active":  # each worked out only when the one before is active
        status = agent_status(lifecycle)
        if status == "active":
            status = app_status(app_health)
    return status


_RUNNING: dict[str, WorkspaceStatus] = {"start": "starting", "stop": "stopping", "delete": "deleting"}
_SUCCEEDED: dict[str, WorkspaceStatus] = {"start": "running", "stop": "stopped", "delete": "deleted"}
_AS_IS: dict[str, WorkspaceStatus] = {
    "pending": "pending",
    "canceling": "canceling",
    "canceled": "canceled",
    "failed": "failed",
}


def workspace_status(transition: str, job_status: str) -> WorkspaceStatus:
    """codersdk.ConvertWorkspaceStatus: the job's status seen through the build's transition."""
    if job_status == "running":
        return _RUNNING[transition]
    if job_status == "succeeded":
        return _SUCCEEDED[transition]
    return _AS_IS[job_status]  # pending, canceling, canceled, failed read the same


def initializing_message(workspace_state: str, lifecycle: str | None, app_health: str | None) -> str:
    """The synthetic `current_state.message` of a task that is initializing."""
    if workspace_state == "pending":
        return "Workspace is pending"
    if workspace_state == "starting":
        return "Workspace is starting"
    if lifecycle is None:
        return "Initializing workspace"
    if lifecycle == "created":
        return "Agent is connecting"
    if lifecycle == "starting":
        return "Agent is starting"
    if lifecycle == "ready":
        return "App is initializing" if app_health == "initializing" else "Initializing workspace applications"
    return "Initializing workspace agent"


def linked_agent(build: Build) -> Agent | None:
    """The agent the task links to for this build: null for stop and delete builds."""
    if build.transition != "start":
        return None
    return build.agent


def status_of(workspace: Workspace | None) -> TaskStatus:
    if workspace is None or not workspace.builds:
        return "pending"
    build = workspace.latest_build
    agent = linked_agent(build)
    return task_status(
        True,
        build.transition,
        build.job.status,
        agent.lifecycle if agent else None,
        agent.app.health if agent else None,
    )


def current_state_of(workspace: Workspace | None, status: str, failure_as_failed: bool = True) -> dict[str, Any] | None:
    """§3.2: the latest app status still relevant to the latest build, or a synthetic one
    (`failure_as_failed`: from Coder 2.32, the agent's `failure` shows as `failed`)."""
    if workspace is None or not workspace.builds:
        return None
    build = workspace.latest_build
    latest = workspace.app_statuses[-1] if workspace.app_statuses else None
    # coderd shows it only if created strictly after a start build (`CreatedAt.After`): a tie is stale.
    if latest is not None and (build.transition != "start" or latest.created_at > build.created_at):
        return state_entry(
            latest.created_at,
            "failed" if latest.state == "failure" and failure_as_failed else latest.state,
            latest.message,
            latest.uri,
        )
    if status != "initializing":
        return None
    agent = linked_agent(build)
    message = initializing_message(
        workspace_status(build.transition, build.job.status),
        agent.lifecycle if agent else None,
        agent.app.health if agent else None,
    )
    return state_entry(build.created_at, "working", message, "")


def state_entry(timestamp: datetime, state: str, message: str, uri: str) -> dict[str, Any]:
    return {"timestamp": format_time(timestamp), "state": state, "message": message, "uri": uri}


def agent_health(agent: Agent | None) -> dict[str, Any] | None:
    """The agent's health as coderd reports it (`healthy`, with a reason when not)."""
    if agent is None:
        return None
    if agent.disconnected:
        return {"healthy": False, "reason": "agent has lost connection"}
    if agent.lifecycle == "created":
        return {"healthy": False, "reason": "agent is not yet connected"}
    if agent.lifecycle == "start_error":
        return {"healthy": False, "reason": "agent startup script exited with an error"}
    if agent.lifecycle in ("shutting_down", "shutdown_timeout", "shutdown_error", "off"):
        return {"healthy": False, "reason": "agent is not running"}
    return {"healthy": True}

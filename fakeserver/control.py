"""Driving the world by hand: the actions behind `/__fake__/...` and `FakeCoder`'s methods.

Each action changes stored records only (a job's status, an agent's
lifecycle, an app's health, the conversation); the task's status is still
derived from them as always, and the clock carries on from the new state.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from fakeserver import agent as fake_agent
from fakeserver import derive, lifecycle
from fakeserver.errors import Conflict, Invalid, NotFound
from fakeserver.journal import JournalEntry
from fakeserver.models import APP_HEALTHS, JOB_STATUSES, LIFECYCLES, Agent, AppState, Task, Workspace
from fakeserver.serialize import task_json
from fakeserver.uuids import parse_uuid
from fakeserver.world import World

NO_SUCH_TASK = "No such task."


def find_task(world: World, ref: str) -> Task:
    """A live task by id, or by `owner/name` (`owner%2Fname` when the slash came URL-encoded)."""
    ref = urllib.parse.unquote(ref)
    task: Task | None = None
    if "/" in ref:
        owner_name, _, name = ref.partition("/")
        owner = world.user_by_name(owner_name)
        task = world.task_by_name(owner.id, name) if owner is not None else None
    else:
        task_id = parse_uuid(ref)
        task = world.live_task(task_id) if task_id is not None else None
    if task is None:
        raise NotFound(NO_SUCH_TASK, f"No live task {ref!r} (give its id or owner/name).")
    return task


def workspace_of(world: World, task: Task) -> Workspace:
    workspace = world.workspace_of(task)
    if workspace is None:
        raise Conflict("The task has no workspace.")
    return workspace


# Where a provisioner job can go from each status, as coderd's provisioner moves it: pending and
# running jobs finish or are canceled, a canceling job ends canceled or failed, the rest is final.
JOB_MOVES: dict[str, tuple[str, ...]] = {
    "pending": ("running", "succeeded", "failed", "canceling", "canceled"),
    "running": ("succeeded", "failed", "canceling", "canceled"),
    "canceling": ("canceled", "failed"),
    "succeeded": (),
    "failed": (),
    "canceled": (),
}


def set_job(world: World, task: Task, status: str, error: str = "") -> None:
    """Move the latest build's job: run it, finish it, fail or cancel it (see `JOB_MOVES`)."""
    if status not in JOB_STATUSES:
        raise Invalid("Invalid job status.", f"Expected one of {', '.join(JOB_STATUSES)}.")
    workspace = workspace_of(world, task)
    build = workspace.latest_build
    job = build.job
    allowed = JOB_MOVES[job.status]
    if status not in allowed:
        reason = f"it can become {_one_of(allowed)}" if allowed else "which is final; start a new build instead"
        raise Conflict("Cannot move the job there.", f"The job is {job.status}, {reason}.")
    if status == "running":
        lifecycle.run_job(world, workspace, build)
    elif status == "succeeded":
        if job.status == "pending":
            lifecycle.run_job(world, workspace, build)
        lifecycle.succeed_job(world, workspace, build)
    elif status == "failed":
        world.fail_job(workspace, build, error or "provisioner job failed (injected)")
    else:
        world.cancel_job(workspace, build, done=status == "canceled")


def _one_of(statuses: tuple[str, ...]) -> str:
    return statuses[0] if len(statuses) == 1 else f"{', '.join(statuses[:-1])} or {statuses[-1]}"


def current_agent(world: World, task: Task) -> tuple[Agent, Workspace]:
    """The agent of the latest start build that has one."""
    workspace = workspace_of(world, task)
    agent = next((build.agent for build in reversed(workspace.builds) if build.agent is not None), None)
    if agent is None:
        raise Conflict("The task has no agent yet.", "Its first start build has not succeeded.")
    return agent, workspace


def set_agent(world: World, task: Task, lifecycle_state: str | None = None, disconnected: bool | None = None) -> None:
    agent, workspace = current_agent(world, task)
    if lifecycle_state is not None:
        if lifecycle_state not in LIFECYCLES:
            raise Invalid("Invalid lifecycle.", f"Expected one of {', '.join(LIFECYCLES)}.")
        world.set_agent_lifecycle(workspace, agent, lifecycle_state)
    if disconnected is not None:
        world.set_agent_disconnected(workspace, agent, disconnected)


def set_app_health(world: World, task: Task, health: str) -> None:
    if health not in APP_HEALTHS:
        raise Invalid("Invalid app health.", f"Expected one of {', '.join(APP_HEALTHS)}.")
    agent, workspace = current_agent(world, task)
    world.set_app_health(workspace, agent, health)


def report_status(world: World, task: Task, state: AppState, message: str = "", uri: str = "") -> None:
    """What the agent reports through PATCH /api/v2/workspaceagents/me/app-status."""
    agent, workspace = current_agent(world, task)
    world.report_app_status(workspace, agent, state, message, uri)


def agent_says(world: World, task: Task, content: str) -> None:
    """Append agent output to the conversation (what GET logs shows), as if the agent wrote it."""
    current_agent(world, task)
    world.append_message(task, "agent", content)


def agent_info(world: World, task: Task) -> dict[str, str]:
    agent, workspace = current_agent(world, task)
    return {"agent_id": agent.id, "agent_token": agent.token, "workspace_id": workspace.id, "app_slug": agent.app.slug}


STALL_POLLS = 3  # reads in a row, with nothing else done to the task, that make a stalled wait
READS = frozenset({"getTask", "getTaskLogs"})


def stalled_waits(world: World, entries: list[JournalEntry]) -> list[dict[str, Any]]:
    """Tasks a client keeps reading, with nothing else done to them since, that cannot change on
    their own: under a manual clock, a client polling for a new status waits for ever."""
    if world.clock.mode != "manual":
        return []
    polls: dict[str, list[JournalEntry]] = {}
    done_with: set[str] = set()  # tasks acted on after their latest reads
    for entry in reversed(entries):  # newest first: the trailing run of reads of each task
        task_id = entry.task_id
        if task_id is None or task_id in done_with:
            continue
        if entry.operation_id in READS and entry.status == 200:
            polls.setdefault(task_id, []).append(entry)
        else:
            done_with.add(task_id)
    stalled = []
    for task_id, reads in polls.items():
        task = world.live_task(task_id)
        if task is None or len(reads) < STALL_POLLS or derived(world, task)["in_motion"]:
            continue
        stalled.append(
            {
                "task_id": task_id,
                "task": f"{world.users[task.owner_id].username}/{task.name}",
                "status": derive.status_of(world.workspace_of(task)),
                "polls": len(reads),
                "first_id": reads[-1].id,
                "last_id": reads[0].id,
                "hint": "the clock is manual and nothing is due for this task: advance the clock "
                "(POST /__fake__/clock/advance) or act on the task, or the client waits for ever",
            }
        )
    return sorted(stalled, key=lambda item: item["first_id"])


def derived(world: World, task: Task) -> dict[str, Any]:
    """The task as the API shows it, plus what its agent is doing."""
    workspace = world.workspace_of(task)
    step = lifecycle.next_step(world, workspace) if workspace is not None else None
    return {
        **task_json(world, task),
        "agentapi_status": "running" if fake_agent.is_busy(task) else "stable",
        "in_motion": step is not None and step.due != fake_agent.NEVER,  # an agent working forever is not moving
    }

"""fakeserver/derive.py against tables written from the semantics document (§3.1, §3.2, §7).

The expectations are spelled out entry by entry rather than computed, so that they check the
implementation instead of repeating it.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fakeserver import derive
from fakeserver.models import Agent, App, AppStatus, Build, Job, Workspace

TRANSITIONS = ("start", "stop", "delete")
JOB_STATUSES = (None, "pending", "running", "succeeded", "failed", "canceling", "canceled")
LIFECYCLES = (
    None,
    "created",
    "starting",
    "start_timeout",
    "start_error",
    "ready",
    "shutting_down",
    "shutdown_timeout",
    "shutdown_error",
    "off",
)
APP_HEALTHS = (None, "disabled", "initializing", "healthy", "unhealthy")

# §3.1 step 2: the build status of (transition, job status).
BUILD_STATUS = {
    ("start", None): "pending",
    ("start", "pending"): "pending",
    ("start", "running"): "active",
    ("start", "succeeded"): "active",
    ("start", "failed"): "error",
    ("start", "canceling"): "error",
    ("start", "canceled"): "error",
    ("stop", None): "pending",
    ("stop", "pending"): "unknown",
    ("stop", "running"): "unknown",
    ("stop", "succeeded"): "paused",
    ("stop", "failed"): "error",
    ("stop", "canceling"): "error",
    ("stop", "canceled"): "error",
    ("delete", None): "pending",
    ("delete", "pending"): "unknown",
    ("delete", "running"): "unknown",
    ("delete", "succeeded"): "paused",
    ("delete", "failed"): "error",
    ("delete", "canceling"): "error",
    ("delete", "canceled"): "error",
}

# §3.1 step 3: the agent status of a lifecycle.
AGENT_STATUS = {
    None: "initializing",
    "created": "initializing",
    "starting": "initializing",
    "start_timeout": "active",
    "start_error": "active",
    "ready": "active",
    "shutting_down": "unknown",
    "shutdown_timeout": "unknown",
    "shutdown_error": "unknown",
    "off": "unknown",
}

# §3.1 step 4: the app status of a health.
APP_STATUS = {
    None: "unknown",
    "disabled": "active",
    "initializing": "initializing",
    "healthy": "active",
    "unhealthy": "error",
}

# §7: codersdk's workspace status of (transition, job status).
WORKSPACE_STATUS = {
    ("start", "pending"): "pending",
    ("start", "running"): "starting",
    ("start", "succeeded"): "running",
    ("start", "failed"): "failed",
    ("start", "canceling"): "canceling",
    ("start", "canceled"): "canceled",
    ("stop", "pending"): "pending",
    ("stop", "running"): "stopping",
    ("stop", "succeeded"): "stopped",
    ("stop", "failed"): "failed",
    ("stop", "canceling"): "canceling",
    ("stop", "canceled"): "canceled",
    ("delete", "pending"): "pending",
    ("delete", "running"): "deleting",
    ("delete", "succeeded"): "deleted",
    ("delete", "failed"): "failed",
    ("delete", "canceling"): "canceling",
    ("delete", "canceled"): "canceled",
}


def expected_status(transition: str, job: str | None, lifecycle: str | None, health: str | None) -> str:
    """§3.1: build, then agent, then app; the first that is not `active` is the task's status."""
    for status in (BUILD_STATUS[(transition, job)], AGENT_STATUS[lifecycle], APP_STATUS[health]):
        if status != "active":
            return status
    return "active"


# §3.1


@pytest.mark.parametrize(
    ("transition", "job", "lifecycle", "health"),
    list(itertools.product(TRANSITIONS, JOB_STATUSES, LIFECYCLES, APP_HEALTHS)),
)
def test_task_status_for_every_combination(
    transition: str, job: str | None, lifecycle: str | None, health: str | None
) -> None:
    expected = expected_status(transition, job, lifecycle, health)
    assert derive.task_status(True, transition, job, lifecycle, health) == expected


@pytest.mark.parametrize(("transition", "job"), list(itertools.product(TRANSITIONS, JOB_STATUSES)))
def test_no_workspace_is_pending(transition: str, job: str | None) -> None:
    for lifecycle, health in itertools.product(LIFECYCLES, APP_HEALTHS):
        assert derive.task_status(False, transition, job, lifecycle, health) == "pending"


@pytest.mark.parametrize(("transition", "job"), list(BUILD_STATUS))
def test_build_status(transition: str, job: str | None) -> None:
    assert derive.build_status(transition, job) == BUILD_STATUS[(transition, job)]


@pytest.mark.parametrize("lifecycle", LIFECYCLES)
def test_agent_status(lifecycle: str | None) -> None:
    assert derive.agent_status(lifecycle) == AGENT_STATUS[lifecycle]


@pytest.mark.parametrize("health", APP_HEALTHS)
def test_app_status(health: str | None) -> None:
    assert derive.app_status(health) == APP_STATUS[health]


def test_the_consequences_listed_in_the_document() -> None:
    status = derive.task_status
    # creating: pending, then initializing while the job runs with no agent, then active
    assert status(True, "start", "pending", None, None) == "pending"
    assert status(True, "start", "running", None, None) == "initializing"
    assert status(True, "start", "succeeded", "created", "initializing") == "initializing"
    assert status(True, "start", "succeeded", "ready", "initializing") == "initializing"
    assert status(True, "start", "succeeded", "ready", "healthy") == "active"
    # pausing: unknown while the stop job is pending or running, then paused
    assert status(True, "stop", "pending", None, None) == "unknown"
    assert status(True, "stop", "running", None, None) == "unknown"
    assert status(True, "stop", "succeeded", None, None) == "paused"
    # a failed or canceled build
    assert status(True, "start", "failed", None, None) == "error"
    assert status(True, "start", "canceled", "ready", "healthy") == "error"


# §7: workspace status


@pytest.mark.parametrize(("transition", "job"), list(WORKSPACE_STATUS))
def test_workspace_status(transition: str, job: str) -> None:
    assert derive.workspace_status(transition, job) == WORKSPACE_STATUS[(transition, job)]


# §3.2: the synthetic state of an initializing task

WORKSPACE_STATES = sorted(set(WORKSPACE_STATUS.values()))


def expected_initializing_message(workspace: str, lifecycle: str | None, health: str | None) -> str:
    if workspace in ("pending", "starting"):
        return f"Workspace is {workspace}"
    messages = {None: "Initializing workspace", "created": "Agent is connecting", "starting": "Agent is starting"}
    if lifecycle in messages:
        return messages[lifecycle]
    if lifecycle == "ready":
        return "App is initializing" if health == "initializing" else "Initializing workspace applications"
    return "Initializing workspace agent"


@pytest.mark.parametrize(
    ("workspace", "lifecycle", "health"), list(itertools.product(WORKSPACE_STATES, LIFECYCLES, APP_HEALTHS))
)
def test_initializing_message(workspace: str, lifecycle: str | None, health: str | None) -> None:
    expected = expected_initializing_message(workspace, lifecycle, health)
    assert derive.initializing_message(workspace, lifecycle, health) == expected


@pytest.mark.parametrize(
    ("workspace", "lifecycle", "health", "message"),
    [
        ("pending", None, None, "Workspace is pending"),
        ("starting", "ready", "initializing", "Workspace is starting"),
        ("running", "created", None, "Agent is connecting"),
        ("running", "starting", "initializing", "Agent is starting"),
        ("running", "ready", "initializing", "App is initializing"),
        ("running", "ready", "healthy", "Initializing workspace applications"),
        ("running", "ready", None, "Initializing workspace applications"),
        ("running", "start_error", "initializing", "Initializing workspace agent"),
        ("running", "off", None, "Initializing workspace agent"),
        ("running", None, None, "Initializing workspace"),
    ],
)
def test_initializing_messages_spelled_out(
    workspace: str, lifecycle: str | None, health: str | None, message: str
) -> None:
    assert derive.initializing_message(workspace, lifecycle, health) == message


# §3.2: current_state from records

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def workspace(*builds: Build, statuses: tuple[tuple[str, float], ...] = ()) -> Workspace:
    """A workspace with these builds and app statuses (state, seconds after T0), oldest first."""
    ws = Workspace(
        id="ws",
        owner_id="owner",
        organization_id="org",
        template_id="template",
        name="task",
        created_at=T0,
        updated_at=T0,
        task_id="task",
        builds=list(builds),
    )
    for index, (state, seconds) in enumerate(statuses):
        ws.app_statuses.append(
            AppStatus(
                id=f"status-{index}",
                state=state,  # type: ignore[arg-type]
                message=f"{state} message",
                uri=f"https://example.com/{index}",
                created_at=at(seconds),
                agent_id="agent",
                app_id="app",
            )
        )
    return ws


def build(
    number: int,
    transition: str,
    job: str,
    created: float,
    lifecycle: str | None = None,
    health: str = "healthy",
) -> Build:
    agent = None
    if lifecycle is not None:
        app = App(id="app", slug="ai", url="http://localhost:3284", health=health, changed_at=at(created))  # type: ignore[arg-type]
        agent = Agent(id="agent", name="main", token="t", lifecycle=lifecycle, changed_at=at(created), app=app)  # type: ignore[arg-type]
    return Build(
        id=f"build-{number}",
        number=number,
        transition=transition,  # type: ignore[arg-type]
        reason="initiator",
        template_version_id="version",
        initiator_id="owner",
        created_at=at(created),
        updated_at=at(created),
        job=Job(id=f"job-{number}", file_id="file", created_at=at(created), status=job),  # type: ignore[arg-type]
        agent=agent,
    )


def current_state(ws: Workspace) -> dict[str, Any] | None:
    return derive.current_state_of(ws, derive.status_of(ws))


def entry(state: str, seconds: float, index: int, reported: str | None = None) -> dict[str, Any]:
    return {
        "timestamp": at(seconds).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "state": state,
        "message": f"{reported or state} message",
        "uri": f"https://example.com/{index}",
    }


def test_no_builds_no_state() -> None:
    assert derive.current_state_of(workspace(), "pending") is None
    assert derive.status_of(workspace()) == "pending"
    assert derive.status_of(None) == "pending"


def test_a_status_after_the_start_build_is_shown() -> None:
    ws = workspace(build(1, "start", "succeeded", 0, "ready"), statuses=(("working", 5),))
    assert current_state(ws) == entry("working", 5, 0)


def test_the_latest_status_is_shown() -> None:
    ws = workspace(build(1, "start", "succeeded", 0, "ready"), statuses=(("working", 5), ("idle", 9)))
    assert current_state(ws) == entry("idle", 9, 1)


@pytest.mark.parametrize("seconds", [5, 10])
def test_a_status_from_before_the_latest_start_build_is_stale(seconds: float) -> None:
    # `deriveTaskCurrentState` shows it only if it was created *after* the build: the same instant is stale too.
    ws = workspace(
        build(1, "start", "succeeded", 0),
        build(2, "stop", "succeeded", 7),
        build(3, "start", "succeeded", 10, "ready"),
        statuses=(("complete", seconds),),
    )
    assert derive.status_of(ws) == "active"
    assert current_state(ws) is None


@pytest.mark.parametrize("transition", ["stop", "delete"])
def test_a_stop_or_delete_build_keeps_showing_the_last_status(transition: str) -> None:
    ws = workspace(
        build(1, "start", "succeeded", 0),
        build(2, transition, "succeeded", 20),
        statuses=(("complete", 5),),
    )
    assert derive.status_of(ws) == "paused"
    assert current_state(ws) == entry("complete", 5, 0)


def test_failure_is_shown_as_failed() -> None:
    ws = workspace(build(1, "start", "succeeded", 0, "ready"), statuses=(("failure", 5),))
    assert current_state(ws) == entry("failed", 5, 0, reported="failure")


@pytest.mark.parametrize(
    ("builds", "message"),
    [
        ((build(1, "start", "running", 3),), "Workspace is starting"),
        ((build(1, "start", "succeeded", 3, "created"),), "Agent is connecting"),
        ((build(1, "start", "succeeded", 3, "starting"),), "Agent is starting"),
        ((build(1, "start", "succeeded", 3, "ready", "initializing"),), "App is initializing"),
    ],
)
def test_an_initializing_task_without_a_status_gets_a_synthetic_one(builds: tuple[Build, ...], message: str) -> None:
    ws = workspace(*builds)
    assert derive.status_of(ws) == "initializing"
    assert current_state(ws) == {"timestamp": "2026-01-05T09:00:03Z", "state": "working", "message": message, "uri": ""}


def test_a_stale_status_gives_way_to_the_synthetic_one() -> None:
    ws = workspace(
        build(1, "start", "succeeded", 0),
        build(2, "stop", "succeeded", 7),
        build(3, "start", "running", 10),
        statuses=(("idle", 5),),
    )
    assert current_state(ws) == {
        "timestamp": "2026-01-05T09:00:10Z",
        "state": "working",
        "message": "Workspace is starting",
        "uri": "",
    }


@pytest.mark.parametrize(
    "builds",
    [
        (build(1, "start", "pending", 0),),  # pending
        (build(1, "start", "succeeded", 0, "ready"),),  # active
        (build(1, "start", "failed", 0),),  # error
        (build(1, "start", "succeeded", 0), build(2, "stop", "succeeded", 5)),  # paused
        (build(1, "start", "succeeded", 0), build(2, "stop", "running", 5)),  # unknown
    ],
    ids=["pending", "active", "error", "paused", "unknown"],
)
def test_otherwise_no_state(builds: tuple[Build, ...]) -> None:
    assert current_state(workspace(*builds)) is None


# the records behind the derivation


def test_stop_builds_link_no_agent() -> None:
    start = build(1, "start", "succeeded", 0, "ready")
    assert derive.linked_agent(start) is start.agent
    assert derive.linked_agent(build(2, "stop", "succeeded", 5, "ready")) is None


def test_status_of_reads_the_latest_build() -> None:
    assert derive.status_of(workspace(build(1, "start", "succeeded", 0, "ready"))) == "active"
    assert derive.status_of(workspace(build(1, "start", "succeeded", 0, "ready", "unhealthy"))) == "error"
    assert derive.status_of(workspace(build(1, "start", "succeeded", 0, "off"))) == "unknown"
    ws = workspace(build(1, "start", "succeeded", 0, "ready"), build(2, "stop", "pending", 5))
    assert derive.status_of(ws) == "unknown"


@pytest.mark.parametrize(
    ("lifecycle", "health"),
    [
        ("ready", {"healthy": True}),
        ("starting", {"healthy": True}),
        ("created", {"healthy": False, "reason": "agent is not yet connected"}),
        ("start_error", {"healthy": False, "reason": "agent startup script exited with an error"}),
        ("off", {"healthy": False, "reason": "agent is not running"}),
    ],
)
def test_agent_health(lifecycle: str, health: dict[str, Any]) -> None:
    assert derive.agent_health(build(1, "start", "succeeded", 0, lifecycle).agent) == health


def test_a_disconnected_agent_is_unhealthy() -> None:
    agent = build(1, "start", "succeeded", 0, "ready").agent
    assert agent is not None
    agent.disconnected = True
    assert derive.agent_health(agent) == {"healthy": False, "reason": "agent has lost connection"}
    assert derive.agent_health(None) is None


def test_the_derived_and_stored_vocabularies_are_the_specs() -> None:
    """Each Literal of models.py names exactly the values its schema in the spec allows."""
    from fakeserver import models
    from fakeserver.spec import load_spec, spec_path

    schemas = load_spec(spec_path("coder-tasks.yaml")).document["components"]["schemas"]
    pairs = {
        "TaskStatus": models.TASK_STATUSES,
        "TaskState": models.TASK_STATES,
        "WorkspaceStatus": models.WORKSPACE_STATUSES,
    }
    for name, values in pairs.items():
        assert set(values) == set(schemas[name]["enum"]), name
    assert set(models.LIFECYCLES) == set(schemas["WorkspaceAgentLifecycle"]["enum"])

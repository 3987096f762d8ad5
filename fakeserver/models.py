"""The records the real server stores, as plain data.

Nothing here is derived: a task's `status` and `current_state` are computed
from these records by `fakeserver.derive`, never stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter
from typing import Any, Literal, TypeVar, get_args

JobStatus = Literal["pending", "running", "succeeded", "failed", "canceling", "canceled"]
Transition = Literal["start", "stop", "delete"]
Lifecycle = Literal[
    "created",
    "starting",
    "start_timeout",
    "start_error",
    "ready",
    "shutting_down",
    "shutdown_timeout",
    "shutdown_error",
    "off",
]
AppHealth = Literal["disabled", "initializing", "healthy", "unhealthy"]
AppState = Literal["working", "idle", "complete", "failure"]
Role = Literal["user", "agent"]

# What is derived, never stored (derive.py): the spec's TaskStatus, TaskState and WorkspaceStatus.
TaskStatus = Literal["pending", "initializing", "active", "paused", "error", "unknown"]
TaskState = Literal["working", "idle", "complete", "failed", "failure"]  # failure: as Coder 2.31 shows it
WorkspaceStatus = Literal[
    "pending", "starting", "running", "stopping", "stopped", "failed", "canceling", "canceled", "deleting", "deleted"
]
TASK_STATUSES: tuple[TaskStatus, ...] = get_args(TaskStatus)
TASK_STATES: tuple[TaskState, ...] = get_args(TaskState)
WORKSPACE_STATUSES: tuple[WorkspaceStatus, ...] = get_args(WorkspaceStatus)
JOB_STATUSES: tuple[JobStatus, ...] = get_args(JobStatus)
LIFECYCLES: tuple[Lifecycle, ...] = get_args(Lifecycle)
APP_HEALTHS: tuple[AppHealth, ...] = get_args(AppHealth)


@dataclass(slots=True)
class Organization:
    id: str
    name: str
    display_name: str
    icon: str = ""
    is_default: bool = False


@dataclass(slots=True)
class User:
    id: str
    username: str
    name: str = ""
    email: str = ""
    avatar_url: str = ""
    status: Literal["active", "suspended", "dormant"] = "active"
    roles: list[str] = field(default_factory=list)
    organization_ids: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)

    @property
    def is_owner(self) -> bool:
        """Site owners and admins read and act on every task."""
        return "owner" in self.roles


@dataclass(slots=True)
class Template:
    id: str
    organization_id: str
    name: str
    display_name: str = ""
    icon: str = ""
    active_version_id: str = ""
    deprecated: str = ""  # the deprecation message; empty when not deprecated


@dataclass(slots=True)
class TemplateVersion:
    id: str
    template_id: str
    organization_id: str
    name: str
    has_ai_task: bool | None = True
    archived: bool = False
    job_status: JobStatus = "succeeded"  # of the version's import job


@dataclass(slots=True)
class Preset:
    id: str
    template_version_id: str
    name: str
    parameters: dict[str, str] = field(default_factory=dict)
    default: bool = False  # the one a client picks for the user (the web UI's prompt box)
    description: str = ""


@dataclass(slots=True)
class Job:
    id: str
    file_id: str
    created_at: datetime
    status: JobStatus = "pending"
    started_at: datetime | None = None
    completed_at: datetime | None = None
    canceled_at: datetime | None = None
    error: str = ""

    @property
    def is_active(self) -> bool:
        return self.status in ("pending", "running")


@dataclass(slots=True)
class App:
    id: str
    slug: str
    url: str
    health: AppHealth
    changed_at: datetime


@dataclass(slots=True)
class Agent:
    id: str
    name: str
    token: str
    lifecycle: Lifecycle
    changed_at: datetime
    app: App
    disconnected: bool = False


@dataclass(slots=True)
class Build:
    id: str
    number: int
    transition: Transition
    reason: str
    template_version_id: str
    initiator_id: str
    created_at: datetime
    updated_at: datetime
    job: Job
    preset_id: str | None = None
    agent: Agent | None = None  # the agent the provisioner created; start builds only, once the job succeeded


@dataclass(slots=True)
class AppStatus:
    id: str
    state: AppState
    message: str
    uri: str
    created_at: datetime
    agent_id: str
    app_id: str


@dataclass(slots=True)
class Workspace:
    id: str
    owner_id: str
    organization_id: str
    template_id: str
    name: str
    created_at: datetime
    updated_at: datetime
    task_id: str
    builds: list[Build] = field(default_factory=list)
    app_statuses: list[AppStatus] = field(default_factory=list)
    deleted: bool = False
    # A fixture's `hold: true`: nothing happens to it on its own until someone changes one of its
    # records (the control plane, or a build from the API), so a world can show every status.
    held: bool = False

    @property
    def latest_build(self) -> Build:
        return self.builds[-1]


@dataclass(slots=True)
class Message:
    """One AgentAPI message of the conversation the task's agent holds."""

    id: int
    role: Role
    content: str
    time: datetime


@dataclass(slots=True)
class PendingReply:
    """What the fake agent is working on: its answer lands at `due_at`."""

    due_at: datetime
    content: str
    state: AppState
    message: str


@dataclass(slots=True)
class Snapshot:
    """The last log snapshot the agent uploaded (the raw payload, as stored by coderd)."""

    format: str
    payload: dict[str, Any]
    created_at: datetime


@dataclass(slots=True)
class Task:
    id: str
    organization_id: str
    owner_id: str
    name: str
    display_name: str
    template_version_id: str
    prompt: str
    created_at: datetime
    workspace_id: str | None
    deleted_at: datetime | None = None
    conversation: list[Message] = field(default_factory=list)
    pending_reply: PendingReply | None = None
    snapshot: Snapshot | None = None


# Copies that share nothing a world changes (`World.copy`): a world kept for its fixtures is copied
# for each new fake and each reset instead of being built again. Each field that holds a record
# or a container is named with its copier; tests/test_pristine.py fails on one left out.

R = TypeVar("R")


def _copier(record_type: Callable[..., R], **nested: Callable[[Any], Any]) -> Callable[[R], R]:
    """A copy of a record of this type: its fields as they are, the nested ones copied in turn."""
    names = [f.name for f in fields(record_type)]  # type: ignore[arg-type]  # a dataclass
    read = attrgetter(*names)
    positions = [(names.index(name), copy_value) for name, copy_value in nested.items()]
    if not positions:
        return lambda record: record_type(*read(record))

    def copy(record: R) -> R:
        values = list(read(record))
        for index, copy_value in positions:
            if values[index] is not None:
                values[index] = copy_value(values[index])
        return record_type(*values)

    return copy


def _each(copy: Callable[[R], R]) -> Callable[[list[R]], list[R]]:
    return lambda records: [copy(record) for record in records]


def _json_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_copy(item) for item in value]
    return value


copy_organization = _copier(Organization)
copy_user = _copier(User, roles=list, organization_ids=list, tokens=list)
copy_template = _copier(Template)
copy_version = _copier(TemplateVersion)
copy_preset = _copier(Preset, parameters=dict)
_copy_agent = _copier(Agent, app=_copier(App))
_copy_build = _copier(Build, job=_copier(Job), agent=_copy_agent)
copy_workspace = _copier(Workspace, builds=_each(_copy_build), app_statuses=_each(_copier(AppStatus)))
copy_task = _copier(
    Task,
    conversation=_each(_copier(Message)),
    pending_reply=_copier(PendingReply),
    snapshot=_copier(Snapshot, payload=_json_copy),
)

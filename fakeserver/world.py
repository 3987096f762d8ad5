"""The world: everything one fake server knows, and the changes coderd makes to it.

One `World` per app instance; nothing is shared between instances. Lookups
mirror coderd's queries (case-insensitive usernames and task names, deleted
tasks invisible). Mutations mirror coderd's builder: a new build is refused
while the latest one's job is still active.
"""

from __future__ import annotations

import operator
import random
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from fakeserver.clock import Clock
from fakeserver.errors import BuildAlreadyActive
from fakeserver.models import (
    Agent,
    App,
    AppHealth,
    AppState,
    AppStatus,
    Build,
    Job,
    Lifecycle,
    Message,
    Organization,
    PendingReply,
    Preset,
    Role,
    Snapshot,
    Task,
    Template,
    TemplateVersion,
    Transition,
    User,
    Workspace,
    copy_organization,
    copy_preset,
    copy_task,
    copy_template,
    copy_user,
    copy_version,
    copy_workspace,
)
from fakeserver.releases import LATEST, Release
from fakeserver.schedule import Schedule
from fakeserver.uuids import parse_uuid

if TYPE_CHECKING:
    from fakeserver.agent import AgentRule
    from fakeserver.wire import Wire, WireList


@dataclass
class Timings:
    """Seconds each asynchronous step takes; a few seconds in all, as a person watching expects."""

    job_pending: float = 1.0  # a start build's job waits for a provisioner
    job_running: float = 2.0  # ...and runs
    stop_job_pending: float = 0.5
    stop_job_running: float = 1.5
    agent_connect: float = 0.5  # created -> starting
    agent_startup: float = 1.0  # starting -> ready
    app_startup: float = 0.5  # app initializing -> healthy, once the agent is ready
    agent_reply: float = 2.0  # the fake agent's thinking time before it answers

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> Timings:
        return cls(**{f.name: float(values[f.name]) for f in fields(cls) if f.name in values})

    def to_mapping(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


FOUNDING_LEAD = timedelta(days=1)
RandomStates = tuple[Any, Any]  # random.Random.getstate() of the id and the name generators

# What a task template provisions: one agent, hosting the task's app (AgentAPI on its usual port).
AGENT_NAME = "main"
APP_SLUG = "ai"
APP_URL = "http://localhost:3284"


def new_workspace(new_id: Callable[[], str], task: Task, template_id: str, at: datetime) -> Workspace:
    """The workspace a task runs in, named after it (the world and the fixture builder share it)."""
    workspace = Workspace(
        id=new_id(),
        owner_id=task.owner_id,
        organization_id=task.organization_id,
        template_id=template_id,
        name=task.name,
        created_at=at,
        updated_at=at,
        task_id=task.id,
    )
    task.workspace_id = workspace.id
    return workspace


def new_build(
    new_id: Callable[[], str],
    workspace: Workspace,
    transition: Transition,
    reason: str,
    initiator_id: str,
    template_version_id: str,
    at: datetime,
    preset_id: str | None = None,
) -> Build:
    """The workspace's next build, its job queued, appended to its builds."""
    previous = workspace.builds[-1] if workspace.builds else None
    build = Build(
        id=new_id(),
        number=previous.number + 1 if previous else 1,
        transition=transition,
        reason=reason,
        template_version_id=template_version_id,
        initiator_id=initiator_id,
        created_at=at,
        updated_at=at,
        job=Job(id=new_id(), file_id=new_id(), created_at=at),
        preset_id=preset_id,
    )
    workspace.builds.append(build)
    workspace.updated_at = at
    return build


def new_agent(new_id: Callable[[], str], at: datetime) -> Agent:
    """A just-provisioned agent: created, its app initializing (the world and the fixture builder share it)."""
    app = App(id=new_id(), slug=APP_SLUG, url=APP_URL, health="initializing", changed_at=at)
    return Agent(id=new_id(), name=AGENT_NAME, token=new_id(), lifecycle="created", changed_at=at, app=app)


class World:
    def __init__(self, clock: Clock, seed: int = 0, timings: Timings | None = None, release: Release = LATEST) -> None:
        self.clock = clock
        # The clock's reading, as the world's own method: every change asks it, one call rather than two.
        self.now: Callable[[], datetime] = clock.now
        self.release = release  # which Coder the API answers as (releases.py)
        # When the deployment was set up: the created_at of its organizations, users and templates
        # (the fixture builder moves it before the oldest task).
        self.founded_at = clock.now() - FOUNDING_LEAD
        self.timings = timings or Timings()
        self.seed = seed
        self.rng = random.Random(seed)  # ids only: a restored world then draws the same next ids
        self.name_rng = random.Random(f"task names {seed}")  # suffixes of generated task names
        self._used_ids: set[str] = set()
        self.organizations: dict[str, Organization] = {}
        self.users: dict[str, User] = {}
        self.templates: dict[str, Template] = {}
        self.versions: dict[str, TemplateVersion] = {}
        self.presets: dict[str, Preset] = {}
        self.workspaces: dict[str, Workspace] = {}
        self.tasks: dict[str, Task] = {}  # deleted ones too: coderd soft-deletes
        self.agent_rules: list[AgentRule] = []  # the fake agent's scripted answers, first match wins
        # The lifecycle's schedule (see lifecycle.py): a heap of (due, entry, workspace id), the live
        # entry of each scheduled workspace, and the workspaces changed since their step was worked out.
        self.schedule = Schedule()
        # Each task's wire form (serialize.task_wire), kept until a mutator changes one of the
        # records it derives from: the mutators drop it themselves (the task's, its workspace's),
        # or drop them all (users, organizations, templates).
        self.wire_cache: dict[str, Wire] = {}
        self._newest_first: list[Task] | None = None  # the live tasks in list order, until one is added or deleted
        # Task lists as `GET /tasks` answered them, by filter: kept until any task, workspace or the
        # catalog changes (a UI polling a long list of tasks that stay put gets them at once).
        self.listing_cache: dict[Hashable, WireList] = {}
        self._users_by_name: dict[str, User] = {}
        self._users_by_token: dict[str, User] = {}
        self._agents_by_token: dict[str, Workspace] = {}
        self._live_tasks_by_name: dict[tuple[str, str], Task] = {}  # (owner id, lower-case name)
        self._workspaces_by_name: dict[tuple[str, str], Workspace] = {}  # the same, for workspaces not deleted

    def random_states(self) -> RandomStates:
        """Where the id and the name generators stand (World.copy takes them from a world kept as is)."""
        return self.rng.getstate(), self.name_rng.getstate()

    def copy(self, clock: Clock, random_states: RandomStates | None = None) -> World:
        """This world on another clock, sharing nothing that either changes: what building it again
        from its fixtures would give, at a third of the cost (pristine.py keeps one per fixtures).

        Encoded tasks are kept: a `Wire` is bytes, and what it was checked against holds for the
        copy's bytes too.
        """
        copied = World.__new__(World)
        copied.clock = clock
        copied.now = clock.now
        copied.release = self.release
        copied.founded_at = self.founded_at
        copied.timings = Timings(**self.timings.to_mapping())
        copied.seed = self.seed
        ids_state, names_state = random_states or self.random_states()
        copied.rng = _random_at(ids_state)
        copied.name_rng = _random_at(names_state)
        copied._used_ids = set(self._used_ids)
        copied.organizations = {key: copy_organization(org) for key, org in self.organizations.items()}
        copied.users = users = {key: copy_user(user) for key, user in self.users.items()}
        copied.templates = {key: copy_template(template) for key, template in self.templates.items()}
        copied.versions = {key: copy_version(version) for key, version in self.versions.items()}
        copied.presets = {key: copy_preset(preset) for key, preset in self.presets.items()}
        copied.workspaces = workspaces = {key: copy_workspace(ws) for key, ws in self.workspaces.items()}
        copied.tasks = tasks = {key: copy_task(task) for key, task in self.tasks.items()}
        copied.agent_rules = list(self.agent_rules)  # frozen rules
        copied.schedule = self.schedule.copy()
        copied.wire_cache = dict(self.wire_cache)
        copied._newest_first = None if self._newest_first is None else [tasks[t.id] for t in self._newest_first]
        copied.listing_cache = {}
        # the indexes, pointing at the copies
        copied._users_by_name = {key: users[user.id] for key, user in self._users_by_name.items()}
        copied._users_by_token = {key: users[user.id] for key, user in self._users_by_token.items()}
        copied._agents_by_token = {key: workspaces[ws.id] for key, ws in self._agents_by_token.items()}
        copied._live_tasks_by_name = {key: tasks[task.id] for key, task in self._live_tasks_by_name.items()}
        copied._workspaces_by_name = {key: workspaces[ws.id] for key, ws in self._workspaces_by_name.items()}
        return copied

    # ids and time

    def new_id(self) -> str:
        """A version-4 UUID from the world's seeded generator: the same fixtures give the same ids.

        An id already in the world is skipped: a world loaded from an export holds ids drawn
        from the same seed before.
        """
        used, draw = self._used_ids, self.rng.getrandbits  # a create draws five: `claim_id`, inlined
        while True:
            # `str(uuid.UUID(int=bits, version=4))`, written out: a world draws dozens per reset,
            # a created task ten
            text = "%032x" % ((draw(128) & _UUID4_KEPT_BITS) | _UUID4_SET_BITS)
            new = f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
            if new not in used:
                used.add(new)
                return new

    def claim_id(self, record_id: str) -> bool:
        """Mark an id as taken; False when it already was."""
        if record_id in self._used_ids:
            return False
        self._used_ids.add(record_id)
        return True

    def _changed_task(self, task_id: str) -> None:
        self.wire_cache.pop(task_id, None)
        self.listing_cache.clear()

    def _changed_workspace(self, workspace: Workspace) -> None:
        self.wire_cache.pop(workspace.task_id, None)
        self.listing_cache.clear()

    def _changed_catalog(self) -> None:
        self.wire_cache.clear()
        self.listing_cache.clear()

    def touch(self, workspace: Workspace) -> None:
        """A workspace's records changed: what happens next to it must be worked out again, and a
        held workspace moves on from here (someone acted on it)."""
        self._changed_workspace(workspace)
        self.schedule.touch(workspace.id)
        workspace.held = False

    # adding records (fixtures and create)

    def add_organization(self, organization: Organization) -> None:
        self._changed_catalog()
        self.organizations[organization.id] = organization

    def add_user(self, user: User) -> None:
        self._changed_catalog()
        self.users[user.id] = user
        self._users_by_name[user.username.lower()] = user
        for token in user.tokens:
            self._users_by_token[token] = user

    def add_template(self, template: Template) -> None:
        self._changed_catalog()
        self.templates[template.id] = template

    def add_version(self, version: TemplateVersion) -> None:
        self._changed_catalog()
        self.versions[version.id] = version

    def add_preset(self, preset: Preset) -> None:
        self._changed_catalog()
        self.presets[preset.id] = preset

    def add_task(self, task: Task, workspace: Workspace | None) -> None:
        self._changed_task(task.id)
        self._newest_first = None
        self.tasks[task.id] = task
        if task.deleted_at is None:
            self._live_tasks_by_name[(task.owner_id, task.name.lower())] = task
        if workspace is not None:
            self.add_workspace(workspace)
            for build in workspace.builds:
                self._index_agent(workspace, build)

    def add_workspace(self, workspace: Workspace) -> None:
        self.workspaces[workspace.id] = workspace
        if not workspace.deleted:
            self._workspaces_by_name[(workspace.owner_id, workspace.name.lower())] = workspace
        self.touch(workspace)

    # lookups

    def user_by_token(self, token: str) -> User | None:
        return self._users_by_token.get(token)

    def user_by_name(self, username: str) -> User | None:
        return self._users_by_name.get(username.lower())

    def user_by_ref(self, ref: str) -> User | None:
        """A user by id or by username (the `{user}` path parameter, less `me`)."""
        return self.users.get(parse_uuid(ref) or "") or self.user_by_name(ref)

    def organization_by_ref(self, ref: str) -> Organization | None:
        by_id = self.organizations.get(parse_uuid(ref) or "")
        if by_id is not None:
            return by_id
        return next((org for org in self.organizations.values() if org.name.lower() == ref.lower()), None)

    def live_task(self, task_id: str) -> Task | None:
        task = self.tasks.get(task_id)
        return task if task is not None and task.deleted_at is None else None

    def task_by_name(self, owner_id: str, name: str) -> Task | None:
        """A live task of this owner, by case-insensitive name."""
        return self._live_tasks_by_name.get((owner_id, name.lower()))

    def workspace_by_name(self, owner_id: str, name: str) -> Workspace | None:
        """A workspace of this owner that is not deleted, by case-insensitive name (names are unique per owner)."""
        return self._workspaces_by_name.get((owner_id, name.lower()))

    def live_tasks(self) -> Iterator[Task]:
        return (task for task in self.tasks.values() if task.deleted_at is None)

    def live_tasks_newest_first(self) -> list[Task]:
        """The live tasks as the API lists them (a new list each time). A task's `created_at` never
        changes, so the order holds until a task is added or deleted; sorting 100,000 on every
        list would cost more than the rest of the list."""
        if self._newest_first is None:
            self._newest_first = sorted(self.live_tasks(), key=_CREATED_AT, reverse=True)
        return list(self._newest_first)

    def workspace_of(self, task: Task) -> Workspace | None:
        return self.workspaces.get(task.workspace_id) if task.workspace_id else None

    def template_of(self, workspace: Workspace) -> Template:
        return self.templates[workspace.template_id]

    def template_author(self) -> User | None:
        """Who created every template: the first site owner (else the first user)."""
        users = list(self.users.values())
        return next((user for user in users if user.is_owner), users[0] if users else None)

    def versions_of(self, template: Template) -> list[TemplateVersion]:
        return [version for version in self.versions.values() if version.template_id == template.id]

    def presets_of(self, version: TemplateVersion) -> list[Preset]:
        return [preset for preset in self.presets.values() if preset.template_version_id == version.id]

    def agent_by_token(self, token: str) -> tuple[Agent, Workspace] | None:
        """The agent a token belongs to, while it may still act for its workspace.

        That is while its build is the latest one or the latest is the stop
        build that follows it (the agent uploads its snapshot while stopping).
        """
        workspace = self._agents_by_token.get(token)
        if workspace is None or workspace.deleted:
            return None
        for build in reversed(workspace.builds):
            if build.agent is not None and build.agent.token == token:
                later = workspace.builds[workspace.builds.index(build) + 1 :]
                if all(b.transition == "stop" for b in later) and len(later) <= 1:
                    return build.agent, workspace
                return None
        return None

    # the builder

    def create_workspace(self, task: Task, template: Template, initiator: User, preset_id: str | None) -> Workspace:
        workspace = new_workspace(self.new_id, task, template.id, self.now())
        self.add_workspace(workspace)
        self.start_build(workspace, "start", "initiator", initiator.id, task.template_version_id, preset_id)
        return workspace

    def start_build(
        self,
        workspace: Workspace,
        transition: Transition,
        reason: str,
        initiator_id: str,
        template_version_id: str | None = None,
        preset_id: str | None = None,
    ) -> Build:
        """Queue a new build, as coderd's wsbuilder does (`BuildAlreadyActive` while one is active)."""
        previous = workspace.builds[-1] if workspace.builds else None
        if previous is not None and previous.job.is_active:
            raise BuildAlreadyActive()
        build = new_build(
            self.new_id,
            workspace,
            transition,
            reason,
            initiator_id,
            template_version_id or (previous.template_version_id if previous else ""),
            self.now(),
            preset_id if preset_id is not None else (previous.preset_id if previous else None),
        )
        self.touch(workspace)
        return build

    # Changes to a workspace's records. Each keeps the schedule right by itself (`touch`), so that
    # no caller can change what happens next and forget to say so.

    def start_job(self, workspace: Workspace, build: Build) -> None:
        now = self.now()
        build.job.status = "running"
        build.job.started_at = now
        build.updated_at = now
        self.touch(workspace)

    def finish_job(self, workspace: Workspace, build: Build) -> None:
        now = self.now()
        build.job.status = "succeeded"
        build.job.completed_at = now
        build.updated_at = now
        self.touch(workspace)

    def fail_job(self, workspace: Workspace, build: Build, error: str) -> None:
        now = self.now()
        build.job.status = "failed"
        build.job.started_at = build.job.started_at or now
        build.job.completed_at = now
        build.job.error = error
        build.updated_at = now
        self.touch(workspace)

    def cancel_job(self, workspace: Workspace, build: Build, *, done: bool) -> None:
        """`done`: the job is canceled; else it is canceling (the provisioner is stopping it)."""
        if done:
            build.job.status = "canceled"
            build.job.canceled_at = build.job.completed_at = self.now()
            build.updated_at = self.now()
        else:
            build.job.status = "canceling"
        self.touch(workspace)

    def set_agent_lifecycle(self, workspace: Workspace, agent: Agent, lifecycle: Lifecycle) -> None:
        agent.lifecycle = lifecycle
        agent.changed_at = self.now()
        self.touch(workspace)

    def set_agent_disconnected(self, workspace: Workspace, agent: Agent, disconnected: bool) -> None:
        agent.disconnected = disconnected
        self.touch(workspace)

    def set_app_health(self, workspace: Workspace, agent: Agent, health: AppHealth) -> None:
        agent.app.health = health
        agent.app.changed_at = self.now()
        self.touch(workspace)

    # changes to a task's records

    def queue_reply(self, task: Task, reply: PendingReply | None) -> None:
        """What the agent is working on (None: nothing); its delivery is a step of the schedule."""
        task.pending_reply = reply
        workspace = self.workspace_of(task)
        if workspace is not None:
            self.touch(workspace)

    def save_snapshot(self, task: Task, snapshot: Snapshot) -> None:
        self._changed_task(task.id)
        task.snapshot = snapshot

    def set_prompt(self, task: Task, prompt: str) -> None:
        self._changed_task(task.id)
        task.prompt = prompt

    def provision_agent(self, workspace: Workspace, build: Build) -> Agent:
        """What the provisioner creates when a start build succeeds: one agent hosting the task app."""
        self._changed_workspace(workspace)
        self.schedule.touch(workspace.id)
        agent = new_agent(self.new_id, self.now())
        build.agent = agent
        self._index_agent(workspace, build)
        return agent

    def report_app_status(
        self, workspace: Workspace, agent: Agent, state: AppState, message: str, uri: str
    ) -> AppStatus:
        self._changed_workspace(workspace)
        status = AppStatus(
            id=self.new_id(),
            state=state,
            message=message,
            uri=uri,
            created_at=self.now(),
            agent_id=agent.id,
            app_id=agent.app.id,
        )
        workspace.app_statuses.append(status)
        return status

    def append_message(self, task: Task, role: Role, content: str) -> Message:
        self._changed_task(task.id)
        message = Message(id=len(task.conversation), role=role, content=content, time=self.now())
        task.conversation.append(message)
        return message

    def delete_task(self, task: Task) -> None:
        self._changed_task(task.id)
        self._newest_first = None
        task.deleted_at = self.now()
        task.snapshot = None
        self._live_tasks_by_name.pop((task.owner_id, task.name.lower()), None)
        if task.workspace_id is not None:
            self.schedule.touch(task.workspace_id)  # the fake agent answers no deleted task

    def mark_workspace_deleted(self, workspace: Workspace) -> None:
        """Its delete build succeeded: the name is free again."""
        self._changed_workspace(workspace)
        workspace.deleted = True
        key = (workspace.owner_id, workspace.name.lower())
        if self._workspaces_by_name.get(key) is workspace:
            del self._workspaces_by_name[key]

    def _index_agent(self, workspace: Workspace, build: Build) -> None:
        if build.agent is not None:
            self._agents_by_token[build.agent.token] = workspace


def _random_at(state: Any) -> random.Random:
    generator = random.Random.__new__(random.Random)  # not seeded: its state is set next
    generator.setstate(state)
    return generator


_UUID4_KEPT_BITS = ~(0xF000 << 64) & ~(0xC000 << 48)  # all but the version and the variant
_UUID4_SET_BITS = (4 << 76) | (0x8000 << 48)  # version 4, RFC 4122 variant


_CREATED_AT = operator.attrgetter("created_at")

"""Build a fresh `World` from checked fixtures.

References (owners, templates, versions, organizations) are resolved here, and
a dangling or duplicate one is reported with the file and line it came from.
A task declared by its `status` alone is given the builds, job, agent and app
that make the real server derive that status; a task with a `workspace`
section is taken as written (that is what `GET /__fake__/state?format=yaml`
exports).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, overload

from fakeserver.agent import AgentRule, InvalidRule, conversation_payload
from fakeserver.clock import Clock, ClockMode
from fakeserver.fixtures import Entry, FixtureError, Fixtures
from fakeserver.models import (
    Agent,
    App,
    AppStatus,
    Build,
    Job,
    JobStatus,
    Message,
    Organization,
    PendingReply,
    Preset,
    Snapshot,
    Task,
    Template,
    TemplateVersion,
    Transition,
    User,
    Workspace,
)
from fakeserver.names import complete_names
from fakeserver.releases import LATEST, Release
from fakeserver.timefmt import parse_time
from fakeserver.world import (
    AGENT_NAME,
    APP_SLUG,
    APP_URL,
    FOUNDING_LEAD,
    Timings,
    World,
    new_agent,
    new_build,
    new_workspace,
)

DEFAULT_MANUAL_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
KNOWN_LISTED = 12  # names listed after a dangling reference
TASK_SPACING = timedelta(minutes=10)  # fixture tasks without created_at, oldest first


def build_world(
    fixtures: Fixtures, clock_mode: ClockMode = "manual", speed: float = 1.0, release: Release = LATEST
) -> World:
    start = fixtures.clock_start or (DEFAULT_MANUAL_START if clock_mode == "manual" else datetime.now(UTC))
    settings = fixtures.settings
    world = World(
        Clock(start, clock_mode, speed),
        seed=int(settings.get("seed", 0)),
        timings=Timings.from_mapping(settings.get("timings", {})),
        release=release,
    )
    builder = _Builder(world, start)
    for entry in fixtures.organizations:
        builder.organization(entry)
    builder.ensure_organization()
    for entry in fixtures.users:
        builder.user(entry)
    for entry in fixtures.templates:
        builder.template(entry)
    world.agent_rules = [_rule(entry) for entry in fixtures.rules]
    count = len(fixtures.tasks)
    for index, entry in enumerate(fixtures.tasks):
        builder.task(entry, default_created_at=start - TASK_SPACING * (count - index))
    oldest = min((task.created_at for task in world.tasks.values()), default=start)
    world.founded_at = min(world.founded_at, oldest - FOUNDING_LEAD)
    return world


def no_such(what: str, name: str, known: Iterable[str]) -> str:
    """A dangling reference, with the names there are:
    `no user 'alce'; did you mean 'alice'? (known: admin, alice, bob)`."""
    names = sorted(set(known))
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listed = ", ".join(names[:KNOWN_LISTED]) + (", …" if len(names) > KNOWN_LISTED else "")
    return f"no {what} {name!r}{hint} (known: {listed or 'none'})"


def _rule(entry: Entry) -> AgentRule:
    defaults = AgentRule()
    try:
        return AgentRule(
            match=entry.get("match"),
            reply=entry.get("reply", defaults.reply),
            state=entry.get("state", defaults.state),
            message=entry.get("message", defaults.message),
            delay=entry.get("delay"),
        )
    except InvalidRule as error:
        raise entry.error(str(error), "match") from None


class _Builder:
    def __init__(self, world: World, start: datetime) -> None:
        self.world = world
        self.start = start
        self.orgs_by_name: dict[str, Organization] = {}
        self.templates_by_name: dict[str, Template] = {}
        self.tokens: set[str] = set()

    def new_id(self, entry: Entry, value: Any, *path: str | int) -> str:
        """The entry's own id (checked unique) or a seeded one."""
        if value is None:
            return self.world.new_id()
        text = str(value).lower()
        if not self.world.claim_id(text):
            raise entry.error(f"duplicate id {value}", *path)
        return text

    # organizations, users, templates

    def organization(self, entry: Entry) -> None:
        name = entry.data["name"]
        if name.lower() in self.orgs_by_name:
            raise entry.error(f"duplicate organization name {name!r}", "name")
        org = Organization(
            id=self.new_id(entry, entry.get("id"), "id"),
            name=name,
            display_name=entry.get("display_name", name),
            icon=entry.get("icon", ""),
            is_default=entry.get("default", not self.orgs_by_name),
        )
        self.orgs_by_name[name.lower()] = org
        self.world.add_organization(org)

    def ensure_organization(self) -> None:
        if not self.orgs_by_name:
            org = Organization(id=self.world.new_id(), name="coder", display_name="Coder", is_default=True)
            self.orgs_by_name["coder"] = org
            self.world.add_organization(org)

    def default_org(self) -> Organization:
        return next((o for o in self.orgs_by_name.values() if o.is_default), next(iter(self.orgs_by_name.values())))

    def org_named(self, entry: Entry, name: str | None, *path: str | int) -> Organization:
        if name is None:
            return self.default_org()
        org = self.orgs_by_name.get(name.lower())
        if org is None:
            raise entry.error(no_such("organization", name, (o.name for o in self.orgs_by_name.values())), *path)
        return org

    def user(self, entry: Entry) -> None:
        username = entry.data["username"]
        if self.world.user_by_name(username) is not None:
            raise entry.error(f"duplicate username {username!r}", "username")
        tokens = list(entry.get("tokens", []))
        for index, token in enumerate(tokens):
            if token in self.tokens:
                raise entry.error(f"token {token!r} is already given to another user", "tokens", index)
            self.tokens.add(token)
        org_names = entry.get("organizations")
        orgs = (
            [self.org_named(entry, name, "organizations", i) for i, name in enumerate(org_names)]
            if org_names is not None
            else [self.default_org()]
        )
        self.world.add_user(
            User(
                id=self.new_id(entry, entry.get("id"), "id"),
                username=username,
                name=entry.get("name", ""),
                email=entry.get("email", f"{username}@example.com"),
                avatar_url=entry.get("avatar_url", ""),
                status=entry.get("status", "active"),
                roles=list(entry.get("roles", ["member"])),
                organization_ids=[org.id for org in orgs],
                tokens=tokens,
            )
        )

    def template(self, entry: Entry) -> None:
        name = entry.data["name"]
        if name.lower() in self.templates_by_name:
            raise entry.error(f"duplicate template name {name!r}", "name")
        org = self.org_named(entry, entry.get("organization"), "organization")
        template = Template(
            id=self.new_id(entry, entry.get("id"), "id"),
            organization_id=org.id,
            name=name,
            display_name=entry.get("display_name", ""),
            icon=entry.get("icon", ""),
            deprecated=entry.get("deprecated", ""),
        )
        for index, raw in enumerate(entry.data["versions"]):
            version = TemplateVersion(
                id=self.new_id(entry, raw.get("id"), "versions", index, "id"),
                template_id=template.id,
                organization_id=org.id,
                name=raw["name"],
                has_ai_task=raw.get("has_ai_task", True),
                archived=raw.get("archived", False),
                job_status=raw.get("import_status", "succeeded"),
            )
            self.world.add_version(version)
            for p_index, preset in enumerate(raw.get("presets", [])):
                path = ("versions", index, "presets", p_index, "id")
                self.world.add_preset(
                    Preset(
                        id=self.new_id(entry, preset.get("id"), *path),
                        template_version_id=version.id,
                        name=preset["name"],
                        parameters=dict(preset.get("parameters", {})),
                        default=preset.get("default", False),
                        description=preset.get("description", ""),
                    )
                )
            if index == 0:
                template.active_version_id = version.id
        self.templates_by_name[name.lower()] = template
        self.world.add_template(template)

    # tasks

    def task(self, entry: Entry, default_created_at: datetime) -> None:
        world = self.world
        if "status" in entry.data and "workspace" in entry.data:
            raise entry.error("a task has either a `status` or a `workspace`, not both", "status")
        owner = self.user_named(entry, entry.data["owner"], "owner")
        version = self.version_of(entry)
        created_at = self.time(entry, entry.get("created_at"), default_created_at, "created_at")
        prompt = entry.get("prompt", "")
        name, display_name = complete_names(
            entry.get("name", ""), entry.get("display_name", ""), prompt, world.name_rng
        )
        if world.task_by_name(owner.id, name) is not None:
            raise entry.error(f"{owner.username} already has a task named {name!r}", "name")
        task = Task(
            id=self.new_id(entry, entry.get("id"), "id"),
            organization_id=version.organization_id,
            owner_id=owner.id,
            name=name,
            display_name=display_name,
            template_version_id=version.id,
            prompt=prompt,
            created_at=created_at,
            workspace_id=None,
            deleted_at=self.time(entry, entry.get("deleted_at"), None, "deleted_at"),
        )
        self.conversation(entry, task, created_at)
        if "workspace" in entry.data:
            workspace = _ExplicitWorkspace(self, entry, task, version, owner).build()
        else:
            workspace = _StatusWorkspace(self, entry, task, version, owner).build(entry.get("status", "active"))
        self.snapshot_and_reply(entry, task)
        world.add_task(task, workspace)
        if workspace is not None and entry.get("hold", False):
            workspace.held = True  # after add_task, whose touch would release it

    def user_named(self, entry: Entry, username: str, *path: str | int) -> User:
        user = self.world.user_by_ref(username)
        if user is None:
            raise entry.error(no_such("user", username, (u.username for u in self.world.users.values())), *path)
        return user

    def version_of(self, entry: Entry) -> TemplateVersion:
        template_name = entry.get("template")
        version_ref = entry.get("template_version")
        if template_name is None:
            version = self.world.versions.get(str(version_ref).lower()) if version_ref else None
            if version is None:
                version = self.first_ai_version()
            if version is None:
                raise entry.error("no template with an AI task to create this task from", "template")
            return version
        template = self.templates_by_name.get(template_name.lower())
        if template is None:
            known = (t.name for t in self.templates_by_name.values())
            raise entry.error(no_such("template", template_name, known), "template")
        if version_ref is None:
            return self.world.versions[template.active_version_id]
        for version in self.world.versions.values():
            if version.template_id == template.id and version_ref.lower() in (version.name.lower(), version.id):
                return version
        versions = (v.name for v in self.world.versions.values() if v.template_id == template.id)
        raise entry.error(no_such(f"version of template {template_name!r}", version_ref, versions), "template_version")

    def first_ai_version(self) -> TemplateVersion | None:
        return next((v for v in self.world.versions.values() if v.has_ai_task), None)

    @overload
    def time(self, entry: Entry, value: str | None, default: datetime, *path: str | int) -> datetime: ...

    @overload
    def time(self, entry: Entry, value: str | None, default: None, *path: str | int) -> datetime | None: ...

    def time(self, entry: Entry, value: str | None, default: datetime | None, *path: str | int) -> datetime | None:
        if value is None:
            return default
        try:
            return parse_time(value)
        except ValueError:
            raise entry.error(f"malformed time {value!r}", *path) from None

    def conversation(self, entry: Entry, task: Task, created_at: datetime) -> None:
        for index, raw in enumerate(entry.get("conversation", [])):
            default_time = created_at + timedelta(seconds=10 + 20 * index)
            task.conversation.append(
                _message(index, raw, self.time(entry, raw.get("time"), default_time, "conversation", index, "time"))
            )

    def snapshot_and_reply(self, entry: Entry, task: Task) -> None:
        raw = entry.get("snapshot")
        if raw is not None:
            task.snapshot = Snapshot(
                format=raw.get("format", "agentapi"),
                payload=raw["payload"],
                created_at=self.time(entry, raw.get("created_at"), self.start, "snapshot", "created_at"),
            )
        reply = entry.get("pending_reply")
        if reply is not None:
            task.pending_reply = PendingReply(
                due_at=self.time(entry, reply["due_at"], self.start, "pending_reply", "due_at"),
                content=reply["content"],
                state=reply["state"],
                message=reply["message"],
            )


def _message(index: int, raw: dict[str, Any], time: datetime) -> Message:
    return Message(id=raw.get("id", index), role=raw["role"], content=raw["content"], time=time)


class _WorkspaceMaker:
    """What both ways of declaring a task's workspace work from."""

    def __init__(self, builder: _Builder, entry: Entry, task: Task, version: TemplateVersion, owner: User) -> None:
        self.builder = builder
        self.world = builder.world
        self.entry = entry
        self.task = task
        self.version = version
        self.owner = owner


class _StatusWorkspace(_WorkspaceMaker):
    """Builds, job, agent and app that make coderd derive the declared status."""

    def build(self, status: str) -> Workspace:
        task, world = self.task, self.world
        t0 = task.created_at
        workspace = new_workspace(world.new_id, task, self.version.template_id, t0)
        start = self.new_build(workspace, "start", "initiator", t0)
        if status == "pending":
            start.job.created_at = start.created_at = self.builder.start  # queued now: it moves from here
            return workspace
        if status == "error":
            self.finish(start, "failed", t0)
            start.job.error = "terraform apply: exit status 1"
            return workspace
        self.finish(start, "succeeded", t0)
        agent = self.agent(start, t0 + timedelta(seconds=3))
        if status == "initializing":
            agent.lifecycle, agent.changed_at = "starting", self.builder.start
            return workspace
        agent.lifecycle, agent.app.health = "ready", "healthy"
        agent.changed_at = agent.app.changed_at = t0 + timedelta(seconds=5)
        self.ensure_conversation(t0)
        self.app_status(workspace, agent)
        if status == "unknown":
            agent.lifecycle = "off"  # the agent went away while the workspace still runs
        if status == "paused":
            stop_at = self.after_conversation(t0) + timedelta(minutes=1)
            stop = self.new_build(workspace, "stop", "task_manual_pause", stop_at)
            self.finish(stop, "succeeded", stop_at)
            agent.lifecycle = "off"
            task.snapshot = Snapshot("agentapi", conversation_payload(task), stop_at + timedelta(seconds=1))
            workspace.updated_at = stop_at
        return workspace

    def new_build(self, workspace: Workspace, transition: Transition, reason: str, at: datetime) -> Build:
        return new_build(self.world.new_id, workspace, transition, reason, self.owner.id, self.version.id, at)

    def finish(self, build: Build, status: JobStatus, at: datetime) -> None:
        build.job.status = status
        build.job.started_at = at + timedelta(seconds=1)
        build.job.completed_at = build.updated_at = at + timedelta(seconds=3)

    def agent(self, build: Build, at: datetime) -> Agent:
        agent = new_agent(self.world.new_id, at)
        build.agent = agent
        return agent

    def ensure_conversation(self, t0: datetime) -> None:
        task = self.task
        if task.conversation or not task.prompt:
            return
        task.conversation.append(_message(0, {"role": "user", "content": task.prompt}, t0 + timedelta(seconds=6)))
        reply = {"role": "agent", "content": "Done. I worked on: " + task.prompt}
        task.conversation.append(_message(1, reply, t0 + timedelta(seconds=30)))

    def after_conversation(self, t0: datetime) -> datetime:
        return max([t0 + timedelta(seconds=30), *(m.time for m in self.task.conversation)])

    def app_status(self, workspace: Workspace, agent: Agent) -> None:
        raw = self.entry.get("current_state") or {"state": "idle", "message": "Waiting for input"}
        workspace.app_statuses.append(
            AppStatus(
                id=self.world.new_id(),
                state=raw["state"],
                message=raw.get("message", ""),
                uri=raw.get("uri", ""),
                created_at=self.after_conversation(self.task.created_at),
                agent_id=agent.id,
                app_id=agent.app.id,
            )
        )


class _ExplicitWorkspace(_WorkspaceMaker):
    """A workspace written out record by record, as the state export writes it."""

    def build(self) -> Workspace:
        raw = self.entry.data["workspace"]
        task, entry, b = self.task, self.entry, self.builder
        t0 = task.created_at
        workspace = Workspace(
            id=b.new_id(entry, raw.get("id"), "workspace", "id"),
            owner_id=task.owner_id,
            organization_id=task.organization_id,
            template_id=self.version.template_id,
            name=raw.get("name", task.name),
            created_at=b.time(entry, raw.get("created_at"), t0, "workspace", "created_at"),
            updated_at=b.time(entry, raw.get("updated_at"), t0, "workspace", "updated_at"),
            task_id=task.id,
            deleted=raw.get("deleted", False),
        )
        task.workspace_id = workspace.id
        for index, build in enumerate(raw["builds"]):
            workspace.builds.append(self.build_record(build, index, t0))
        agents = {build.agent.id: build.agent for build in workspace.builds if build.agent is not None}
        for index, status in enumerate(raw.get("app_statuses", [])):
            workspace.app_statuses.append(self.app_status(status, index, agents))
        return workspace

    def build_record(self, raw: dict[str, Any], index: int, t0: datetime) -> Build:
        b, entry = self.builder, self.entry
        path: tuple[str | int, ...] = ("workspace", "builds", index)
        number = raw.get("number", index + 1)
        if number != index + 1:
            raise entry.error(f"builds are numbered from 1 in order; expected {index + 1}", *path, "number")
        created_at = b.time(entry, raw.get("created_at"), t0, *path, "created_at")
        job_raw = raw["job"]
        job = Job(
            id=b.new_id(entry, job_raw.get("id"), *path, "job", "id"),
            file_id=self.claimed(job_raw.get("file_id")),
            created_at=b.time(entry, job_raw.get("created_at"), created_at, *path, "job", "created_at"),
            status=job_raw["status"],
            started_at=b.time(entry, job_raw.get("started_at"), None, *path, "job", "started_at"),
            completed_at=b.time(entry, job_raw.get("completed_at"), None, *path, "job", "completed_at"),
            canceled_at=b.time(entry, job_raw.get("canceled_at"), None, *path, "job", "canceled_at"),
            error=job_raw.get("error", ""),
        )
        initiator = raw.get("initiator")
        build = Build(
            id=b.new_id(entry, raw.get("id"), *path, "id"),
            number=number,
            transition=raw["transition"],
            reason=raw.get("reason", "initiator"),
            template_version_id=self.version_ref(raw.get("template_version"), path),
            initiator_id=(b.user_named(entry, initiator, *path, "initiator") if initiator else self.owner).id,
            created_at=created_at,
            updated_at=b.time(entry, raw.get("updated_at"), created_at, *path, "updated_at"),
            job=job,
            preset_id=raw.get("preset_id"),
        )
        if "agent" in raw:
            if build.transition != "start":
                raise entry.error("only start builds have an agent", *path, "agent")
            build.agent = self.agent(raw["agent"], (*path, "agent"), created_at)
        return build

    def claimed(self, value: str | None) -> str:
        """A file id or agent token as written (or a new one), kept from the id generator's later draws.

        An export holds every id its world drew, tokens and file ids too: claiming them all makes the
        restored world draw the same next ids as the world it was exported from.
        """
        if not value:
            return self.world.new_id()
        self.world.claim_id(str(value))
        return str(value)

    def version_ref(self, ref: str | None, path: tuple[str | int, ...]) -> str:
        if ref is None:
            return self.version.id
        for version in self.world.versions.values():
            if version.template_id == self.version.template_id and ref.lower() in (version.id, version.name.lower()):
                return version.id
        raise self.entry.error(f"the task's template has no version {ref!r}", *path, "template_version")

    def agent(self, raw: dict[str, Any], path: tuple[str | int, ...], at: datetime) -> Agent:
        b, entry = self.builder, self.entry
        token = self.claimed(raw.get("token"))
        if token in b.tokens:
            raise entry.error("this agent token is already used", *path, "token")
        b.tokens.add(token)
        app_raw = raw.get("app", {"health": "healthy"})
        app = App(
            id=b.new_id(entry, app_raw.get("id"), *path, "app", "id"),
            slug=app_raw.get("slug", APP_SLUG),
            url=app_raw.get("url", APP_URL),
            health=app_raw["health"],
            changed_at=b.time(entry, app_raw.get("changed_at"), at, *path, "app", "changed_at"),
        )
        return Agent(
            id=b.new_id(entry, raw.get("id"), *path, "id"),
            name=raw.get("name", AGENT_NAME),
            token=token,
            lifecycle=raw["lifecycle"],
            changed_at=b.time(entry, raw.get("changed_at"), at, *path, "changed_at"),
            app=app,
            disconnected=raw.get("disconnected", False),
        )

    def app_status(self, raw: dict[str, Any], index: int, agents: dict[str, Agent]) -> AppStatus:
        path = ("workspace", "app_statuses", index)
        agent = list(agents.values())[-1] if agents else None  # the latest agent reported it
        if agent is None:
            raise self.entry.error("app statuses need a build with an agent", *path)
        return AppStatus(
            id=self.builder.new_id(self.entry, raw.get("id"), *path, "id"),
            state=raw["state"],
            message=raw.get("message", ""),
            uri=raw.get("uri", ""),
            created_at=self.builder.time(self.entry, raw.get("created_at"), self.task.created_at, *path, "created_at"),
            agent_id=agent.id,
            app_id=agent.app.id,
        )


__all__ = ["FixtureError", "build_world"]

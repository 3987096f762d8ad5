"""Model-based test: a Hypothesis state machine drives the fake through its public API.

The model below is written from the contract (coder-tasks-semantics.md §3 and §4),
not from the fake's code: a task's status follows from its latest build and the time
elapsed since, with the default `Timings`; each operation answers the code the real
server answers in that status. After every step, what the fake says (status codes,
derived `status`, `current_state`, who sees which task in lists) must agree.

CI runs a bounded, derandomized search; `FAKESERVER_MODEL_EXAMPLES=500` runs a longer one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from test_schedule import kept_and_fresh_steps

from fakeserver.fake import FakeCoder
from fakeserver.world import Timings

AI_VERSION_ID = "0ba39c92-1f1b-4c32-aa3e-9925d7713eb1"
MEMBERS = ("alice", "bob")
MAX_TASKS = 5  # enough for interleavings; every task is re-read after every step
MAX_FAILED_JOBS = 1  # per run: a failed build is one outcome, not the usual one

# Seconds, from the default timings: when each phase of a build ends.
TIMINGS = Timings()
START_PENDING = TIMINGS.job_pending  # the start job waits for a provisioner ...
START_JOB_DONE = START_PENDING + TIMINGS.job_running  # ... runs, and the agent is provisioned
ACTIVE_AFTER = START_JOB_DONE + TIMINGS.agent_connect + TIMINGS.agent_startup + TIMINGS.app_startup
STOP_JOB_DONE = TIMINGS.stop_job_pending + TIMINGS.stop_job_running
REPLY_AFTER = TIMINGS.agent_reply

PROMPTS = st.sampled_from(["Fix the flaky test", "Write the release notes", "   ", ""])
INPUTS = st.sampled_from(["Also update the changelog", "  ", "ok"])
MOMENTS = st.sampled_from([0.25, 0.5, 1.0, 2.0, 3.0])  # inside a build, an agent start, a reply


@dataclass
class Build:
    transition: str  # "start" or "stop" (a delete build ends the task)
    at: float
    failed: bool = False
    session_checked: bool = False  # whether the agent's session start (app up) was applied

    def job_done_after(self) -> float:
        return START_JOB_DONE if self.transition == "start" else STOP_JOB_DONE

    def job_active(self, now: float) -> bool:
        return not self.failed and now - self.at < self.job_done_after()


@dataclass
class Task:
    """What the real server would hold for one task."""

    id: str
    owner: str
    prompt: str
    builds: list[Build]
    deleted: bool = False
    talked: bool = False  # the agent has been given a message (the prompt, or a send)
    app_states: list[tuple[float, str]] = field(default_factory=list)  # what the agent reported, when
    reply_due: float | None = None  # the agent is busy until then

    @property
    def latest(self) -> Build:
        return self.builds[-1]

    def settle(self, now: float) -> None:
        """What the agent does on its own by `now`: start on the prompt when its app is up, then answer."""
        build = self.latest
        if build.transition != "start" or build.failed:
            return
        app_up = build.at + ACTIVE_AFTER
        if now >= app_up and not build.session_checked:
            build.session_checked = True
            if not self.talked and self.prompt.strip():
                self.receive(app_up)
        if self.reply_due is not None and now >= self.reply_due:
            self.app_states.append((self.reply_due, "idle"))
            self.reply_due = None

    def receive(self, at: float) -> None:
        self.talked = True
        self.app_states.append((at, "working"))
        self.reply_due = at + REPLY_AFTER

    def new_build(self, transition: str, now: float) -> None:
        self.settle(now)
        self.builds.append(Build(transition, now))
        self.reply_due = None  # a stopping agent drops the answer it was working on

    def status(self, now: float) -> str:
        """§3.1: build status, then agent, then app."""
        self.settle(now)
        build = self.latest
        elapsed = now - build.at
        if build.failed:
            return "error"
        if build.transition == "stop":
            return "unknown" if elapsed < STOP_JOB_DONE else "paused"
        if elapsed < START_PENDING:
            return "pending"
        return "initializing" if elapsed < ACTIVE_AFTER else "active"

    def current_state(self, now: float) -> str | None:
        """§3.2: the latest app status unless it predates the latest start build; else synthetic or null."""
        status = self.status(now)
        build = self.latest
        if self.app_states:
            at, state = self.app_states[-1]
            if not (build.transition == "start" and at < build.at):
                return state
        return "working" if status == "initializing" else None


class TasksMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.fake = FakeCoder()
        self.clients = {user: self.fake.client(user) for user in (*MEMBERS, "admin")}
        self.control = self.fake.control_client()
        self.now = 0.0
        self.tasks: list[Task] = []
        self.preexisting: dict[str, set[str]] = {}  # the fixture world's tasks, per member
        self.failed_jobs = 0

    def teardown(self) -> None:
        for client in (*self.clients.values(), self.control):
            client.close()

    @initialize(prompts=st.tuples(PROMPTS, PROMPTS))
    def start(self, prompts: tuple[str, str]) -> None:
        """Note the fixture world's tasks, and give each member a task to act on from the first step."""
        # The fake checks every response against the spec and raises in here if one breaks it.
        assert self.fake.validate_responses
        assert self.fake.world.timings == Timings()
        for member in MEMBERS:
            listed = self.clients[member].get("/api/v2/tasks").json()["tasks"]
            self.preexisting[member] = {task["id"] for task in listed}
        for member, prompt in zip(MEMBERS, prompts, strict=True):
            self.create(member, prompt)

    # helpers

    def other(self, member: str) -> str:
        return MEMBERS[1 - MEMBERS.index(member)]

    def path(self, task: Task, suffix: str = "") -> str:
        return f"/api/v2/tasks/{task.owner}/{task.id}{suffix}"

    def call(self, actor: str, method: str, path: str, body: Any = None) -> httpx.Response:
        return self.clients[actor].request(method, path, json=body)

    def expect(self, response: httpx.Response, status: int, what: str) -> None:
        assert response.status_code == status, f"{what}: expected {status}, got {response.status_code} {response.text}"

    def pick(self, data: st.DataObject) -> Task:
        """A live task four times out of five (while there is one), else any, deleted ones included."""
        live = [task for task in self.tasks if not task.deleted]
        if live and data.draw(st.integers(0, 4), label="live?") > 0:
            chosen: Task = data.draw(st.sampled_from(live), label="task")
        else:
            chosen = data.draw(st.sampled_from(self.tasks), label="task")
        return chosen

    def actor_for(self, data: st.DataObject, task: Task) -> str:
        """The owner three times out of four, else the other member (who must get 404)."""
        actor: str = data.draw(st.sampled_from([task.owner, task.owner, task.owner, self.other(task.owner)]))
        return actor

    def refused_if_not_owners(self, task: Task, actor: str, response: httpx.Response, what: str) -> bool:
        """Another member's task, or a deleted one, is not found (§5): nothing changes."""
        if actor != task.owner or task.deleted:
            self.expect(response, 404, what)
            return True
        return False

    # rules

    @precondition(lambda self: len(self.tasks) < MAX_TASKS)
    @rule(owner=st.sampled_from(MEMBERS), prompt=PROMPTS)
    def create(self, owner: str, prompt: str) -> None:
        response = self.call(owner, "POST", "/api/v2/tasks/me", {"template_version_id": AI_VERSION_ID, "input": prompt})
        self.expect(response, 201, "create")
        body = response.json()
        assert body["owner_name"] == owner and body["initial_prompt"] == prompt
        assert body["status"] == "pending" and body["current_state"] is None
        self.tasks.append(Task(body["id"], owner, prompt, [Build("start", self.now)]))

    @rule(seconds=MOMENTS)
    def wait_a_moment(self, seconds: float) -> None:
        self.fake.advance(seconds)
        self.now += seconds

    @rule(seconds=st.sampled_from([ACTIVE_AFTER, ACTIVE_AFTER + REPLY_AFTER, 60.0]))
    def wait_until_settled(self, seconds: float) -> None:
        """Long enough for a build, its agent and app, or the agent's answer: where the next steps can act."""
        self.fake.advance(seconds)
        self.now += seconds

    @precondition(lambda self: self.tasks)
    @rule(data=st.data())
    def get(self, data: st.DataObject) -> None:
        task = self.pick(data)
        actor = self.actor_for(data, task)
        response = self.call(actor, "GET", self.path(task))
        if not self.refused_if_not_owners(task, actor, response, "get"):
            self.expect(response, 200, "get")
            self.check_task_body(task, response.json())

    @precondition(lambda self: self.tasks)
    @rule(data=st.data())
    def pause(self, data: st.DataObject) -> None:
        task = self.pick(data)
        self.do_pause(task, self.actor_for(data, task))

    def do_pause(self, task: Task, actor: str) -> None:
        response = self.call(actor, "POST", self.path(task, "/pause"))
        if self.refused_if_not_owners(task, actor, response, "pause"):
            return
        if task.latest.job_active(self.now):
            self.expect(response, 409, "pause while a build runs")
            return
        self.expect(response, 202, "pause")
        build = response.json()["workspace_build"]
        assert (build["transition"], build["reason"], build["status"]) == ("stop", "task_manual_pause", "pending")
        task.new_build("stop", self.now)

    @precondition(lambda self: self.tasks)
    @rule(data=st.data())
    def resume(self, data: st.DataObject) -> None:
        task = self.pick(data)
        self.do_resume(task, self.actor_for(data, task))

    def do_resume(self, task: Task, actor: str) -> None:
        response = self.call(actor, "POST", self.path(task, "/resume"))
        if self.refused_if_not_owners(task, actor, response, "resume"):
            return
        latest = task.latest
        running = latest.transition == "start" and not latest.failed and not latest.job_active(self.now)
        if running or latest.job_active(self.now):
            self.expect(response, 409, "resume of a running workspace, or while a build runs")
            return
        self.expect(response, 202, "resume")
        build = response.json()["workspace_build"]
        assert (build["transition"], build["reason"]) == ("start", "task_resume")
        task.new_build("start", self.now)

    @precondition(lambda self: self.tasks)
    @rule(data=st.data(), text=INPUTS)
    def send(self, data: st.DataObject, text: str) -> None:
        task = self.pick(data)
        self.do_send(task, self.actor_for(data, task), text)

    def do_send(self, task: Task, actor: str, text: str) -> None:
        response = self.call(actor, "POST", self.path(task, "/send"), {"input": text})
        if self.refused_if_not_owners(task, actor, response, "send"):
            return
        status = task.status(self.now)
        if status in ("pending", "initializing", "paused"):
            self.expect(response, 409, f"send to a {status} task")
        elif status != "active":
            self.expect(response, 400, f"send to an {status} task")
        elif task.reply_due is not None:
            self.expect(response, 409, "send while the agent is busy")
        else:
            self.expect(response, 204, "send")
            task.receive(self.now)

    @precondition(lambda self: self.tasks)
    @rule(data=st.data(), text=INPUTS)
    def update_input(self, data: st.DataObject, text: str) -> None:
        task = self.pick(data)
        # A blank input to a task the caller cannot see is left out: the fake validates the body
        # before it resolves the task (see test_input_to_a_missing_task_is_not_found_first).
        actor = self.actor_for(data, task) if text.strip() else task.owner
        if not text.strip() and task.deleted:
            return
        self.do_update_input(task, actor, text)

    def do_update_input(self, task: Task, actor: str, text: str) -> None:
        response = self.call(actor, "PATCH", self.path(task, "/input"), {"input": text})
        if self.refused_if_not_owners(task, actor, response, "update input"):
            return
        if not text.strip():
            self.expect(response, 400, "blank input")
        elif task.status(self.now) == "paused":
            self.expect(response, 204, "update input of a paused task")
            task.prompt = text
        else:
            self.expect(response, 409, f"update input of a {task.status(self.now)} task")

    @precondition(lambda self: self.tasks)
    @rule(data=st.data())
    def logs(self, data: st.DataObject) -> None:
        task = self.pick(data)
        self.do_logs(task, self.actor_for(data, task))

    def do_logs(self, task: Task, actor: str) -> None:
        response = self.call(actor, "GET", self.path(task, "/logs"))
        if self.refused_if_not_owners(task, actor, response, "logs"):
            return
        status = task.status(self.now)
        if status in ("error", "unknown"):
            self.expect(response, 409, f"logs of an {status} task")
            return
        self.expect(response, 200, "logs")
        body = response.json()
        assert ("snapshot" in body) == (status != "active"), body  # live logs while active, else the snapshot

    @precondition(lambda self: self.tasks)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        task = self.pick(data)
        actor = self.actor_for(data, task)
        response = self.call(actor, "DELETE", self.path(task))
        if self.refused_if_not_owners(task, actor, response, "delete"):
            return
        if task.latest.job_active(self.now):
            self.expect(response, 409, "delete while a build runs")
            return
        self.expect(response, 202, "delete")
        assert response.content == b""
        task.deleted = True

    # The same operations aimed at a task in the status where they succeed: a uniform choice of
    # rule and task seldom lines up pause, a wait and an input on one task within twenty steps.

    def live_in(self, *statuses: str) -> list[Task]:
        return [task for task in self.tasks if not task.deleted and task.status(self.now) in statuses]

    @precondition(lambda self: self.live_in("active"))
    @rule(data=st.data(), text=INPUTS)
    def send_to_an_active_task(self, data: st.DataObject, text: str) -> None:
        task: Task = data.draw(st.sampled_from(self.live_in("active")), label="active task")
        self.do_send(task, task.owner, text)

    @precondition(lambda self: self.live_in("active", "error"))
    @rule(data=st.data())
    def pause_a_running_task(self, data: st.DataObject) -> None:
        task: Task = data.draw(st.sampled_from(self.live_in("active", "error")), label="running task")
        self.do_pause(task, task.owner)

    @precondition(lambda self: self.live_in("paused"))
    @rule(data=st.data(), text=INPUTS)
    def update_input_of_a_paused_task(self, data: st.DataObject, text: str) -> None:
        task: Task = data.draw(st.sampled_from(self.live_in("paused")), label="paused task")
        self.do_update_input(task, task.owner, text)

    @precondition(lambda self: self.live_in("paused"))
    @rule(data=st.data())
    def resume_a_paused_task(self, data: st.DataObject) -> None:
        task: Task = data.draw(st.sampled_from(self.live_in("paused")), label="paused task")
        self.do_resume(task, task.owner)

    @precondition(lambda self: self.live_in("paused"))
    @rule(data=st.data())
    def logs_of_a_paused_task(self, data: st.DataObject) -> None:
        task: Task = data.draw(st.sampled_from(self.live_in("paused")), label="paused task")
        self.do_logs(task, task.owner)

    @precondition(
        lambda self: (
            self.failed_jobs < MAX_FAILED_JOBS
            and any(not t.deleted and t.latest.job_active(self.now) for t in self.tasks)
        )
    )
    @rule(data=st.data())
    def fail_job(self, data: st.DataObject) -> None:
        """The provisioner fails the running build (the control plane plays the provisioner)."""
        self.failed_jobs += 1
        candidates = [t for t in self.tasks if not t.deleted and t.latest.job_active(self.now)]
        task: Task = data.draw(st.sampled_from(candidates), label="failing task")
        response = self.control.put(f"/__fake__/tasks/{task.id}/job", json={"status": "failed"})
        self.expect(response, 200, "fail the job")
        task.settle(self.now)
        task.latest.failed = True

    # invariants

    def check_task_body(self, task: Task, body: dict[str, Any]) -> None:
        assert body["id"] == task.id and body["owner_name"] == task.owner
        assert body["initial_prompt"] == task.prompt
        assert body["status"] == task.status(self.now), (body["status"], task)
        state = task.current_state(self.now)
        current = body["current_state"]
        assert (current["state"] if current is not None else None) == state, (current, task)

    @invariant()
    def every_task_reads_as_the_model_says(self) -> None:
        for task in self.tasks:
            owner_view = self.clients[task.owner].get(self.path(task))
            if task.deleted:
                self.expect(owner_view, 404, "a deleted task")  # and it never comes back
                continue
            self.expect(owner_view, 200, "the owner's task")
            self.check_task_body(task, owner_view.json())
            other = self.other(task.owner)
            self.expect(self.clients[other].get(self.path(task)), 404, "another member's task")

    @invariant()
    def every_tasks_workspace_and_build_agree_with_the_task(self) -> None:
        """The neighbouring reads a client makes (the web UI's task page, `coder task pause`) derive
        from the same records as the task."""
        for task in self.tasks:
            if task.deleted:
                continue
            owner = self.clients[task.owner]
            body = owner.get(self.path(task)).json()
            workspace = owner.get(f"/api/v2/workspaces/{body['workspace_id']}")
            self.expect(workspace, 200, "the task's workspace")
            build = workspace.json()["latest_build"]
            assert build["status"] == body["workspace_status"], (build["status"], body["workspace_status"])
            assert build["build_number"] == body["workspace_build_number"]
            assert build["transition"] == task.latest.transition
            agents = [agent["id"] for resource in build["resources"] for agent in resource["agents"]]
            assert agents == ([body["workspace_agent_id"]] if body["workspace_agent_id"] else []), (agents, body)
            logs = owner.get(f"/api/v2/workspacebuilds/{build['id']}/logs").json()
            job = build["job"]
            assert bool(logs) == ("started_at" in job), (logs, job)
            if job["status"] == "failed":
                assert logs[-1]["log_level"] == "error"
            other = self.clients[self.other(task.owner)]
            self.expect(other.get(f"/api/v2/workspacebuilds/{build['id']}"), 404, "another member's build")

    @invariant()
    def the_cached_wire_form_of_every_task_is_a_fresh_one(self) -> None:
        """task_json answers from a cache the world's mutators drop entries of: it must never be stale."""
        from fakeserver import serialize

        world = self.fake.world
        for task in world.live_tasks():
            assert serialize.task_json(world, task) == serialize._task_json(world, task), task.name

    @invariant()
    def the_kept_next_step_of_every_workspace_is_a_fresh_one(self) -> None:
        """The schedule trusts the steps it worked out until a mutator touches their workspace."""
        kept, fresh = kept_and_fresh_steps(self.fake)
        assert kept == fresh

    @invariant()
    def lists_show_each_member_their_own_live_tasks(self) -> None:
        if not hasattr(self, "preexisting") or len(self.preexisting) < len(MEMBERS):
            return  # before `start`
        live = {task.id: task for task in self.tasks if not task.deleted}
        for member in MEMBERS:
            body = self.clients[member].get("/api/v2/tasks").json()
            assert body["count"] == len(body["tasks"])
            assert {task["owner_name"] for task in body["tasks"]} <= {member}
            listed = {task["id"]: task for task in body["tasks"]}
            mine = {task_id for task_id, task in live.items() if task.owner == member}
            assert set(listed) - self.preexisting[member] == mine
            for task_id in mine:
                assert listed[task_id]["status"] == live[task_id].status(self.now)
        everything = self.clients["admin"].get("/api/v2/tasks").json()
        assert everything["count"] == len(everything["tasks"])
        assert set(live) <= {task["id"] for task in everything["tasks"]}
        assert not {task.id for task in self.tasks if task.deleted} & {task["id"] for task in everything["tasks"]}


TasksMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("FAKESERVER_MODEL_EXAMPLES", "50")),
    stateful_step_count=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_the_fake_behaves_as_the_model = TasksMachine.TestCase


def test_input_to_a_missing_task_is_not_found_first() -> None:
    fake = FakeCoder()
    with fake.client("bob") as bob:
        alices_task = "/api/v2/tasks/alice/11111111-1111-4111-8111-111111111111"
        assert bob.patch(f"{alices_task}/input", json={"input": "  "}).status_code == 404

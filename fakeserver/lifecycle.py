"""What happens on its own as time passes: provisioner jobs, agents, apps, the fake agent.

The next step of a workspace is computed from its records alone (which job is
pending since when, which lifecycle state the agent entered when), so there is
no queue of callbacks to keep in sync: changing a record by hand (the control
plane, a fixture) simply changes what comes next. The clock's due steps are
applied in time order, each with the clock pinned to the moment it fell due.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fakeserver import agent as fake_agent
from fakeserver.clock import LATEST, Clock, ClockRangeError
from fakeserver.models import Agent, Build, Workspace
from fakeserver.schedule import NextStep, Step
from fakeserver.timefmt import format_time
from fakeserver.world import World

MAX_STEPS_PER_RUN = 1_000_000  # a guard against a step that fails to change what comes next


def advance(world: World, seconds: float) -> int:
    """Move the clock forward and apply every step that falls due, in order. Returns the step count."""
    if seconds < 0:
        raise ValueError("the clock only moves forward")
    now = world.clock.now()
    if not seconds <= Clock.seconds_left(now):  # also refuses NaN
        raise ClockRangeError(f"the clock cannot move past {format_time(LATEST)}; it is {format_time(now)}")
    target = now + timedelta(seconds=seconds)
    applied = run_until(world, target)
    world.clock.jump_to(target)
    return applied


def catch_up(world: World) -> int:
    """Apply what fell due up to now (a real clock moves between requests)."""
    if world.schedule.idle:
        return 0
    return run_until(world, world.clock.now())


def run_until(world: World, target: datetime) -> int:
    applied = 0
    clock, schedule = world.clock, world.schedule
    manual = clock.mode == "manual"  # no step changes the clock's mode
    step_of = _step_finder(world)
    while (first := schedule.earliest(step_of)) is not None and first[1].due <= target:
        workspace_id, step = first
        held = clock.pin(max(step.due, clock.now()) if manual else step.due)
        try:
            step.action(world, step.workspace, step.subject)
            schedule.touch(workspace_id)  # it moved on: what comes next is a new step
        finally:
            clock.pin(held)  # a call's reading of the clock, if one is held (`with clock:`)
        applied += 1
        if applied > MAX_STEPS_PER_RUN:
            raise RuntimeError("lifecycle steps do not converge")
    return applied


def earliest_step(world: World) -> Step | None:
    """The next step of the whole world (the schedule keeps them in order)."""
    first = world.schedule.earliest(_step_finder(world))
    return first[1] if first is not None else None


def _step_finder(world: World) -> NextStep:
    def step_of(workspace_id: str) -> Step | None:
        workspace = world.workspaces.get(workspace_id)
        return next_step(world, workspace) if workspace is not None else None

    return step_of


def next_step(world: World, workspace: Workspace) -> Step | None:
    if not workspace.builds or workspace.held:
        return None
    build = workspace.builds[-1]  # its latest
    job = build.job
    timings = world.timings
    is_start = build.transition == "start"
    if job.status == "pending":
        wait = timings.job_pending if is_start else timings.stop_job_pending
        return Step(job.created_at + timedelta(0, wait), run_job, workspace, build)
    if job.status == "running":
        wait = timings.job_running if is_start else timings.stop_job_running
        return Step((job.started_at or job.created_at) + timedelta(0, wait), succeed_job, workspace, build)
    if job.status == "canceling":
        return Step((job.started_at or job.created_at) + timedelta(0, 0.5), cancel_job, workspace, build)
    if job.status != "succeeded" or not is_start or build.agent is None:
        return None
    return _agent_step(world, workspace, build.agent)


def _agent_step(world: World, workspace: Workspace, agent: Agent) -> Step | None:
    timings = world.timings
    if agent.disconnected:
        return None
    if agent.lifecycle == "created":
        return Step(agent.changed_at + timedelta(0, timings.agent_connect), agent_starting, workspace, agent)
    if agent.lifecycle == "starting":
        return Step(agent.changed_at + timedelta(0, timings.agent_startup), agent_ready, workspace, agent)
    if agent.lifecycle != "ready":
        return None
    if agent.app.health == "initializing":
        since = max(agent.changed_at, agent.app.changed_at)
        return Step(since + timedelta(0, timings.app_startup), app_ready, workspace, agent)
    task = world.tasks.get(workspace.task_id)
    if task is not None and task.deleted_at is None and task.pending_reply is not None:
        return Step(task.pending_reply.due_at, deliver_reply, workspace, agent)
    return None


# The steps. Each changes a record, so that the next step differs.


def run_job(world: World, workspace: Workspace, build: Build) -> None:
    world.start_job(workspace, build)
    if build.transition != "start":
        _stop_previous_agent(world, workspace, build)


def succeed_job(world: World, workspace: Workspace, build: Build) -> None:
    world.finish_job(workspace, build)
    if build.transition == "start":
        world.provision_agent(workspace, build)
    else:
        _previous_agent_off(world, workspace, build)
    if build.transition == "delete":
        world.mark_workspace_deleted(workspace)


def cancel_job(world: World, workspace: Workspace, build: Build) -> None:
    world.cancel_job(workspace, build, done=True)


def agent_starting(world: World, workspace: Workspace, agent: Agent) -> None:
    world.set_agent_lifecycle(workspace, agent, "starting")


def agent_ready(world: World, workspace: Workspace, agent: Agent) -> None:
    world.set_agent_lifecycle(workspace, agent, "ready")


def app_ready(world: World, workspace: Workspace, agent: Agent) -> None:
    world.set_app_health(workspace, agent, "healthy")
    task = world.tasks.get(workspace.task_id)
    if task is not None and task.deleted_at is None:
        fake_agent.start_session(world, task, workspace, agent)


def deliver_reply(world: World, workspace: Workspace, agent: Agent) -> None:
    fake_agent.deliver(world, world.tasks[workspace.task_id], workspace, agent)


def _previous_start(workspace: Workspace, build: Build) -> Build | None:
    index = workspace.builds.index(build)
    return next((b for b in reversed(workspace.builds[:index]) if b.transition == "start"), None)


def _stop_previous_agent(world: World, workspace: Workspace, build: Build) -> None:
    """The stop job is running: the agent shuts down, saving its conversation first."""
    previous = _previous_start(workspace, build)
    if previous is None or previous.agent is None or previous.agent.lifecycle == "off":
        return
    task = world.tasks.get(workspace.task_id)
    if task is not None and task.deleted_at is None:
        fake_agent.stop_session(world, task)
    world.set_agent_lifecycle(workspace, previous.agent, "shutting_down")


def _previous_agent_off(world: World, workspace: Workspace, build: Build) -> None:
    previous = _previous_start(workspace, build)
    if previous is not None and previous.agent is not None:
        world.set_agent_lifecycle(workspace, previous.agent, "off")

"""The control plane under /__fake__: drive the clock, the world and the agents."""

from __future__ import annotations

from typing import Any

from fakeserver import derive, lifecycle
from fakeserver.errors import ApiError
from fakeserver.routing import Call, Handler, Reply
from fakeserver.timefmt import format_time
from fakeserver.world import World


def clock_json(world: World, applied: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"now": format_time(world.clock.now()), "mode": world.clock.mode, "speed": world.clock.speed}
    if applied is not None:
        body["applied"] = applied
    return body


def reset_world(call: Call) -> Reply:
    world = call.fake.reset()
    return Reply(200, {"users": len(world.users), "tasks": sum(1 for _ in world.live_tasks())})


def get_clock(call: Call) -> Reply:
    return Reply(200, clock_json(call.world))


def advance_clock(call: Call) -> Reply:
    applied = lifecycle.advance(call.world, float(call.body["seconds"]))
    return Reply(200, clock_json(call.world, applied))


def get_task_agent(call: Call) -> Reply:
    task = call.world.live_task(call.params["task"].lower())
    workspace = call.world.workspace_of(task) if task is not None else None
    if task is None or workspace is None:
        raise ApiError(404, "No such task.")
    agent = next((b.agent for b in reversed(workspace.builds) if b.agent is not None), None)
    if agent is None or derive.status_of(workspace) in ("pending",):
        raise ApiError(404, "The task has no agent yet.", "Its first build has not finished.")
    body = {"agent_id": agent.id, "agent_token": agent.token, "workspace_id": workspace.id, "app_slug": agent.app.slug}
    return Reply(200, body)


HANDLERS: dict[str, Handler] = {
    "resetWorld": reset_world,
    "getClock": get_clock,
    "advanceClock": advance_clock,
    "getTaskAgent": get_task_agent,
}

"""The control plane under /__fake__ (openapi/control.yaml): each handler is one `FakeCoder` action."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, cast

import anyio

from fakeserver import safejson
from fakeserver.clock import ClockRangeError
from fakeserver.errors import ApiError, NotFound, Validation, envelope, status_of
from fakeserver.fixtures import FixtureError, format_path
from fakeserver.routing import AnyHandler, Call, Reply
from fakeserver.spec import load_spec, spec_path
from fakeserver.worlds import Worlds

if TYPE_CHECKING:
    from fakeserver.fake import FakeCoder

YAML_MEDIA_TYPE = "application/yaml"


def facade(call: Call) -> FakeCoder:
    """The fake a control-plane call acts on: each handler here is one of its actions."""
    return cast("FakeCoder", call.fake)


STATE_KEYS = {"clock", "world", "tasks"}  # the keys of GET /__fake__/state


def get_control_spec(call: Call) -> Reply:
    return Reply(200, load_spec(spec_path("control.yaml")).document)


def reset_world(call: Call) -> Reply:
    facade(call).reset()
    return Reply(200, facade(call).summary())


def get_state(call: Call) -> Reply:
    if call.params.get("format") == "yaml":
        return Reply(200, facade(call).export_yaml(), media_type=YAML_MEDIA_TYPE)
    return Reply(200, facade(call).state())


def put_state(call: Call) -> Reply:
    text: str = call.body
    if not text.strip():  # an empty upload (a wrong file name to curl) must not wipe the world
        raise ApiError(400, "Invalid fixture document.", "The body is empty; send `{}` for an empty world.")
    try:
        facade(call).load_text(_fixture_text(text), "PUT /__fake__/state")
    except FixtureError as error:
        # The document has no file: say where in it, by line and key, and keep the current world.
        problems = [
            (_where(problem), format_path(problem.path) or "(document)", problem.reason) for problem in error.problems
        ]
        detail = "\n".join(f"{where}{field}: {reason}" for where, field, reason in problems)
        validations = [Validation(field, f"{where}{reason}") for where, field, reason in problems]
        raise ApiError(400, "Invalid fixture document.", detail, validations) from None
    return Reply(200, facade(call).summary())


def _where(problem: FixtureError) -> str:
    return f"line {problem.line}: " if problem.line else ""


def _fixture_text(text: str) -> str:
    """GET /__fake__/state's JSON (`{clock, world, tasks}`) loads as its `world`: what one gets, one can put back."""
    if not text.lstrip().startswith("{"):
        return text
    try:
        document = safejson.loads(text)
    except safejson.BadJSON:
        return text  # YAML flow style, or broken: the fixture reader says what is wrong
    if isinstance(document, dict) and document.keys() == STATE_KEYS and isinstance(document["world"], dict):
        return json.dumps(document["world"])
    return text


def get_clock(call: Call) -> Reply:
    return Reply(200, facade(call).clock())


def set_clock(call: Call) -> Reply:
    body: dict[str, Any] = call.body
    return Reply(200, facade(call).set_clock(body.get("mode"), body.get("speed")))


def advance_clock(call: Call) -> Reply:
    try:
        applied = facade(call).advance(float(call.body["seconds"]))
    except ClockRangeError as error:
        raise ApiError(400, "Invalid clock move.", str(error)) from None
    return Reply(200, {**facade(call).clock(), "applied": applied})


def get_task_record(call: Call) -> Reply:
    return Reply(200, facade(call).task_record(call.params["task"]))


def set_task_job(call: Call) -> Reply:
    task = call.params["task"]
    return Reply(200, facade(call).set_job(task, call.body["status"], call.body.get("error", "")))


def get_task_agent(call: Call) -> Reply:
    return Reply(200, facade(call).agent(call.params["task"]))


def set_task_agent(call: Call) -> Reply:
    body: dict[str, Any] = call.body
    return Reply(200, facade(call).set_agent(call.params["task"], body.get("lifecycle"), body.get("disconnected")))


def set_task_app(call: Call) -> Reply:
    return Reply(200, facade(call).set_app_health(call.params["task"], call.body["health"]))


def report_task_app_status(call: Call) -> Reply:
    body: dict[str, Any] = call.body
    view = facade(call).report_status(call.params["task"], body["state"], body.get("message", ""), body.get("uri", ""))
    return Reply(200, view)


def append_agent_output(call: Call) -> Reply:
    return Reply(200, facade(call).agent_says(call.params["task"], call.body["content"]))


WAIT_POLL_SECONDS = 0.01
DEFAULT_WAIT_SECONDS = 10.0


def wait_for_task(call: Call) -> Awaitable[Reply]:
    """Answer once the task has the status (and state) asked for; 409 when the time is up."""
    ref = call.params["task"]
    body: dict[str, Any] = call.body
    status, state = body.get("status"), body.get("state")
    if status is None and state is None:
        raise ApiError(400, "Invalid request body.", "Give a `status`, a `state`, or both.")
    facade(call).task(ref)  # 404 now for a task that does not exist
    return _wait(call, ref, status, state, float(body.get("timeout", DEFAULT_WAIT_SECONDS)))


async def _wait(call: Call, ref: str, status: str | None, state: str | None, timeout: float) -> Reply:
    deadline = time.monotonic() + timeout
    while True:
        try:
            task = facade(call).task(ref)  # takes the lock for a moment: other requests are served between
        except NotFound as error:  # deleted meanwhile
            return Reply(status_of(error), envelope(error.message, error.detail))
        current = (task.get("current_state") or {}).get("state")
        if (status is None or task["status"] == status) and (state is None or current == state):
            return Reply(200, task)
        if time.monotonic() >= deadline:
            wanted = " and ".join(
                f"{name} {value!r}" for name, value in (("status", status), ("state", state)) if value
            )
            detail = f"It is {task['status']}" + (f" ({current})" if current else "") + f" after {timeout:g} s."
            if facade(call).world.clock.mode == "manual":
                detail += " The clock is manual: nothing moves by itself (POST /__fake__/clock/advance moves it)."
            return Reply(409, envelope(f"The task did not reach {wanted} in time.", detail))
        await anyio.sleep(WAIT_POLL_SECONDS)


def list_requests(call: Call) -> Reply:
    params = call.params
    limit = int(params["limit"]) if "limit" in params else None
    with facade(call).lock:  # the entries and the ids that frame them, from one moment
        journal = facade(call).journal
        entries = journal.entries(
            params.get("operation"), params.get("task"), params.get("user"), int(params.get("since", 0)), limit
        )
        framing = {"count": len(entries), "first_id": journal.first_id, "last_id": journal.last_id}
    return Reply(200, {"requests": [entry.to_json() for entry in entries], **framing})


def list_stalled_waits(call: Call) -> Reply:
    return Reply(200, {"stalled": facade(call).stalled_waits()})


def clear_requests(call: Call) -> Reply:
    facade(call).clear_requests()
    return Reply(204)


def list_faults(call: Call) -> Reply:
    return Reply(200, {"faults": [fault.to_json() for fault in facade(call).faults.list()]})


def add_fault(call: Call) -> Reply:
    fault = facade(call).faults.add(facade(call).api_operations, call.body)
    return Reply(201, fault.to_json())


def list_worlds(call: Call) -> Reply:
    return Reply(200, {"worlds": _worlds(call).describe()})


def delete_world(call: Call) -> Reply:
    name = call.params["name"]
    if not _worlds(call).drop(name):
        raise ApiError(404, "No such world.", f"No world {name!r} is live (GET /__fake__/worlds lists them).")
    return Reply(204)


def _worlds(call: Call) -> Worlds:
    worlds = facade(call).worlds
    if worlds is None:
        detail = (
            "Named worlds (/w/<name>/...) are served by `fakeserver serve`, listed on its default world's /__fake__/."
        )
        raise ApiError(404, "No worlds here.", detail)
    return worlds


def clear_faults(call: Call) -> Reply:
    fault_id = call.params.get("id")
    facade(call).faults.remove(int(fault_id) if fault_id is not None else None)
    return Reply(204)


HANDLERS: dict[str, AnyHandler] = {
    "getControlSpec": get_control_spec,
    "resetWorld": reset_world,
    "getState": get_state,
    "putState": put_state,
    "getClock": get_clock,
    "setClock": set_clock,
    "advanceClock": advance_clock,
    "getTaskRecord": get_task_record,
    "setTaskJob": set_task_job,
    "getTaskAgent": get_task_agent,
    "setTaskAgent": set_task_agent,
    "setTaskApp": set_task_app,
    "reportTaskAppStatus": report_task_app_status,
    "appendAgentOutput": append_agent_output,
    "waitForTask": wait_for_task,
    "listRequests": list_requests,
    "listStalledWaits": list_stalled_waits,
    "clearRequests": clear_requests,
    "listFaults": list_faults,
    "addFault": add_fault,
    "clearFaults": clear_faults,
    "listWorlds": list_worlds,
    "deleteWorld": delete_world,
}

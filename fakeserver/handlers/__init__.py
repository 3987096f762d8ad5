"""Handlers per resource, bound to the spec's operations by operationId."""

from __future__ import annotations

from fakeserver.handlers import agents, tasks, templates, users, workspaces
from fakeserver.routing import Call, Handler
from fakeserver.streams import StreamHandler

API_HANDLERS: dict[str, Handler] = {
    **tasks.HANDLERS,
    **agents.HANDLERS,
    **users.HANDLERS,
    **templates.HANDLERS,
    **workspaces.HANDLERS,
}
# The WebSocket side of the operations marked `x-coder-websocket`.
STREAM_HANDLERS: dict[str, StreamHandler] = {**workspaces.STREAM_HANDLERS}


def call_subject(call: Call) -> None:
    """Find the task a call is about (`call.task_id`) without acting: for the journal, when an
    injected fault answers in the handler's place. A task that cannot be found stays unknown."""
    if call.principal.user is not None and "task" in call.params:
        tasks.resolve_task(call)
    elif call.principal.workspace is not None:
        call.task_id = call.principal.workspace.task_id

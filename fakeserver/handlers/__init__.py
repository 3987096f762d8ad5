"""Handlers per resource, bound to the spec's operations by operationId."""

from __future__ import annotations

from fakeserver.handlers import agents, tasks
from fakeserver.routing import Handler

API_HANDLERS: dict[str, Handler] = {**tasks.HANDLERS, **agents.HANDLERS}

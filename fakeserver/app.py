"""The ASGI app of one `FakeCoder`: the spec's routes plus the control plane."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from fakeserver.handlers import API_HANDLERS
from fakeserver.handlers.control import HANDLERS as CONTROL_HANDLERS
from fakeserver.responses import coder_json
from fakeserver.routing import CompiledOperation, Handler, build_routes, check_bindings, compile_operations
from fakeserver.spec import load_spec, spec_path

if TYPE_CHECKING:
    from fakeserver.fake import FakeCoder

API_SPEC = "coder-tasks.yaml"
CONTROL_SPEC = "control.yaml"


@cache
def compiled_spec(path: Path) -> dict[str, CompiledOperation]:
    """Parse a spec and compile its validators once per process; every app shares them."""
    return compile_operations(load_spec(path))


def bound_operations(name: str, handlers: dict[str, Handler]) -> dict[str, CompiledOperation]:
    path = spec_path(name)
    check_bindings(load_spec(path), handlers)
    return compiled_spec(path)


def api_operations() -> dict[str, CompiledOperation]:
    return bound_operations(API_SPEC, API_HANDLERS)


def build_app(fake: FakeCoder) -> Starlette:
    routes = [
        *build_routes(bound_operations(API_SPEC, API_HANDLERS), API_HANDLERS, fake, journaled=True),
        *build_routes(bound_operations(CONTROL_SPEC, CONTROL_HANDLERS), CONTROL_HANDLERS, fake, journaled=False),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})


async def http_error(request: Request, exc: Exception) -> Response:
    """Errors raised by Starlette itself, in Coder's envelope (an unknown route above all)."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return coder_json(404, {"message": "Route not found."})
    return coder_json(exc.status_code, {"message": exc.detail}, dict(exc.headers or {}))

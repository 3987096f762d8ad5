"""The ASGI app of one `FakeCoder`: the spec's routes plus the control plane."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketClose

from fakeserver.auth import SCHEMES
from fakeserver.dispatch import RouteIndex, RouteTable
from fakeserver.errors import ROUTE_NOT_FOUND, envelope, internal_error
from fakeserver.frontdoor import FrontDoor
from fakeserver.handlers import API_HANDLERS, STREAM_HANDLERS, call_subject
from fakeserver.handlers.control import HANDLERS as CONTROL_HANDLERS
from fakeserver.responses import coder_json
from fakeserver.routing import (
    AnyHandler,
    CompiledOperation,
    build_routes,
    check_bindings,
    compile_operations,
    method_not_allowed,
)
from fakeserver.spec import SpecError, load_spec, spec_path
from fakeserver.streams import build_stream_routes, check_stream_bindings

if TYPE_CHECKING:
    from fakeserver.fake import FakeCoder

API_SPEC = "coder-tasks.yaml"
CONTROL_SPEC = "control.yaml"
HandlerTable = tuple[tuple[str, AnyHandler], ...]  # a handler mapping, hashable: what the caches below are keyed by


@cache
def compiled_spec(path: Path) -> dict[str, CompiledOperation]:
    """Parse a spec and compile its validators once per process; every app shares them."""
    return compile_operations(load_spec(path))


def bound_operations(name: str, handlers: Mapping[str, AnyHandler]) -> dict[str, CompiledOperation]:
    return _bound_operations(name, tuple(handlers.items()))


@cache
def _bound_operations(name: str, handler_table: HandlerTable) -> dict[str, CompiledOperation]:
    """Checked once per process for a given set of handlers, like the routes (`shared_routes`)."""
    handlers = dict(handler_table)
    path = spec_path(name)
    spec = load_spec(path)
    check_bindings(spec, handlers)
    unknown = {scheme for op in spec.operations for scheme in op.security} - set(SCHEMES)
    if unknown:
        raise SpecError(f"{name}: no authentication for the security schemes {', '.join(sorted(unknown))}")
    return compiled_spec(path)


def api_operations() -> dict[str, CompiledOperation]:
    return bound_operations(API_SPEC, API_HANDLERS)


def stream_routes(compiled: Mapping[str, CompiledOperation]) -> list[WebSocketRoute]:
    check_stream_bindings(load_spec(spec_path(API_SPEC)), STREAM_HANDLERS)
    return build_stream_routes(compiled, STREAM_HANDLERS)


@cache
def shared_routes(api_handlers: HandlerTable, control_handlers: HandlerTable) -> tuple[BaseRoute, ...]:
    """Every route, built once per process for a given set of handlers (and their binding checked
    then): an endpoint finds its fake through its app (`FakeApp.fake`)."""
    api, control = dict(api_handlers), dict(control_handlers)
    api_compiled = bound_operations(API_SPEC, api)
    return (
        *build_routes(api_compiled, api, journaled=True, subject=call_subject),
        *stream_routes(api_compiled),
        *build_routes(bound_operations(CONTROL_SPEC, control), control, journaled=False),
        *dashboard_routes(),
    )


@cache
def shared_route_table(api_handlers: HandlerTable, control_handlers: HandlerTable) -> RouteTable:
    return RouteTable(shared_routes(api_handlers, control_handlers))


class FakeApp(Starlette):
    """A fake's app: Starlette's, with the fake it serves, which the shared routes find through
    `scope["app"]` (an attribute, where `app.state` would look it up through a Python call)."""

    def __init__(self, fake: FakeCoder, routes: list[BaseRoute]) -> None:
        super().__init__(routes=routes)
        self.fake = fake


def build_app(fake: FakeCoder) -> FakeApp:
    handlers = (tuple(API_HANDLERS.items()), tuple(CONTROL_HANDLERS.items()))
    app = FakeApp(fake, list(shared_routes(*handlers)))
    app.router.default = route_not_found
    # Not Starlette's own stack: the operations answer every error themselves and raise no
    # HTTPException, and wrapping each request for one (a Request and a wrapper around every
    # message sent) cost a few percent of a call. The dashboard, whose static files do raise them,
    # has its own (`dashboard_app`). The front door answers a bug's 500 itself (frontdoor.py); the
    # router is reached through an index of its routes, which tries only those that could match a
    # path (dispatch.py).
    routed = RouteIndex(app.router, shared_route_table(*handlers))
    app.middleware_stack = FrontDoor(routed, fake=fake)
    return app


async def route_not_found(scope: Scope, receive: Receive, send: Send) -> None:
    """A path no route serves: Coder's 404 (a WebSocket is closed, as Starlette's router does)."""
    if scope["type"] == "websocket":
        await WebSocketClose()(scope, receive, send)
        return
    await coder_json(404, envelope(ROUTE_NOT_FOUND))(scope, receive, send)


# The dashboard: a static page that drives the fake through the public and control APIs only.
# It is not an API operation, so it is a plain route rather than part of a spec.
DASHBOARD_CSP = "default-src 'self'; img-src 'self' data:; frame-ancestors 'self'"  # nothing from the internet


def dashboard_directory() -> Path:
    return Path(str(resources.files("fakeserver") / "dashboard"))


def dashboard_routes() -> list[BaseRoute]:
    """Last of the routes: the control plane's paths, also under `/__fake__/`, are matched first."""
    return [Mount("/__fake__", dashboard_app())]


@cache
def dashboard_app() -> Starlette:
    """The page and its static files, with Starlette's exception handling (a missing file, a
    method a file does not take) answering in Coder's envelope, as a bug does."""
    return Starlette(
        routes=[
            Route("/", dashboard_page, methods=["GET"]),
            Mount("/dashboard", StaticFiles(directory=dashboard_directory())),
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )


async def dashboard_page(request: Request) -> Response:
    headers = {"Cache-Control": "no-cache", "Content-Security-Policy": DASHBOARD_CSP}
    return FileResponse(dashboard_directory() / "index.html", headers=headers)


async def server_error(request: Request, exc: Exception) -> Response:
    """A bug behind the dashboard still answers in Coder's envelope; Starlette re-raises the error
    after sending this, so the server logs it."""
    return coder_json(500, internal_error(exc))


async def http_error(request: Request, exc: Exception) -> Response:
    """Errors raised by Starlette itself, in Coder's envelope (an unknown route above all)."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return coder_json(404, envelope(ROUTE_NOT_FOUND))
    if exc.status_code == 405:  # the API's 405; Starlette's `Allow` for the page comes in a set's order
        return method_not_allowed("GET, HEAD")  # what the page and its files take
    return coder_json(exc.status_code, {"message": exc.detail}, dict(exc.headers or {}))

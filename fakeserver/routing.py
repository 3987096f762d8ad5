"""Routes built from the spec, each operation bound to its handler by operationId.

One request flows one way: authenticate → validate the request → handler →
validate the response → send. Binding happens at start-up: an operation
without a handler, or a handler without an operation, stops the app from
being built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from fakeserver import lifecycle
from fakeserver.auth import Principal, authenticate
from fakeserver.errors import ApiError
from fakeserver.responses import coder_json, empty
from fakeserver.spec import Operation, Spec, SpecError
from fakeserver.validation import RequestValidator, ResponseValidator
from fakeserver.world import World

if TYPE_CHECKING:
    from fakeserver.fake import FakeCoder


@dataclass
class Call:
    """What a handler gets: the checked request and the world it acts on."""

    fake: FakeCoder
    params: dict[str, str]
    body: Any
    principal: Principal

    @property
    def world(self) -> World:
        return self.fake.world


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Call], Reply]


@dataclass(frozen=True)
class CompiledOperation:
    """An operation with its validators, compiled once per process and shared by every app."""

    operation: Operation
    requests: RequestValidator
    responses: ResponseValidator


def compile_operations(spec: Spec) -> dict[str, CompiledOperation]:
    return {
        op.operation_id: CompiledOperation(
            op, RequestValidator(op, spec.document), ResponseValidator(op, spec.document)
        )
        for op in spec.operations
    }


def check_bindings(spec: Spec, handlers: Mapping[str, Handler]) -> None:
    declared = {op.operation_id for op in spec.operations}
    missing = sorted(declared - handlers.keys())
    unknown = sorted(handlers.keys() - declared)
    problems = []
    if missing:
        problems.append(f"operations without a handler: {', '.join(missing)}")
    if unknown:
        problems.append(f"handlers naming no operation: {', '.join(unknown)}")
    if problems:
        raise SpecError("; ".join(problems))


def build_routes(
    compiled: Mapping[str, CompiledOperation], handlers: Mapping[str, Handler], fake: FakeCoder
) -> list[Route]:
    by_path: dict[str, dict[str, OperationEndpoint]] = {}
    for operation_id, item in compiled.items():
        endpoint = OperationEndpoint(item, handlers[operation_id], fake)
        for path in item.operation.full_paths:
            by_path.setdefault(path, {})[item.operation.method] = endpoint
    return [Route(path, PathEndpoint(methods), methods=None) for path, methods in by_path.items()]


class PathEndpoint:
    """All operations of one path; any other method is answered 405 with `Allow`."""

    def __init__(self, methods: dict[str, OperationEndpoint]) -> None:
        self._methods = dict(methods)
        if "GET" in self._methods and "HEAD" not in self._methods:
            self._methods["HEAD"] = self._methods["GET"]
        self._allow = ", ".join(sorted(self._methods))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self._methods.get(scope["method"])
        if endpoint is None:
            response = coder_json(405, {"message": "Method not allowed."}, {"Allow": self._allow})
        else:
            response = await endpoint.handle(Request(scope, receive))
        await response(scope, receive, send)


class OperationEndpoint:
    def __init__(self, compiled: CompiledOperation, handler: Handler, fake: FakeCoder) -> None:
        self.operation = compiled.operation
        self._requests = compiled.requests
        self._responses = compiled.responses
        self._handler = handler
        self._fake = fake

    async def handle(self, request: Request) -> Response:
        raw_body = await request.body()
        fake = self._fake
        with fake.lock:
            reply = self._run(request, raw_body)
            if fake.validate_responses:
                self._responses.check(reply.status, reply.body)
        return coder_json(reply.status, reply.body, reply.headers) if reply.body is not None else empty(reply.status)

    def _run(self, request: Request, raw_body: bytes) -> Reply:
        fake = self._fake
        try:
            lifecycle.catch_up(fake.world)
            principal = authenticate(fake.world, self.operation.security, request)
            params = self._requests.parameters(request.path_params, request.query_params)
            body = self._requests.body(raw_body)
            return self._handler(Call(fake, params, body, principal))
        except ApiError as error:
            return Reply(error.status, error.body(), error.headers)

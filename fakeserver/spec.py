"""Load an OpenAPI 3.1 document into a flat list of operations.

Only the parts the fake acts on are lifted out of the document: each
operation's id, method, path, servers, parameters, request body, response
schemas and security. Schemas keep their `$ref`s; the validators resolve them
against the document's `components`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import yaml

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

JSON = dict[str, Any]


class SpecError(Exception):
    """The OpenAPI document cannot be served (a bug in `openapi/`, not in a request)."""


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str  # "path", "query", "header" or "cookie"
    required: bool
    schema: JSON
    message: str | None  # x-coder-message: the real server's message when the value is invalid
    detail: str | None  # x-coder-detail, with "{value}" standing for the offending value


# What the fake reads of a body whose operation sets no `x-coder-max-bytes`: coderd reads any
# size, the fake answers 413 past this, so that no client can fill its memory.
DEFAULT_BODY_LIMIT = 4 * 1024 * 1024
# Statuses every operation with a body declares: the fake's own bounds on reading it.
BODY_READ_STATUSES = (408, 413)


@dataclass(frozen=True)
class RequestBody:
    required: bool
    schema: JSON
    decode_message: str  # what the Go JSON decoder's failure is answered with
    max_bytes: int | None  # x-coder-max-bytes: coderd's own cap, answered 400 with `decode_message`
    is_json: bool = True  # False: a text body (e.g. a YAML document) handed over as a str

    @property
    def read_limit(self) -> int:
        """Bytes read at most; one more and the body is refused unread."""
        return self.max_bytes if self.max_bytes is not None else DEFAULT_BODY_LIMIT


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str  # upper case
    path: str  # the template as written in the document, e.g. "/tasks/{user}"
    servers: tuple[str, ...]  # base paths this operation is served under
    parameters: tuple[Parameter, ...]
    request_body: RequestBody | None
    responses: Mapping[int, JSON | None]  # status -> JSON schema of the body, None for no body
    text_responses: Mapping[int, tuple[str, ...]]  # status -> declared non-JSON media types (e.g. YAML exports)
    security: tuple[str, ...]  # names of the security schemes; empty means no auth
    strict_query: bool  # x-coder-strict-query: unknown query parameters are refused
    websocket: bool = False  # x-coder-websocket: a WebSocket upgrade of the path is served too

    @property
    def full_paths(self) -> tuple[str, ...]:
        return tuple(server + self.path for server in self.servers)


@dataclass(frozen=True)
class Spec:
    document: JSON
    operations: tuple[Operation, ...]

    @property
    def components(self) -> JSON:
        components: JSON = self.document.get("components", {})
        return components


DEFAULT_DECODE_MESSAGE = "Request body must be valid JSON."

# libyaml's parser when PyYAML was built with it (tens of times faster than the pure-Python one).
FAST_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache  # where the package is installed does not change while it runs
def spec_path(name: str) -> Path:
    """Where a document shipped with the package lives (`openapi/<name>`)."""
    return Path(str(resources.files("fakeserver") / "openapi" / name))


@cache
def load_spec(path: Path) -> Spec:
    """Parse once per process: a spec is immutable, so every app can share it."""
    return parse_spec(read_spec_document(path))


def read_spec_document(path: Path) -> JSON:
    """The YAML document at `path`; read from the JSON copy beside it (`compiled_spec_path`)
    while that copy was made from these very bytes, since JSON parses some fifty times faster
    than YAML, and the spec's YAML was most of a first `FakeCoder()`."""
    source = path.read_bytes()
    compiled = _compiled_document(compiled_spec_path(path), source)
    if compiled is not None:
        return compiled
    document: JSON = yaml.load(source, Loader=FAST_YAML_LOADER)
    return document


def compiled_spec_path(path: Path) -> Path:
    return path.with_suffix(".json")


def compile_spec(path: Path) -> bytes:
    """The JSON copy of the spec at `path` (scripts/compile_spec.py writes it): the document, and
    the digest of the YAML it was made from."""
    source = path.read_bytes()
    document = yaml.load(source, Loader=FAST_YAML_LOADER)
    return orjson.dumps({"source_sha256": _digest(source), "document": document}, option=orjson.OPT_INDENT_2)


def _compiled_document(compiled: Path, source: bytes) -> JSON | None:
    try:
        saved = orjson.loads(compiled.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(saved, dict) or saved.get("source_sha256") != _digest(source):
        return None  # made from another version of the YAML: that version is not this spec
    document = saved.get("document")
    return document if isinstance(document, dict) else None


def _digest(source: bytes) -> str:
    return hashlib.sha256(source).hexdigest()


def parse_spec(document: JSON) -> Spec:
    if not str(document.get("openapi", "")).startswith("3.1"):
        raise SpecError("only OpenAPI 3.1 documents are supported")
    root_servers = _server_urls(document.get("servers"), default=("",))
    root_security = _security_names(document.get("security", []))
    operations: list[Operation] = []
    seen_ids: set[str] = set()
    for path, item in document.get("paths", {}).items():
        servers = _server_urls(item.get("servers"), default=root_servers)
        shared_parameters = item.get("parameters", [])
        for method in HTTP_METHODS:
            if method not in item:
                continue
            raw = item[method]
            operation_id = raw.get("operationId")
            if not operation_id:
                raise SpecError(f"{method.upper()} {path} has no operationId")
            if operation_id in seen_ids:
                raise SpecError(f"operationId {operation_id!r} is used twice")
            seen_ids.add(operation_id)
            security = raw.get("security")
            operation = Operation(
                operation_id=operation_id,
                method=method.upper(),
                path=path,
                servers=_server_urls(raw.get("servers"), default=servers),
                parameters=_parameters(document, shared_parameters, raw.get("parameters", [])),
                request_body=_request_body(document, raw.get("requestBody")),
                responses=_responses(document, raw.get("responses", {})),
                text_responses=_text_responses(document, raw.get("responses", {})),
                security=root_security if security is None else _security_names(security),
                strict_query=bool(raw.get("x-coder-strict-query", False)),
                websocket=bool(raw.get("x-coder-websocket", False)),
            )
            _check_body_statuses(operation)
            operations.append(operation)
    return Spec(document=document, operations=tuple(operations))


def _check_body_statuses(operation: Operation) -> None:
    missing = [status for status in BODY_READ_STATUSES if status not in operation.responses]
    if operation.request_body is not None and missing:
        statuses = ", ".join(str(status) for status in missing)
        raise SpecError(
            f"{operation.operation_id} takes a body but does not declare {statuses} (reading it is bounded)"
        )


def resolve(document: JSON, node: JSON) -> JSON:
    """Follow a local `$ref` (parameters, responses, request bodies) to its target."""
    while "$ref" in node:
        reference = node["$ref"]
        if not reference.startswith("#/"):
            raise SpecError(f"only local references are supported, got {reference!r}")
        target: Any = document
        for part in reference[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _server_urls(servers: list[JSON] | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if not servers:
        return default
    return tuple(str(server["url"]).rstrip("/") for server in servers)


def _security_names(requirements: list[JSON]) -> tuple[str, ...]:
    return tuple(name for requirement in requirements for name in requirement)


def _parameters(document: JSON, shared: list[JSON], own: list[JSON]) -> tuple[Parameter, ...]:
    by_key: dict[tuple[str, str], Parameter] = {}
    for raw in [*shared, *own]:  # an operation's own parameters override the path item's
        node = resolve(document, raw)
        parameter = Parameter(
            name=node["name"],
            location=node["in"],
            required=bool(node.get("required", node["in"] == "path")),
            schema=node.get("schema", {}),
            message=node.get("x-coder-message"),
            detail=node.get("x-coder-detail"),
        )
        by_key[(parameter.location, parameter.name)] = parameter
    return tuple(by_key.values())


def _request_body(document: JSON, raw: JSON | None) -> RequestBody | None:
    if raw is None:
        return None
    node = resolve(document, raw)
    content = node.get("content", {})
    if not content:
        raise SpecError("a request body needs a content type")
    is_json = "application/json" in content
    media = content["application/json"] if is_json else next(iter(content.values()))
    return RequestBody(
        required=bool(node.get("required", False)),
        schema=media.get("schema", {}) if is_json else {"type": "string"},
        decode_message=node.get("x-coder-message", DEFAULT_DECODE_MESSAGE),
        max_bytes=node.get("x-coder-max-bytes"),
        is_json=is_json,
    )


def _responses(document: JSON, raw: JSON) -> dict[int, JSON | None]:
    responses: dict[int, JSON | None] = {}
    for status, response in raw.items():
        node = resolve(document, response)
        content = node.get("content")
        if content is None:
            responses[int(status)] = None
        elif "application/json" in content:
            responses[int(status)] = content["application/json"].get("schema", {})
        else:
            responses[int(status)] = {"type": "string"}  # text only: checked by media type, not schema
    return responses


def _text_responses(document: JSON, raw: JSON) -> dict[int, tuple[str, ...]]:
    text: dict[int, tuple[str, ...]] = {}
    for status, response in raw.items():
        content = resolve(document, response).get("content") or {}
        media_types = tuple(media_type for media_type in content if media_type != "application/json")
        if media_types:
            text[int(status)] = media_types
    return text

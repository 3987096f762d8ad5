"""Request and response validation, compiled once per operation.

Requests that break the spec become Coder error envelopes with the message the
real server uses for that mistake (see the `x-coder-*` extensions in the spec).
Responses that break the spec are bugs in the fake: `ResponseValidationError`.

JSON Schema validation is done by jsonschema-rs: it implements draft 2020-12
(the dialect of OpenAPI 3.1), checks formats, and is fast enough to validate
every response without showing up in the request budget.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema_rs

from fakeserver import safejson
from fakeserver.errors import ApiError, Validation
from fakeserver.spec import JSON, Operation, Parameter, RequestBody, resolve
from fakeserver.wire import Wire, WireList

INVALID_QUERY = "Invalid query parameters."
INVALID_PATH = "Invalid path parameter."

# Errors the Go JSON decoder itself raises (a value of the wrong type, an
# unparsable UUID or time): coderd answers them with the body's decode message.
_DECODER_ERROR_KINDS = ("Type", "Format")


class Schema:
    """A schema compiled when first used, once per process: of the many operations and statuses
    of the spec, a test run calls few, and compiling them all would slow every first fake."""

    def __init__(self, schema: JSON, components: JSON) -> None:
        self._schema = schema
        self._components = components
        self._compiled: jsonschema_rs.Validator | None = None

    @property
    def _validator(self) -> jsonschema_rs.Validator:
        if self._compiled is None:
            self._compiled = compile_schema(self._schema, self._components)
        return self._compiled

    def is_valid(self, value: Any) -> bool:
        return bool(self._validator.is_valid(value))

    def iter_errors(self, value: Any) -> Iterator[jsonschema_rs.ValidationError]:
        return iter(self._validator.iter_errors(value))


def compile_schema(schema: JSON, components: JSON) -> jsonschema_rs.Validator:
    """A validator for `schema` whose `#/components/...` references resolve."""
    root = dict(schema)
    root["components"] = components
    return jsonschema_rs.validator_for(root, validate_formats=True)


class ResponseValidationError(Exception):
    """The fake answered something its own spec does not allow."""

    def __init__(self, operation_id: str, status: int, location: str, reason: str) -> None:
        self.operation_id = operation_id
        self.status = status
        self.location = location
        self.reason = reason
        super().__init__(f"{operation_id} answered {status}, which breaks the spec at {location}: {reason}")


class RequestValidator:
    def __init__(self, operation: Operation, document: JSON) -> None:
        components = document.get("components", {})
        self._operation = operation
        self._parameters = [
            (parameter, None if _accepts_any_string(parameter.schema) else Schema(parameter.schema, components))
            for parameter in operation.parameters
            if parameter.location in ("path", "query")
        ]
        self._declared_query = {p.name for p in operation.parameters if p.location == "query"}
        body = operation.request_body
        self._body = body
        self._body_schema = Schema(body.schema, components) if body else None
        self._body_properties: JSON = resolve(document, body.schema).get("properties", {}) if body else {}

    def parameters(self, path: Mapping[str, str], query: Mapping[str, str]) -> dict[str, str]:
        """The declared path and query values, checked against their schemas."""
        values: dict[str, str] = {}
        problems: list[tuple[Parameter, str, str]] = []  # (parameter, value, reason)
        for parameter, validator in self._parameters:
            # a path has one value of each (a dict); a query may repeat a name, and the first counts
            value = path.get(parameter.name, "") if parameter.location == "path" else first_value(query, parameter.name)
            if value == "":
                if parameter.required:
                    problems.append((parameter, value, "required"))
                continue
            if validator is not None and not validator.is_valid(value):
                problems.append((parameter, value, _first_error(validator, value)))
                continue
            values[parameter.name] = value
        unknown = [name for name in query if name not in self._declared_query] if self._operation.strict_query else []
        if problems or unknown:
            raise _parameter_error(problems, unknown)
        return values

    def body(self, raw: bytes) -> Any:
        """The decoded JSON body (None when the operation takes none)."""
        body = self._body
        if body is None or self._body_schema is None:
            return None
        if body.max_bytes is not None and len(raw) > body.max_bytes:
            raise ApiError(400, body.decode_message, f"The body is larger than {body.max_bytes} bytes.")
        if not raw.strip() and not body.required:
            return None
        if not body.is_json:
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ApiError(400, "The body must be UTF-8 text.", f"{error}") from None
        try:
            document = safejson.loads(raw)
        except safejson.BadJSON as error:
            raise ApiError(400, body.decode_message, f"{error}") from None
        if not self._body_schema.is_valid(document):
            raise self._body_error(body, document)
        return document

    def _body_error(self, body: RequestBody, document: Any) -> ApiError:
        """The problem coderd would report first, without `validations` (its task bodies have no
        `validate` tags): a decoder error, else the handler's own check (`x-coder-message`)."""
        assert self._body_schema is not None
        errors = list(self._body_schema.iter_errors(document))
        decoder_errors = [error for error in errors if _kind(error) in _DECODER_ERROR_KINDS]
        if decoder_errors:  # the decoder fails before any handler check runs; `validations` name the fields
            validations = [Validation(_field_name(error) or "body", error.message) for error in decoder_errors]
            return ApiError(400, body.decode_message, decoder_errors[0].message, validations)
        for error in errors:
            field = _field_name(error)
            prop = self._body_properties.get(field, {}) if "." not in field else {}
            if "x-coder-message" in prop:
                return ApiError(400, prop["x-coder-message"], prop.get("x-coder-detail", ""))
        return ApiError(400, body.decode_message, errors[0].message)


class ResponseValidator:
    def __init__(self, operation: Operation, document: JSON) -> None:
        components = document.get("components", {})
        self._operation_id = operation.operation_id
        self._text = operation.text_responses
        self._components = components
        self._document = document
        self._schemas = {
            status: (Schema(schema, components) if schema is not None else None)
            for status, schema in operation.responses.items()
        }
        self._raw_schemas = dict(operation.responses)
        self._by_ref: dict[str, Schema] = {}
        self._item_refs: dict[tuple[int, str], str] = {}
        self._wire_refs: dict[int, str] = {}  # the `$ref` of each status a `Wire` is answered with

    def check(self, status: int, body: Any, media_type: str | None = None) -> None:
        """Raises ResponseValidationError. A `Wire` (or a `WireList` in an envelope) is checked
        against its schema once: the next answer that sends it unchanged relies on that."""
        if type(body) is Wire:
            ref = self._wire_refs.get(status)
            if ref is None:
                ref = self._wire_refs[status] = self._ref_of(status, self._raw_schemas.get(status))
            if ref not in body.checked:  # a task unchanged since it was last sent: nothing to look at
                self._check_wire(status, ref, body, "")
            return
        if isinstance(body, dict) and any(isinstance(value, WireList) for value in body.values()):
            envelope = {key: [] if isinstance(value, WireList) else value for key, value in body.items()}
            self._check_plain(status, envelope, media_type)
            for key, value in body.items():
                if isinstance(value, WireList):
                    self._check_wire_list(status, self._item_ref(status, key), value, key)
            return
        self._check_plain(status, body, media_type)

    def _item_ref(self, status: int, key: str) -> str:
        """The `$ref` of the items of the envelope's array `key`, looked up once."""
        ref = self._item_refs.get((status, key))
        if ref is None:
            properties = resolve(self._document, self._raw_schemas.get(status) or {}).get("properties", {})
            ref = self._item_refs[status, key] = self._ref_of(status, properties.get(key, {}).get("items"))
        return ref

    def _ref_of(self, status: int, schema: JSON | None) -> str:
        ref = schema.get("$ref") if isinstance(schema, dict) else None
        if not isinstance(ref, str):
            raise ResponseValidationError(self._operation_id, status, "content", "a cached body needs a $ref schema")
        return ref

    def _check_wire_list(self, status: int, ref: str, wire_list: WireList, at: str) -> None:
        if ref in wire_list.checked:  # a kept list of unchanged items: no need to look at each again
            return
        for index, item in enumerate(wire_list.items):
            if ref not in item.checked:  # most items of a list made again are unchanged since
                self._check_wire(status, ref, item, f"{at}/{index}")
        wire_list.checked = (*wire_list.checked, ref)

    def _check_wire(self, status: int, ref: str, wire: Wire, at: str) -> None:
        """Check a `Wire` not yet known to satisfy `ref` (its callers skip those that are) and note that it does."""
        validator = self._by_ref.get(ref)
        if validator is None:
            validator = self._by_ref[ref] = Schema({"$ref": ref}, self._components)
        value = wire.value
        if not validator.is_valid(value):
            error = next(iter(validator.iter_errors(value)))
            path = "/".join(str(part) for part in error.instance_path)
            where = "/".join(part for part in (at, path) if part) or "(root)"
            raise ResponseValidationError(self._operation_id, status, ref, f"{error.message} (at {where})")
        wire.checked = (*wire.checked, ref)

    def _check_plain(self, status: int, body: Any, media_type: str | None) -> None:
        if status not in self._schemas:
            raise ResponseValidationError(self._operation_id, status, "responses", "status is not declared")
        if media_type is not None:
            if media_type not in self._text.get(status, ()) or not isinstance(body, str):
                raise ResponseValidationError(self._operation_id, status, "content", f"{media_type} is not declared")
            return
        validator = self._schemas[status]
        if validator is None:
            if body is not None:
                raise ResponseValidationError(self._operation_id, status, "content", "a body where none is declared")
            return
        if body is None:
            raise ResponseValidationError(self._operation_id, status, "content", "no body where one is declared")
        if validator.is_valid(body):
            return
        error = next(iter(validator.iter_errors(body)))
        location = "/".join(str(part) for part in error.schema_path)
        at = "/".join(str(part) for part in error.instance_path) or "(root)"
        raise ResponseValidationError(self._operation_id, status, location, f"{error.message} (at {at})")


def _accepts_any_string(schema: JSON) -> bool:
    """`{type: string}` and nothing more: a path or query value always passes it (the spec's
    `{user}` and `{task}`), so it is not checked on every call."""
    return schema == {"type": "string"}


def first_value(values: Mapping[str, str], name: str) -> str:
    """Go's `url.Values.Get`: the first of repeated values (a Starlette multi-dict's `get` gives the last)."""
    getlist = getattr(values, "getlist", None)
    found: list[str] = getlist(name) if getlist is not None else [values.get(name, "")]
    return found[0] if found else ""


def _first_error(validator: Schema, value: str) -> str:
    return next(iter(validator.iter_errors(value))).message


def _kind(error: jsonschema_rs.ValidationError) -> str:
    return type(error.kind).__name__


def _field_name(error: jsonschema_rs.ValidationError) -> str:
    path = [str(part) for part in error.instance_path]
    if _kind(error) == "Required":
        path.append(str(error.kind.as_dict()["property"]))
    return ".".join(path)


def _parameter_error(problems: list[tuple[Parameter, str, str]], unknown: list[str]) -> ApiError:
    """coderd's order: a bad path value, then the query parser's errors, then a bad query value.

    A value the handler checks itself (`x-coder-message`) gets that message and detail alone;
    the parser's errors come as `validations`.
    """
    path_problems = [problem for problem in problems if problem[0].location == "path"]
    if path_problems:
        parameter, value, _ = path_problems[0]
        if parameter.message:
            return _handler_check_error(parameter, value)
        return ApiError(400, INVALID_PATH, "", [_parameter_validation(p, reason) for p, _, reason in path_problems])
    parser_problems = [(p, reason) for p, _, reason in problems if reason == "required" or not p.message]
    if parser_problems or unknown:
        validations = [_parameter_validation(parameter, reason) for parameter, reason in parser_problems]
        validations += [Validation(name, f'Query param "{name}" is not a valid query param') for name in unknown]
        return ApiError(400, INVALID_QUERY, "", validations)
    parameter, value, _ = problems[0]
    return _handler_check_error(parameter, value)


def _handler_check_error(parameter: Parameter, value: str) -> ApiError:
    assert parameter.message is not None
    return ApiError(400, parameter.message, (parameter.detail or "").replace("{value}", value))


def _parameter_validation(parameter: Parameter, reason: str) -> Validation:
    kind = "Query" if parameter.location == "query" else "Path"
    if reason == "required":
        return Validation(parameter.name, f'{kind} param "{parameter.name}" is required and cannot be empty')
    return Validation(parameter.name, f'{kind} param "{parameter.name}" has invalid value: {reason}')

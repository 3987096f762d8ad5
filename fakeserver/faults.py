"""Faults injected per operation: latency, error answers, dropped connections.

A fault may only make an operation answer what the spec says that operation
can answer: its status must be declared and its body must match the declared
schema. Anything else is refused when the fault is added, so a client is
never tested against a failure the real server cannot produce.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jsonschema_rs

from fakeserver.errors import Invalid, envelope
from fakeserver.routing import CompiledOperation
from fakeserver.spec import load_spec, spec_path
from fakeserver.validation import ResponseValidationError

STATUS_MESSAGES = {
    400: "Bad request (injected fault).",
    401: "You are signed out or your session has expired. Please sign in again to continue.",
    403: "Forbidden.",
    404: "Resource not found or you do not have access to this resource",
    406: "Not acceptable (injected fault).",
    409: "Conflict (injected fault).",
    429: "Too many requests (injected fault).",
    500: "An internal server error occurred (injected fault).",
    502: "Failed to reach task app endpoint.",
}


@dataclass
class Fault:
    """What goes wrong, how often.

    `count` limits the fault to the next N calls; `probability` makes it hit
    that fraction of calls, drawn from a generator seeded with `seed` so that
    a run repeats. Without either, every call is hit.
    """

    id: int
    operation_id: str
    latency_ms: tuple[float, float] | None = None  # fixed when both ends are equal
    status: int | None = None
    body: Any = None
    drop: bool = False
    count: int | None = None
    probability: float | None = None
    seed: int = 0
    hits: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def applies(self) -> bool:
        """Decide for one call, and count it."""
        if self.count is not None and self.hits >= self.count:
            return False
        if self.probability is not None and self._rng.random() >= self.probability:
            return False
        self.hits += 1
        return True

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.hits >= self.count

    def delay_seconds(self) -> float:
        if self.latency_ms is None:
            return 0.0
        low, high = self.latency_ms
        return (low if low == high else self._rng.uniform(low, high)) / 1000

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "operation_id": self.operation_id, "hits": self.hits, "seed": self.seed}
        if self.latency_ms is not None:
            low, high = self.latency_ms
            body["latency_ms"] = low if low == high else [low, high]
        optional = {"status": self.status, "count": self.count, "probability": self.probability}
        body.update({key: value for key, value in optional.items() if value is not None})
        if self.status is not None:
            body["body"] = self.body
        if self.drop:
            body["drop"] = True
        return body


class Faults:
    def __init__(self) -> None:
        self.kept: list[Fault] = []  # read by every call of the API: empty, most of the time
        self._ids = itertools.count(1)

    def add(self, operations: dict[str, CompiledOperation], spec: dict[str, Any]) -> Fault:
        """Check a fault against the spec and keep it. `spec` is the request's JSON body."""
        _check_request(spec)  # HTTP bodies are checked already; `FakeCoder.fault(**options)` ones are not
        operation_id = str(spec["operation_id"])
        compiled = operations.get(operation_id)
        if compiled is None:
            raise Invalid("Unknown operation.", f"No operation {operation_id!r} in the spec.")
        status = spec.get("status")
        body = spec.get("body")
        if status is not None:
            body = body if body is not None else _default_body(compiled, status)
            _check_declared(compiled, status, body)
        elif body is not None:
            raise Invalid("A fault body needs a status.")
        latency = _latency(spec.get("latency_ms"))
        drop = bool(spec.get("drop", False))
        if status is None and not drop and latency is None:
            raise Invalid("A fault needs a latency, a status or drop.")
        fault = Fault(
            id=next(self._ids),  # drawn only once the fault is accepted: ids of kept faults run 1, 2, 3...
            operation_id=operation_id,
            latency_ms=latency,
            status=status,
            body=body,
            drop=drop,
            count=spec.get("count"),
            probability=spec.get("probability"),
            seed=int(spec.get("seed", 0)),
        )
        self.kept.append(fault)
        return fault

    def for_call(self, operation_id: str) -> list[Fault]:
        """The faults that hit this call (each counted); exhausted ones are dropped."""
        hits = [f for f in self.kept if f.operation_id == operation_id and f.applies()]
        self.kept = [f for f in self.kept if not f.exhausted]
        return hits

    def list(self) -> list[Fault]:
        return list(self.kept)

    def remove(self, fault_id: int | None = None) -> int:
        before = len(self.kept)
        self.kept = [] if fault_id is None else [f for f in self.kept if f.id != fault_id]
        return before - len(self.kept)


@cache
def _request_schema() -> jsonschema_rs.Validator:
    """`FaultRequest` of openapi/control.yaml: what `POST /__fake__/faults` accepts."""
    schema = load_spec(spec_path("control.yaml")).document["components"]["schemas"]["FaultRequest"]
    return jsonschema_rs.validator_for(schema)


def _check_request(spec: dict[str, Any]) -> None:
    error = next(iter(_request_schema().iter_errors(spec)), None)
    if error is not None:
        where = ".".join(str(part) for part in error.instance_path) or "(fault)"
        raise Invalid("Invalid fault.", f"{where}: {error.message}")


def _latency(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    if isinstance(value, list):
        low, high = float(value[0]), float(value[1])
        if low > high:
            raise Invalid("Invalid latency.", "The range's lower end is above its upper end.")
        return low, high
    return float(value), float(value)


def _default_body(compiled: CompiledOperation, status: int) -> Any:
    if compiled.operation.responses.get(status, {}) is None:
        return None  # a status declared without a body
    return envelope(STATUS_MESSAGES.get(status, "Injected fault."))


def _check_declared(compiled: CompiledOperation, status: int, body: Any) -> None:
    try:
        compiled.responses.check(status, body)
    except ResponseValidationError as error:
        declared = ", ".join(str(code) for code in sorted(compiled.operation.responses))
        raise Invalid(
            "The spec does not allow this fault.",
            f"{error.reason} ({error.operation_id} declares {declared}).",
        ) from None

"""Errors: the fake's domain errors, and the Coder error envelope that carries any error to a client.

Below the HTTP layer (the world, the control actions, faults) nothing knows a status code: they
raise `FakeError`s, which a Python caller catches by kind (`NotFound` is a `LookupError`,
`Invalid` a `ValueError`), and which the request pipeline turns into statuses in one place
(`status_of`). The HTTP layer itself (authentication, validation, handlers) raises `ApiError`
with coderd's status and message.

Every error the fake answers with is a `codersdk.Response`:
`{"message": str, "detail"?: str, "validations"?: [{"field": str, "detail": str}]}`
where `detail` and `validations` are absent when empty (Go `omitempty`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RESOURCE_NOT_FOUND = "Resource not found or you do not have access to this resource"
ROUTE_NOT_FOUND = "Route not found."  # a path no route serves


@dataclass(frozen=True)
class Validation:
    """One entry of the envelope's `validations` list."""

    field: str
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "detail": self.detail}


@dataclass
class ApiError(Exception):
    """Raised anywhere below a handler; becomes an error response."""

    status: int
    message: str
    detail: str = ""
    validations: list[Validation] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.status} {self.message}")

    def body(self) -> dict[str, Any]:
        return envelope(self.message, self.detail, self.validations)


def envelope(message: str, detail: str = "", validations: list[Validation] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message}
    if detail:
        body["detail"] = detail
    if validations:
        body["validations"] = [v.to_json() for v in validations]
    return body


def internal_error(error: BaseException) -> dict[str, Any]:
    """A bug in the fake, in Coder's envelope: what broke is named, never how (no traceback)."""
    return {"message": "An internal error occurred in the fake.", "detail": type(error).__name__}


def not_found() -> ApiError:
    return ApiError(404, RESOURCE_NOT_FOUND)


class FakeError(Exception):
    """Something the fake will not do, with the message (and detail) a client is shown."""

    def __init__(self, message: str, detail: str = "") -> None:
        self.message = message
        self.detail = detail
        super().__init__(f"{message} {detail}".strip())


class NotFound(FakeError, LookupError):
    """No such task, world or operation."""


class Conflict(FakeError):
    """The action does not apply to the current state (a build is running, a job is final)."""


class BuildAlreadyActive(Conflict):
    """coderd's wsbuilder refuses a new build while one is pending or running."""

    def __init__(self) -> None:
        super().__init__(BUILD_ALREADY_ACTIVE)


class Invalid(FakeError, ValueError):
    """A value the fake does not take (a job status, a fault the spec does not allow)."""


BUILD_ALREADY_ACTIVE = "A workspace build is already active."
_STATUSES: tuple[tuple[type[FakeError], int], ...] = ((NotFound, 404), (Conflict, 409), (Invalid, 400))


def status_of(error: FakeError) -> int:
    """The HTTP status a domain error is answered with."""
    return next((status for kind, status in _STATUSES if isinstance(error, kind)), 500)

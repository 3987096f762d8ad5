"""The Coder error envelope and the exception that carries it to the client.

Every error the fake answers with is a `codersdk.Response`:
`{"message": str, "detail"?: str, "validations"?: [{"field": str, "detail": str}]}`
where `detail` and `validations` are absent when empty (Go `omitempty`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RESOURCE_NOT_FOUND = "Resource not found or you do not have access to this resource"


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


def not_found() -> ApiError:
    return ApiError(404, RESOURCE_NOT_FOUND)

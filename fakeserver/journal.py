"""The request journal: what clients sent to the Coder API and what the fake answered.

Control-plane requests (`/__fake__/...`) are not journaled, so a dashboard
polling the fake does not bury what the client under test did. Tokens are
never kept in clear: only the caller's identity and a masked token are.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fakeserver import safejson
from fakeserver.timefmt import format_time

JOURNAL_LIMIT = 10_000  # the oldest entries go first; a long-running server must not grow without bound
BODY_LIMIT = 16 * 1024  # bytes kept of each request and response body: a polled long list must not fill memory
SECRET_QUERY_PARAMS = ("coder_session_token",)


@dataclass(frozen=True)
class JournalEntry:
    id: int
    time: datetime  # on the fake's clock
    method: str
    path: str
    query: dict[str, str]
    request_bytes: bytes  # as sent; only the first BODY_LIMIT bytes are kept
    operation_id: str
    task_id: str | None
    user: str  # the username, "agent:<id>" or "" when unauthenticated
    token: str  # masked
    status: int
    response_bytes: bytes  # as answered; only the first BODY_LIMIT bytes are kept
    duration_ms: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "request_bytes", self.request_bytes[:BODY_LIMIT])
        object.__setattr__(self, "response_bytes", self.response_bytes[:BODY_LIMIT])

    @property
    def body(self) -> Any:
        """The request body: decoded JSON, else text (cut at BODY_LIMIT bytes), None when empty."""
        return _decoded(self.request_bytes)

    @property
    def response(self) -> Any:
        """The response body, the same way."""
        return _decoded(self.response_bytes)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": format_time(self.time),
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "body": self.body,
            "operation_id": self.operation_id,
            "task_id": self.task_id,
            "user": self.user,
            "token": self.token,
            "status": self.status,
            "response": self.response,
            "duration_ms": round(self.duration_ms, 3),
        }


class Journal:
    def __init__(self, limit: int = JOURNAL_LIMIT) -> None:
        self._entries: deque[JournalEntry] = deque(maxlen=limit)
        self._ids = itertools.count(1)

    def next_id(self) -> int:
        return next(self._ids)

    def record(self, entry: JournalEntry) -> None:
        self._entries.append(entry)

    def clear(self) -> None:
        self._entries.clear()

    def entries(
        self, operation: str | None = None, task: str | None = None, user: str | None = None
    ) -> list[JournalEntry]:
        """Oldest first, optionally only one operation's, one task's or one caller's."""
        return [
            entry
            for entry in self._entries
            if (operation is None or entry.operation_id == operation)
            and (task is None or entry.task_id == task)
            and (user is None or entry.user == user)
        ]


def _decoded(raw: bytes) -> Any:
    """What was recorded, as JSON if it is JSON the fake accepts, else as text: never an error."""
    if not raw:
        return None
    try:
        return safejson.loads(raw)
    except safejson.BadJSON:
        return raw.decode("utf-8", errors="replace")


def mask_token(token: str) -> str:
    if not token:
        return ""
    return token[:2] + "…" if len(token) > 4 else "…"


def masked_query(query: dict[str, str]) -> dict[str, str]:
    return {key: (mask_token(value) if key in SECRET_QUERY_PARAMS else value) for key, value in query.items()}

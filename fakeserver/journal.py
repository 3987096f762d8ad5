"""The request journal: what clients sent to the Coder API and what the fake answered.

Control-plane requests (`/__fake__/...`) are not journaled, so a dashboard
polling the fake does not bury what the client under test did. Tokens are
never kept in clear: only the caller's identity and a masked token are.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any, Final, NamedTuple

from fakeserver import safejson
from fakeserver.timefmt import format_time

JOURNAL_LIMIT = 10_000  # entries; the oldest go first, so that a long-running server does not grow without bound
JOURNAL_BYTES = 32 * 1024 * 1024  # and bytes, bodies included: 10,000 polls of a long list must not fill memory
BODY_LIMIT = 16 * 1024  # bytes kept of each request and response body
ENTRY_OVERHEAD = 512  # bytes an entry costs besides its bodies (its fields, its strings), for the byte bound
SECRET_QUERY_PARAMS = ("coder_session_token",)


class JournalEntry(NamedTuple):
    """One call, as read from the journal (which keeps it as a plain row, `JournalRow`); its bodies
    are decoded only when read."""

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
    # The answer's body as the parts it was sent from, no more than BODY_LIMIT bytes of them: a
    # task's part is the world's own encoded bytes, shared rather than copied per call.
    response_parts: tuple[bytes, ...]
    duration_ms: float

    @property
    def body(self) -> Any:
        """The request body: decoded JSON, else text (cut at BODY_LIMIT bytes), None when empty."""
        return _decoded(self.request_bytes)

    @property
    def response_bytes(self) -> bytes:
        """The response body as answered (its first BODY_LIMIT bytes)."""
        return b"".join(self.response_parts)

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


# A call as the journal keeps it: JournalEntry's fields, in its order, as a plain tuple, with `query`
# None when there was none. The pipeline makes one per call: a tuple display costs no call (a named
# tuple's constructor is a Python function), and a row of no container but its parts' tuple is
# soon left alone by the cycle collector. Entries are made from rows when they are read.
JournalRow = tuple[
    int, datetime, str, str, dict[str, str] | None, bytes, str, str | None, str, str, int, tuple[bytes, ...], float
]
_ID: Final = 0  # where a row keeps each field that the journal itself reads
_QUERY: Final = 4
_REQUEST: Final = 5
_OPERATION: Final = 6
_TASK: Final = 7
_USER: Final = 8
_PARTS: Final = 11


class Journal:
    """The newest entries, within `limit` entries and `max_bytes` bytes."""

    def __init__(self, limit: int = JOURNAL_LIMIT, max_bytes: int = JOURNAL_BYTES) -> None:
        self._rows: deque[JournalRow] = deque()
        self._costs: deque[int] = deque()  # each row's share of the byte bound, in step with `_rows`
        self._limit = limit
        self._max_bytes = max_bytes
        self._bytes = 0
        self._last_id = 0

    def next_id(self) -> int:
        self._last_id += 1
        return self._last_id

    @property
    def last_id(self) -> int:
        """The newest id given so far (0 before any)."""
        return self._last_id

    @property
    def first_id(self) -> int:
        """The oldest entry kept; entries with a smaller id are gone. The next id when none is kept."""
        return self._rows[0][_ID] if self._rows else self._last_id + 1

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def record(self, row: JournalRow) -> None:
        """Keep a call (a `JournalEntry`, or a row in its order), its bodies cut to BODY_LIMIT bytes,
        dropping the oldest past either bound.

        Once the journal is full, every request drops one row: each row's cost is kept beside it
        rather than measured again on its way out.
        """
        request_size = len(row[_REQUEST])
        if request_size > BODY_LIMIT:
            row = _replaced(row, _REQUEST, row[_REQUEST][:BODY_LIMIT])
            request_size = BODY_LIMIT
        parts = row[_PARTS]
        response_size = len(parts[0]) if len(parts) == 1 else sum(map(len, parts))
        if response_size > BODY_LIMIT:
            row = _replaced(row, _PARTS, first_parts(parts, BODY_LIMIT))
            response_size = BODY_LIMIT
        rows, costs = self._rows, self._costs
        cost = ENTRY_OVERHEAD + request_size + response_size
        rows.append(row)
        costs.append(cost)
        self._bytes += cost
        while len(rows) > self._limit or (self._bytes > self._max_bytes and len(rows) > 1):
            rows.popleft()
            self._bytes -= costs.popleft()

    def clear(self) -> None:
        self._rows.clear()
        self._costs.clear()
        self._bytes = 0

    def entries(
        self,
        operation: str | None = None,
        task: str | None = None,
        user: str | None = None,
        since: int = 0,
        limit: int | None = None,
    ) -> list[JournalEntry]:
        """Oldest first, optionally only one operation's, one task's or one caller's, only those after
        `since`, and only the newest `limit`. Read from the newest back: a poller that passes the
        last id it saw costs what it gets, not what the journal holds."""
        found: list[JournalEntry] = []
        for row in reversed(self._rows):
            if row[_ID] <= since or (limit is not None and len(found) >= limit):
                break
            if (
                (operation is None or row[_OPERATION] == operation)
                and (task is None or row[_TASK] == task)
                and (user is None or row[_USER] == user)
            ):
                found.append(_entry(row))
        found.reverse()
        return found


def _entry(row: JournalRow) -> JournalEntry:
    """The entry a row keeps; each read gets an empty query of its own."""
    query = row[_QUERY]
    return JournalEntry._make(row if query is not None else _replaced(row, _QUERY, {}))


def _replaced(row: JournalRow, index: int, value: Any) -> JournalRow:
    return (*row[:index], value, *row[index + 1 :])


def first_parts(parts: Iterable[bytes], limit: int) -> tuple[bytes, ...]:
    """The parts that make up the first `limit` bytes of their join, the last one cut to fit."""
    kept: list[bytes] = []
    size = 0
    for part in parts:
        if size + len(part) > limit:
            kept.append(part[: limit - size])
            break
        kept.append(part)
        size += len(part)
    return tuple(kept)


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
    return _masked(token[:2]) if len(token) > 4 else "…"


@lru_cache(maxsize=1024)  # by the two characters kept, never by a whole token (a client's may be huge)
def _masked(prefix: str) -> str:
    """One string per prefix, shared by every entry of a caller."""
    return prefix + "…"


def masked_query(query: Mapping[str, str]) -> dict[str, str]:
    return {key: (mask_token(value) if key in SECRET_QUERY_PARAMS else value) for key, value in query.items()}

"""JSON bodies encoded once: a record's wire form is kept, encoded, with the schemas it has been
checked against, until the world changes; a list of them is sent by joining their bytes.

A list of 10,000 tasks is then neither re-encoded nor re-validated item by item on every GET:
the response validator checks the envelope, and each item once (validation.py).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

# Go's encoder with SetEscapeHTML(true), as coderd's httpapi.Write uses it: these are escaped
# wherever they stand (only strings can hold them), everything else is UTF-8 as is.
_SEPARATORS = ("\u2028".encode(), "\u2029".encode())  # line and paragraph
_GO_ESCAPES = (
    (b"<", b"\\u003c"),
    (b">", b"\\u003e"),
    (b"&", b"\\u0026"),
    (_SEPARATORS[0], b"\\u2028"),
    (_SEPARATORS[1], b"\\u2029"),
)
_ANY_ESCAPE = re.compile(b"|".join(re.escape(char) for char, _ in _GO_ESCAPES))
_SEPARATOR_LEAD = b"\xe2"  # the first byte of both separators in UTF-8 (and of "…")
_SHORT_BODY = 64  # bytes; where one pass of the expression is quicker than five calls of `find`


def _needs_escape(encoded: bytes) -> bool:
    """Whether any of `_GO_ESCAPES` occurs. The regular expression tries each of the five at
    every byte: over a task's 1 KiB that was a fifth of encoding it, where a one-byte search
    (memchr) per character, and one for the separators only where a character that could be one
    starts, takes a tenth of the time. (`find`, not `in`: `in` first tries its operand as an
    integer, making and dropping a TypeError.)"""
    if len(encoded) < _SHORT_BODY:
        return _ANY_ESCAPE.search(encoded) is not None
    if encoded.find(b"<") >= 0 or encoded.find(b">") >= 0 or encoded.find(b"&") >= 0:
        return True
    if encoded.find(_SEPARATOR_LEAD) < 0:
        return False
    return encoded.find(_SEPARATORS[0]) >= 0 or encoded.find(_SEPARATORS[1]) >= 0


def json_bytes(body: Any) -> bytes:
    """A JSON value as coderd encodes it: compact, UTF-8, HTML characters escaped.

    orjson writes what encoding/json writes for the values the fake answers with (strings, int64
    integers, booleans, null, arrays, objects: tests/test_wire.py), at a third of the stdlib's cost.
    """
    # orjson's bytes keep the whole buffer it wrote into (16 KiB for a task's 1 KiB): copied to
    # their length, since a task's encoding is kept for as long as the task does not change
    encoded = bytes(memoryview(orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)))
    if not _needs_escape(encoded):  # most bodies hold none of them
        return encoded
    for char, escape in _GO_ESCAPES:
        encoded = encoded.replace(char, escape)
    return encoded


def json_text(body: Any) -> str:
    return json_bytes(body).decode("utf-8")


class Wire:
    """A JSON object, encoded once. Only the bytes are kept: a cached task then costs about a
    kilobyte, not a tree of objects, and its value is decoded again on the rare occasions it is
    needed (its schema check, the control plane's view of a task)."""

    __slots__ = ("checked", "encoded")

    def __init__(self, value: dict[str, Any]) -> None:
        self.encoded = json_bytes(value)
        self.checked: tuple[str, ...] = ()  # the schema references it is known to satisfy

    @property
    def value(self) -> dict[str, Any]:
        """A new copy of the object each time."""
        decoded: dict[str, Any] = orjson.loads(self.encoded)
        return decoded


class WireList:
    """A JSON array of `Wire`s, as a value of a response envelope's key.

    The world's listing cache keeps one for as long as nothing changes, so what sending it takes
    is worked out once, not on every GET of a list of 10,000 tasks (20,000 parts): its parts,
    their size, where its chunks end, and the schemas all its items are known to satisfy.
    """

    __slots__ = ("_cuts", "_parts", "_size", "checked", "items")

    def __init__(self, items: list[Wire]) -> None:
        self.items = items
        self.checked: tuple[str, ...] = ()  # the schema references every item is known to satisfy
        self._parts: list[bytes] = []
        self._size = 0
        self._cuts: dict[int, list[int]] = {}

    @property
    def parts(self) -> list[bytes]:
        """`[`, the items' fragments with a comma between each, `]`: parts of one join (a join
        per level would copy the whole list once more)."""
        self._encode()
        return self._parts

    @property
    def size(self) -> int:
        """The length of the parts' join."""
        self._encode()
        return self._size

    def _encode(self) -> None:
        if not self._parts:  # the size is set first: whoever sees the parts sees their size
            parts = _bracketed([item.encoded for item in self.items])
            self._size = sum(map(len, parts))
            self._parts = parts

    def cuts(self, chunk_bytes: int) -> list[int]:
        """Where in `parts` each chunk of at least `chunk_bytes` ends (the last chunk may be shorter)."""
        cuts = self._cuts.get(chunk_bytes)
        if cuts is None:
            cuts = []
            pending = 0
            for index, part in enumerate(self.parts, start=1):
                pending += len(part)
                if pending >= chunk_bytes:
                    cuts.append(index)
                    pending = 0
            self._cuts[chunk_bytes] = cuts  # once complete: a list is sent outside the fake's lock
        return cuts


def _bracketed(fragments: list[bytes]) -> list[bytes]:
    if not fragments:
        return [b"[", b"]"]
    parts = [b","] * (2 * len(fragments) + 1)
    parts[1::2] = fragments
    parts[0], parts[-1] = b"[", b"]"
    return parts


class Encoded(NamedTuple):
    """A response body as the parts its bytes join from, and their total size (a named tuple:
    every JSON answer makes one, at half the cost of a frozen dataclass)."""

    parts: list[bytes]
    size: int
    lists: tuple[tuple[int, WireList], ...] = ()  # each list's place among the parts

    def cuts(self, chunk_bytes: int) -> list[int]:
        """Where in `parts` each chunk of about `chunk_bytes` ends: only a list can be long."""
        return [start + cut for start, wire_list in self.lists for cut in wire_list.cuts(chunk_bytes)]


def encode(body: Any) -> bytes:
    """The bytes of a response body: a `Wire`'s own, or an object whose values may be `WireList`s;
    ended by a newline, as Go's `json.Encoder.Encode` ends what it writes."""
    return b"".join(encode_parts(body).parts)


def encode_parts(body: Any) -> Encoded:
    """`encode`'s bytes as the parts they join from: a list's are its items' own fragments."""
    if isinstance(body, Wire):
        return Encoded([body.encoded, b"\n"], len(body.encoded) + 1)
    if isinstance(body, dict) and any(isinstance(value, WireList) for value in body.values()):
        return _envelope_parts(body)
    encoded = json_bytes(body)
    return Encoded([encoded, b"\n"], len(encoded) + 1)


def _envelope_parts(body: dict[str, Any]) -> Encoded:
    parts: list[bytes] = []
    lists: list[tuple[int, WireList]] = []
    size = 0
    for key, value in body.items():
        head = _member_head(key, not parts)
        parts.append(head)
        if isinstance(value, WireList):
            lists.append((len(parts), value))
            parts.extend(value.parts)
            size += len(head) + value.size
        else:
            encoded = b"%d" % value if type(value) is int else json_bytes(value)  # a list's count
            parts.append(encoded)
            size += len(head) + len(encoded)
    parts.append(b"}\n")
    return Encoded(parts, size + 2, tuple(lists))


@lru_cache(maxsize=64)  # an envelope's keys are the spec's few names: each encoded once, not per list sent
def _member_head(key: str, first: bool) -> bytes:
    """`{"key":` for an object's first member, `,"key":` for the others."""
    return (b"{" if first else b",") + json_bytes(key) + b":"

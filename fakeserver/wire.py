"""JSON bodies encoded once: a record's wire form is kept, encoded, with the schemas it has been
checked against, until the world changes; a list of them is sent by joining their bytes.

A list of 10,000 tasks is then neither re-encoded nor re-validated item by item on every GET:
the response validator checks the envelope, and each item once (validation.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

# Go's encoder with SetEscapeHTML(true), as coderd's httpapi.Write uses it: these are escaped
# wherever they stand (only strings can hold them), everything else is UTF-8 as is.
_GO_ESCAPES = (
    (b"<", b"\\u003c"),
    (b">", b"\\u003e"),
    (b"&", b"\\u0026"),
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
)
_NEEDS_ESCAPE = re.compile(b"|".join(re.escape(char) for char, _ in _GO_ESCAPES))


def json_bytes(body: Any) -> bytes:
    """A JSON value as coderd encodes it: compact, UTF-8, HTML characters escaped.

    orjson writes what encoding/json writes for the values the fake answers with (strings, int64
    integers, booleans, null, arrays, objects: tests/test_wire.py), at a third of the stdlib's cost.
    """
    # orjson's bytes keep the whole buffer it wrote into (16 KiB for a task's 1 KiB): copied to
    # their length, since a task's encoding is kept for as long as the task does not change
    encoded = bytes(memoryview(orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)))
    if _NEEDS_ESCAPE.search(encoded) is None:  # one scan; most bodies hold none of them
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


@dataclass(frozen=True, eq=False)
class WireList:
    """A JSON array of `Wire`s, as a value of a response envelope's key."""

    items: list[Wire]


def encode(body: Any) -> bytes:
    """The bytes of a response body: a `Wire`'s own, or an object whose values may be `WireList`s;
    ended by a newline, as Go's `json.Encoder.Encode` ends what it writes."""
    return b"".join(encode_parts(body))


def encode_parts(body: Any) -> list[bytes]:
    """`encode`'s bytes as the parts they join from: a list's are its items' own fragments."""
    if isinstance(body, Wire):
        return [body.encoded, b"\n"]
    if isinstance(body, dict) and any(isinstance(value, WireList) for value in body.values()):
        return _parts(body)
    return [json_bytes(body), b"\n"]


def _parts(body: dict[str, Any]) -> list[bytes]:
    parts: list[bytes] = []
    for key, value in body.items():
        parts.append(b"," if parts else b"{")
        parts.append(json_bytes(key) + b":")
        if isinstance(value, WireList):
            parts.append(b"[")
            parts.extend(_comma_separated([item.encoded for item in value.items]))
            parts.append(b"]")
        else:
            parts.append(json_bytes(value))
    parts.append(b"}\n")
    return parts


def _comma_separated(fragments: list[bytes]) -> list[bytes]:
    """The fragments with a comma between each, as parts of one join (a join per level would copy
    the whole list once more)."""
    if not fragments:
        return []
    separated = [b","] * (2 * len(fragments) - 1)
    separated[::2] = fragments
    return separated

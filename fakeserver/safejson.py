"""JSON from untrusted bytes, decoded as Go's `encoding/json` decodes it, within fixed bounds.

Everything a client sends (request bodies) and everything read back from the journal goes
through `loads`, so that no input can make a later answer fail:

- invalid UTF-8 and unpaired UTF-16 surrogates (`\\ud800`) become U+FFFD, as in Go, so
  every stored string can be encoded again;
- `NaN`, `Infinity`, numbers that overflow a float64, and integers outside int64 are
  refused, as Go refuses them for the fields they would fill;
- nesting deeper than `MAX_DEPTH` is refused before anything recursive sees it (Go allows
  10,000 levels; no Coder request body is deeper than a handful).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

MAX_DEPTH = 64
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_NUMBER_DIGITS = 400  # a longer number literal is refused before Python converts it
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPE = re.compile(r"\\.", re.DOTALL)
_STRING = re.compile(r'"[^"]*"')  # once escapes are gone, a string cannot contain a quote
_BRACKET = re.compile(r"[\[\]{}]")
_LONG_DIGITS = re.compile(rb"[0-9]{19}")  # a number orjson might read otherwise than Go (or a string's digits)


class BadJSON(ValueError):
    """The bytes are not a JSON document the fake accepts; the message says why."""


def loads(raw: bytes | str) -> Any:
    if isinstance(raw, bytes) and _LONG_DIGITS.search(raw) is None:
        _check_depth(raw)
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # refused, or one of the cases below: the exact decoder says which, in its words
    return _decoded(raw)


def _decoded(raw: bytes | str) -> Any:
    """`loads`, by the standard library's decoder and the rules above, for any input. orjson
    agrees with it wherever it accepts the bytes, but for numbers of 19 digits or more (it makes
    floats of integers past 64 bits): those come here first (tests/test_hostile_input.py)."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    _check_depth(text)
    try:
        document = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except RecursionError:  # a deep stack below us: still the client's document, not our bug
        raise BadJSON(f"the document is nested deeper than {MAX_DEPTH} levels") from None
    except BadJSON:
        raise
    except ValueError as error:
        raise BadJSON(str(error)) from None
    return without_lone_surrogates(document) if "\\u" in text else document


def _check_depth(raw: bytes | str) -> None:
    """Refuse deep nesting with a scan that cannot recurse: count brackets outside strings."""
    opening = raw.count(b"[") + raw.count(b"{") if isinstance(raw, bytes) else raw.count("[") + raw.count("{")
    if opening <= MAX_DEPTH:
        return  # the common case: too few brackets to be too deep
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    depth = 0
    for token in _BRACKET.finditer(_STRING.sub("", _ESCAPE.sub("", text))):
        if token.group(0) in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise BadJSON(f"the document is nested deeper than {MAX_DEPTH} levels")
        else:
            depth -= 1


def _int(literal: str) -> int:
    if len(literal) > _NUMBER_DIGITS:
        raise BadJSON(f"number {literal[:20]}… is out of range")
    value = int(literal)
    if not INT64_MIN <= value <= INT64_MAX:
        raise BadJSON(f"number {literal} overflows a 64-bit integer")
    return value


def _float(literal: str) -> float:
    value = float(literal) if len(literal) <= _NUMBER_DIGITS else math.inf
    if not math.isfinite(value):
        raise BadJSON(f"number {literal[:40]} is out of range")
    return value


def _constant(name: str) -> Any:
    raise BadJSON(f"invalid literal {name!r}: JSON has no NaN or Infinity")


def without_lone_surrogates(value: Any) -> Any:
    """Unpaired surrogates (only an escape can make one) become U+FFFD, as Go's decoder does:
    kept as they are, they could not be encoded into any answer."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [without_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {without_lone_surrogates(key): without_lone_surrogates(item) for key, item in value.items()}
    return value

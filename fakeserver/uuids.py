"""UUIDs as coderd reads them: github.com/google/uuid's `Parse`, stricter than Python's `uuid.UUID`."""

from __future__ import annotations

import re
import uuid
from typing import Final

from fakeserver.gotext import go_quote

NIL_UUID: Final = "00000000-0000-0000-0000-000000000000"
_CANONICAL: Final = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX_DIGITS: Final = frozenset(b"0123456789abcdefABCDEF")
_UUID_DASH_OFFSETS: Final = (8, 13, 18, 23)


def parse_uuid(value: str) -> str | None:
    """The canonical form of `value` if github.com/google/uuid's `Parse` accepts it, else None.

    uuid.UUID alone is too lenient to decide this: it also takes `0x` prefixes, `_` and stray
    dashes, which the server would treat as a username. Go measures lengths in UTF-8 bytes.
    """
    if _CANONICAL.fullmatch(value):  # the form every client sends: no need to look closer
        return value.lower()
    raw = value.encode("utf-8", "surrogatepass")
    if len(raw) == 32:
        hex_digits = raw
    else:
        dashed = _dashed_uuid_body(raw)
        if dashed is None or any(dashed[offset] != ord("-") for offset in _UUID_DASH_OFFSETS):
            return None
        hex_digits = dashed[:8] + dashed[9:13] + dashed[14:18] + dashed[19:23] + dashed[24:]
    if not all(byte in _HEX_DIGITS for byte in hex_digits):
        return None
    return str(uuid.UUID(hex_digits.decode("ascii")))


def _dashed_uuid_body(raw: bytes) -> bytes | None:
    """The `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` part of the forms google/uuid accepts."""
    if len(raw) == 36:
        return raw
    if len(raw) == 38:
        # `{...}`: Go drops the first and last byte without checking they are braces.
        return raw[1:37]
    if len(raw) == 45 and raw[:9].lower() == b"urn:uuid:":
        return raw[9:]
    return None


def derived_id(record_id: str, purpose: str) -> str:
    """A stable id for something the fake does not store, derived from the record it belongs to
    (no draw from the world's ids, so it is the same after a reset or a load)."""
    return str(uuid.uuid5(uuid.UUID(record_id), purpose))


def uuid_error(value: str) -> str:
    """google/uuid's error for a value its `Parse` refuses ("" when it accepts it): coderd puts
    it in the detail of a bad UUID path parameter."""
    if parse_uuid(value) is not None:
        return ""
    raw = value.encode("utf-8", "surrogatepass")
    if len(raw) not in (32, 36, 38, 45):
        return f"invalid UUID length: {len(raw)}"
    if len(raw) == 45 and raw[:9].lower() != b"urn:uuid:":
        prefix = raw[:9].decode("utf-8", "replace")
        return f"invalid urn prefix: {go_quote(prefix)}"
    return "invalid UUID format"

"""Responses with coderd's framing: JSON as `application/json; charset=utf-8`."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

JSON_MEDIA_TYPE = "application/json; charset=utf-8"


def coder_json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json_bytes(body), status_code=status, headers=headers, media_type=JSON_MEDIA_TYPE)


def json_text(body: Any) -> str:
    """A JSON value as coderd encodes it: compact, UTF-8 as is."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def json_bytes(body: Any) -> bytes:
    return json_text(body).encode("utf-8")


def empty(status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(b"", status_code=status, headers=headers)

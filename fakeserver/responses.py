"""Responses with coderd's framing: JSON as `application/json; charset=utf-8`."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from fakeserver.wire import encode

JSON_MEDIA_TYPE = "application/json; charset=utf-8"


def coder_json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(encode(body), status_code=status, headers=headers, media_type=JSON_MEDIA_TYPE)


def empty(status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(b"", status_code=status, headers=headers)

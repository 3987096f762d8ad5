"""The ceiling: a bare Starlette app that serves the fake's own response bodies from memory.

It has the fake's routes of the four measured endpoints (so Starlette matches the
same paths with the same parameters) and holds each body as the JSON document the
fake answered, serialized per request with the fake's own encoder, so that it answers the
very same bytes with the same headers. It checks no token, validates nothing,
keeps no world: whatever the fake costs beyond this is the fake's.

    python bench/bare_app.py --bodies bodies.json --port 8081

`bodies.json` maps "list", "one" and "create" to the fake's response bodies
(as text); bench/run.py captures them from a running fake first.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fakeserver.wire import json_bytes

JSON_MEDIA_TYPE = "application/json; charset=utf-8"  # what fakeserver.responses sends


def dumps(document: Any) -> bytes:
    """The fake's serialization, done afresh (coderd's: Go's HTML escapes, a trailing newline)."""
    return json_bytes(document) + b"\n"


def build_app(bodies: dict[str, str]) -> Starlette:
    documents = {name: json.loads(text) for name, text in bodies.items()}
    for name, text in bodies.items():  # a round trip must give the fake's bytes back, or the comparison is off
        if dumps(documents[name]) != text.encode("utf-8"):
            raise ValueError(f"the {name!r} body does not serialize back to the same bytes")

    async def list_tasks(request: Request) -> Response:
        return Response(dumps(documents["list"]), media_type=JSON_MEDIA_TYPE)

    async def get_task(request: Request) -> Response:
        return Response(dumps(documents["one"]), media_type=JSON_MEDIA_TYPE)

    async def create_task(request: Request) -> Response:
        await request.body()
        return Response(dumps(documents["create"]), status_code=201, media_type=JSON_MEDIA_TYPE)

    async def send_input(request: Request) -> Response:
        await request.body()
        return Response(b"", status_code=204)

    return Starlette(
        routes=[
            Route("/api/v2/tasks", list_tasks, methods=["GET"]),
            Route("/api/v2/tasks/{user}", create_task, methods=["POST"]),
            Route("/api/v2/tasks/{user}/{task}", get_task, methods=["GET"]),
            Route("/api/v2/tasks/{user}/{task}/send", send_input, methods=["POST"]),
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bodies", type=Path, required=True, help="JSON file: {list, one, create} -> body text")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    app = build_app(json.loads(args.bodies.read_text(encoding="utf-8")))
    # The same server settings as `fakeserver serve`, with the loop and parser named rather than picked.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        server_header=False,
        loop="uvloop",
        http="httptools",
    )


if __name__ == "__main__":
    main()

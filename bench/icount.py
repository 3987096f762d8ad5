"""Section 5 (opt-in, `--sections icount`): instructions per request, counted by valgrind's callgrind.

Each endpoint's request is sent straight to the app's ASGI callable (`bench/workers.py asgi-drive`:
no server, no socket, a manual clock) on the throughput world, by the fake with validation on and
off and by the bare app serving the fake's bytes. The fake is the app `fakeserver serve` serves
(its worlds, its Host check, its cycle collector settings), so every layer a served request
passes in the fake's own code is counted. A process is counted twice, after a few requests
and after `requests` more, so that start-up (imports, the spec, the world) cancels out.

At the default 1,000 requests a count is the same to within about 1% from run to run whatever
else the machine does (with a few dozen, one pass of the cycle collector shows), where the
wall-clock ratios of section 1 move by several percent: this section tells whether a change made
the fake do less. It is no ratio to the ceiling: the bare app's instructions are mostly orjson's
(tight C loops, re-encoding each body), the fake's the interpreter's (its Python calls reach
cold memory), so a GET of the fake takes fewer instructions than the bare app's and more time.
Compare the fake's counts before and after a change.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message

from bench import worlds
from bench.common import Answer, BenchError, python_command
from bench.throughput import ENDPOINTS as HTTP_ENDPOINTS
from bench.throughput import SEND_BODY, create_body

SERVERS = ("bare", "fake", "fake-novalidate")
ENDPOINTS = tuple(endpoint.key for endpoint in HTTP_ENDPOINTS)  # section 1's requests, the same bodies
BY_KEY = {endpoint.key: endpoint for endpoint in HTTP_ENDPOINTS}
WARM_REQUESTS = 50  # in both counts of a process: what they share cancels out
WORKERS = str(Path(__file__).with_name("workers.py"))
COLLECTED = re.compile(r"Collected : ([\d,]+)")


async def call(app: ASGIApp, endpoint: str, index: int) -> Answer:
    """One request of `endpoint` as uvicorn would hand it over (the headers wrk sends)."""
    method, path = BY_KEY[endpoint].method, BY_KEY[endpoint].path
    body = create_body(str(index)) if endpoint == "create" else SEND_BODY if endpoint == "send" else b""
    headers = [(b"host", b"127.0.0.1:8080"), (b"coder-session-token", worlds.TOKEN.encode())]
    if method == "POST":
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": method,
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "state": {},
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    headers_sent = {name.decode("latin-1"): value.decode("latin-1") for name, value in sent[0]["headers"]}
    return Answer(sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:]), headers_sent)


def instructions(fixture: Path, server: str, endpoint: str, requests: int) -> int:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        *python_command(WORKERS, "asgi-drive", "--fixtures", str(fixture), "--server", server),
        *("--endpoint", endpoint, "--requests", str(requests)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    found = COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise BenchError(f"callgrind of {server} {endpoint} failed: {done.stdout[-300:]}{done.stderr[-600:]}")
    return int(found.group(1).replace(",", ""))


def per_request(fixture: Path, server: str, endpoint: str, requests: int) -> float:
    small = instructions(fixture, server, endpoint, WARM_REQUESTS)
    large = instructions(fixture, server, endpoint, WARM_REQUESTS + requests)
    return (large - small) / requests


def run_section(requests: int, progress: Any) -> dict[str, Any]:
    if shutil.which("valgrind") is None:
        raise BenchError("section icount needs valgrind (apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="bench-icount-") as directory:
        fixture = worlds.write(Path(directory), "throughput-world.yaml", worlds.throughput_world())
        cases = [(endpoint, server) for endpoint in ENDPOINTS for server in SERVERS]
        with ThreadPoolExecutor(max_workers=2) as pool:  # each count is one core's work
            counts = list(pool.map(lambda case: per_request(fixture, case[1], case[0], requests), cases))
    by_endpoint: dict[str, dict[str, float]] = {endpoint: {} for endpoint in ENDPOINTS}
    for (endpoint, server), count in zip(cases, counts, strict=True):
        by_endpoint[endpoint][server] = count
        progress(f"icount: {endpoint:<6} {server:<15} {count:>10,.0f} instructions per request")
    return {"requests": requests, "instructions_per_request": by_endpoint}


def render(section: dict[str, Any]) -> list[str]:
    out = [
        "",
        f"5. Instructions per request (callgrind, {section['requests']} requests straight to each app's ASGI callable,"
        " manual clock)",
        f"   {'endpoint':<8} {'bare':>10} {'fake on':>10} {'fake off':>10}",
    ]
    for endpoint in ENDPOINTS:
        counts = section["instructions_per_request"][endpoint]
        out.append(
            f"   {endpoint:<8} {counts['bare']:>10,.0f} {counts['fake']:>10,.0f} {counts['fake-novalidate']:>10,.0f}"
        )
    out.append(
        "   steady to ~1% between runs at 1,000 requests: compare the fake's counts before and after a change"
        " (not with bare's)"
    )
    return out

"""Hostile clients over a real socket: slow or endless bodies, bodies for a refused caller,
clients that go away, and a bug in the fake, each answered without harm to anyone else."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from conftest import AI_VERSION_ID, JSON_TYPE
from served import Served, eventually, serve

from fakeserver.fake import FakeCoder
from fakeserver.frontdoor import FrontDoor
from fakeserver.handlers import API_HANDLERS
from fakeserver.routing import Call, Reply
from fakeserver.server import FakeServer

CREATE = "/api/v2/tasks/me"


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve("--clock", "manual", "--body-timeout", "1") as server:
        yield server


def connect(served: Served) -> socket.socket:
    host, port = served.url.removeprefix("http://").rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=10)


def send_head(sock: socket.socket, path: str, headers: dict[str, str]) -> None:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{name}: {value}" for name, value in headers.items())]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())


def read_response(sock: socket.socket) -> tuple[int, str]:
    """The status and body of one response (the server closes or sends Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(head.split(b" ", 2)[1]), body[:length].decode()


def serves(served: Served) -> bool:
    with served.client("alice-token") as alice:
        return alice.get("/api/v2/tasks").status_code == 200


def test_a_body_that_never_arrives_gets_408_and_the_server_goes_on(served: Served) -> None:
    with connect(served) as sock:
        send_head(sock, CREATE, {"Coder-Session-Token": "alice-token", "Content-Length": "1000"})
        sock.sendall(b'{"input":')
        started = time.monotonic()
        status, body = read_response(sock)
        assert status == 408, body
        assert 0.9 < time.monotonic() - started < 5
        assert json.loads(body)["message"] == "Timed out reading the request body."
    assert serves(served)


def test_a_refused_caller_is_answered_before_its_body_is_sent(served: Served) -> None:
    """100 MiB announced, a few bytes sent: the 401 comes at once; the rest is never read."""
    with connect(served) as sock:
        send_head(sock, CREATE, {"Content-Length": str(100 * 1024 * 1024), "Content-Type": "application/json"})
        sock.sendall(b'{"input":"')
        status, body = read_response(sock)
        assert status == 401, body
    assert serves(served)


def test_an_announced_body_over_the_limit_is_refused_without_reading_it_all(served: Served) -> None:
    with connect(served) as sock:
        send_head(sock, CREATE, {"Coder-Session-Token": "alice-token", "Content-Length": str(100 * 1024 * 1024)})
        sock.sendall(b"x" * (5 * 1024 * 1024))  # past the 4 MiB the fake reads
        status, body = read_response(sock)
        assert status == 413, body
    assert serves(served)


def test_a_client_that_goes_away_mid_body_leaves_one_line_in_the_log(served: Served) -> None:
    with connect(served) as sock:
        send_head(sock, CREATE, {"Coder-Session-Token": "alice-token", "Content-Length": "1000"})
        sock.sendall(b'{"input":')
    assert eventually(lambda: "went away before its body arrived" in served.stderr(), 5)
    assert "Traceback" not in served.stderr()
    assert serves(served)


@pytest.mark.parametrize("origin", [None, "http://localhost:5173"])  # a client's call, a page's
def test_a_bug_in_the_fake_answers_500_in_coders_envelope(monkeypatch: pytest.MonkeyPatch, origin: str | None) -> None:
    def broken(call: Call) -> Reply:
        raise RuntimeError("a bug")

    monkeypatch.setitem(API_HANDLERS, "listTasks", broken)
    fake = FakeCoder()
    with FakeServer(fake) as server:
        headers = {"Coder-Session-Token": "alice-token"} | ({"Origin": origin} if origin else {})
        response = httpx.get(f"{server.url}/api/v2/tasks", headers=headers)
        assert response.status_code == 500
        assert response.headers["content-type"] == JSON_TYPE
        assert response.json() == {"message": "An internal error occurred in the fake.", "detail": "RuntimeError"}
        # as every answer: coderd's headers, and for a page CORS's, so that the page can read the error
        assert response.headers["x-coder-build-version"] == fake.world.release.version
        assert response.headers.get("access-control-allow-origin") == origin
        assert "date" in response.headers
        created = httpx.post(
            f"{server.url}{CREATE}",
            json={"template_version_id": AI_VERSION_ID, "input": "Still here"},
            headers={"Coder-Session-Token": "alice-token"},
        )
        assert created.status_code == 201


def test_a_bug_in_the_front_door_itself_answers_500_in_coders_envelope(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(scope: object) -> None:
        raise RuntimeError("a bug")

    fake = FakeCoder()
    with FakeServer(fake) as server:
        front_door = fake.app.middleware_stack
        assert isinstance(front_door, FrontDoor)
        monkeypatch.setattr(front_door.app, "operation", broken)  # where the front door finds a client's call
        tasks, alice = f"{server.url}/api/v2/tasks", {"Coder-Session-Token": "alice-token"}
        response = httpx.get(tasks, headers=alice)
        assert response.status_code == 500
        assert response.json() == {"message": "An internal error occurred in the fake.", "detail": "RuntimeError"}
        assert response.headers["x-coder-build-version"] == fake.world.release.version
        monkeypatch.undo()
        assert httpx.get(tasks, headers=alice).status_code == 200


def test_in_process_a_bug_raises_in_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(call: Call) -> Reply:
        raise RuntimeError("a bug")

    monkeypatch.setitem(API_HANDLERS, "listTasks", broken)
    with FakeCoder().client("alice") as alice, pytest.raises(RuntimeError, match="a bug"):
        alice.get("/api/v2/tasks")

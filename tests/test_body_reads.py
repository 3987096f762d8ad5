"""Body reads share one timer per fake (bodies.BodyReads): each stalled read is still ended at its
own deadline, however many reads come and go meanwhile, and only a stall is answered 408.

Driven as an ASGI server drives the app, with bodies that arrive when the test says."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from conftest import AI_VERSION_ID, http_scope
from starlette.types import Message

from fakeserver.fake import FakeCoder
from fakeserver.server import FakeServer

TIMEOUT = 0.3
CREATE = "/api/v2/tasks/me"
GIVE_UP = 5.0  # seconds: a read the timer never ends fails the test rather than hanging it


class Client:
    """One request: its body parts are handed over as the test releases them."""

    def __init__(self, fake: FakeCoder, body: bytes) -> None:
        self.fake = fake
        self.parts: asyncio.Queue[Message] = asyncio.Queue()
        self.sent: list[Message] = []
        self.length = len(body)

    def give(self, part: bytes, more: bool) -> None:
        self.parts.put_nowait({"type": "http.request", "body": part, "more_body": more})

    async def receive(self) -> Message:
        return await self.parts.get()

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    async def run(self) -> tuple[int, Any, float]:
        """The status and decoded body of the answer, and how long it took."""
        headers = [
            (b"host", b"127.0.0.1"),
            (b"coder-session-token", self.fake.token("alice").encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(self.length).encode()),
        ]
        scope = http_scope("POST", CREATE, headers)
        started = time.monotonic()
        await self.fake.app(scope, self.receive, self.send)
        took = time.monotonic() - started
        status = next(m["status"] for m in self.sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")
        return status, json.loads(body) if body else None, took


def create_body(text: str) -> bytes:
    return json.dumps({"template_version_id": AI_VERSION_ID, "input": text}).encode()


@pytest.fixture
def fake() -> FakeCoder:
    return FakeCoder(body_timeout=TIMEOUT)


def test_a_stalled_body_is_answered_408_at_its_deadline(fake: FakeCoder) -> None:
    async def scenario() -> tuple[int, Any, float]:
        body = create_body("never finished")
        client = Client(fake, body)
        client.give(body[:10], more=True)
        return await asyncio.wait_for(client.run(), GIVE_UP)

    status, body, took = asyncio.run(scenario())
    assert status == 408
    assert body["message"] == "Timed out reading the request body."
    assert body["detail"] == f"the body did not arrive within {TIMEOUT:g} s."
    assert TIMEOUT * 0.9 < took < TIMEOUT + 1


def test_each_stalled_read_ends_at_its_own_deadline_while_others_come_and_go(fake: FakeCoder) -> None:
    async def scenario() -> list[tuple[int, Any, float]]:
        stalled = []
        for index in range(2):
            body = create_body(f"stalled {index}")
            client = Client(fake, body)
            client.give(body[:5], more=True)
            stalled.append(asyncio.create_task(client.run()))
            for burst in range(20):  # whole bodies meanwhile, read at once
                quick = create_body(f"quick {index}-{burst}")
                done = Client(fake, quick)
                done.give(quick, more=False)
                status, _, _ = await done.run()
                assert status == 201
            await asyncio.sleep(TIMEOUT / 2)
        return list(await asyncio.wait_for(asyncio.gather(*stalled), GIVE_UP))  # a read never ended fails

    started = time.monotonic()
    (first, second) = asyncio.run(scenario())
    total = time.monotonic() - started
    assert first[0] == second[0] == 408
    assert TIMEOUT * 0.9 < first[2] < TIMEOUT + 1
    assert TIMEOUT * 0.9 < second[2] < TIMEOUT + 1
    assert total < 3 * TIMEOUT + 1  # ended in turn, not one after the other's wait


def test_a_body_that_arrives_in_parts_in_time_is_read_whole(fake: FakeCoder) -> None:
    async def scenario() -> tuple[int, Any, float]:
        body = create_body("arrives slowly but in time")
        client = Client(fake, body)
        task = asyncio.create_task(client.run())
        for start in range(0, len(body), 20):
            await asyncio.sleep(TIMEOUT / 20)
            client.give(body[start : start + 20], more=start + 20 < len(body))
        return await task

    status, body, _ = asyncio.run(scenario())
    assert status == 201
    assert body["initial_prompt"] == "arrives slowly but in time"


def test_a_read_cancelled_from_outside_is_cancelled_not_answered(fake: FakeCoder) -> None:
    """A server that gives up on a request (shutting down) cancels it: that stays a cancellation."""

    async def scenario() -> Client:
        body = create_body("cancelled")
        client = Client(fake, body)
        client.give(body[:5], more=True)
        task = asyncio.create_task(client.run())
        await asyncio.sleep(TIMEOUT / 3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return client

    client = asyncio.run(scenario())
    assert client.sent == []


def test_the_timer_works_on_each_event_loop_the_fake_is_used_on(fake: FakeCoder) -> None:
    """A fake outlives the event loop of each test (each asyncio.run is a new loop)."""

    async def scenario() -> int:
        body = create_body("on a new loop")
        client = Client(fake, body)
        client.give(body[:5], more=True)
        status, _, _ = await asyncio.wait_for(client.run(), GIVE_UP)
        return status

    assert [asyncio.run(scenario()) for _ in range(2)] == [408, 408]


def test_reads_on_a_served_loop_and_an_in_process_loop_each_end_on_time(fake: FakeCoder) -> None:
    """A served fake's loop runs in a thread of its own while a test reads in process on another:
    each loop's stalled read is ended at its own deadline."""

    def stall_over_a_socket(url: str) -> tuple[int, float]:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            head = (
                f"POST {CREATE} HTTP/1.1\r\nHost: {host}\r\nCoder-Session-Token: {fake.token('alice')}\r\n"
                "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
            )
            sock.sendall(head.encode() + b'{"input":')
            started = time.monotonic()
            status = int(sock.recv(65536).split(b" ", 2)[1])
            return status, time.monotonic() - started

    async def stall_in_process() -> tuple[int, float]:
        body = create_body("stalled in process")
        client = Client(fake, body)
        client.give(body[:5], more=True)
        status, _, took = await asyncio.wait_for(client.run(), GIVE_UP)
        return status, took

    with FakeServer(fake) as server, ThreadPoolExecutor(1) as pool:
        served = pool.submit(stall_over_a_socket, server.url)
        time.sleep(TIMEOUT / 3)  # the served read is watched first, on its own loop
        in_process = asyncio.run(stall_in_process())
        served_status, served_took = served.result(timeout=GIVE_UP)
    assert (served_status, in_process[0]) == (408, 408)
    assert TIMEOUT * 0.9 < served_took < TIMEOUT + 1
    assert TIMEOUT * 0.9 < in_process[1] < TIMEOUT + 1

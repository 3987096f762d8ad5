"""Serve a `FakeCoder` over real HTTP from a background thread, for clients that need a URL.

    with FakeServer(FakeCoder()) as server:
        subprocess.run(["my-cli", "--url", server.url, ...])

The server binds its socket itself (port 0 by default: the OS picks a free
port, so parallel test workers never collide) and only then hands it to
uvicorn, so `url` is known and connectable as soon as `start()` returns.
Requests are handled on the server's thread while the test drives the same
fake from its own; `FakeCoder.lock` keeps the two apart.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING

from fakeserver.guard import trusted_hosts

if TYPE_CHECKING:
    import uvicorn
    from starlette.types import ASGIApp

    from fakeserver.fake import FakeCoder

START_TIMEOUT = 10.0  # seconds; uvicorn starts in milliseconds, this only bounds a broken start
STOP_TIMEOUT = 5.0

# A build's logs with `?follow` are a WebSocket (streams.py); websockets' sans-I/O protocol is the one
# uvicorn implementation that raises no deprecation warnings.
WEBSOCKETS = "websockets-sansio"


class FakeServerError(RuntimeError):
    """The server could not start or stop."""


class FakeServer:
    def __init__(self, fake: FakeCoder, host: str = "127.0.0.1", port: int = 0, app: ASGIApp | None = None) -> None:
        self.fake = fake
        self.app = app if app is not None else fake.app  # e.g. a WorldsApp around this fake
        self.host = host
        self.port = port  # the real port once started
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. `http://127.0.0.1:54321` (no trailing slash)."""
        if not self.running:
            raise FakeServerError("the server is not running; call start() first")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> FakeServer:
        import uvicorn  # here: the pytest plugin imports this module in every run, served or not

        if self._thread is not None:
            raise FakeServerError("the server is already started")
        sock = listening_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        if self.fake.allowed_hosts is None:  # served: answer only to loopback names (guard.py)
            self.fake.allowed_hosts = trusted_hosts(self.host)
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            ws=WEBSOCKETS,
            log_config=None,  # leave the process's logging configuration alone
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
            date_header=False,  # the app writes Date from the fake's clock (headers.py)
            server_header=False,  # coderd (Go's net/http) sends no Server header
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, args=(sock,), name=f"fakeserver:{self.port}", daemon=True)
        self._thread.start()
        self._wait_started()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(STOP_TIMEOUT)
        if thread.is_alive():  # a client holds a connection open: stop waiting for it
            server.force_exit = True
            thread.join(STOP_TIMEOUT)
        self._server = self._thread = None
        if thread.is_alive():
            raise FakeServerError(f"the server on port {self.port} did not stop within {2 * STOP_TIMEOUT:g} s")

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def _serve(self, sock: socket.socket) -> None:
        assert self._server is not None
        try:
            self._server.run(sockets=[sock])
        except BaseException as error:  # reported by start(); a thread's exception would otherwise vanish
            self._error = error
        finally:
            sock.close()

    def _wait_started(self) -> None:
        assert self._server is not None and self._thread is not None
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                reason = f": {self._error!r}" if self._error is not None else ""
                raise FakeServerError(f"the server on {self.host}:{self.port} did not start{reason}")
            time.sleep(0.001)


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock

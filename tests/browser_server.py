"""Run `fakeserver serve` in a subprocess on a free loopback port, as a developer would (for the
browser and --reload tests)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

STARTUP_TIMEOUT = 20.0


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def output(self) -> str:
        return self.stdout.read_text(encoding="utf-8") + self.stderr.read_text(encoding="utf-8")

    def errors(self) -> str:
        return self.stderr.read_text(encoding="utf-8")

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Coder-Session-Token": token} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10.0)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serve(directory: Path, *args: str) -> Iterator[Served]:
    """`fakeserver serve --host 127.0.0.1 --port <free> ARGS...`, run in `directory` until the block ends."""
    for attempt in range(3):  # another process may take the free port before the server binds it
        served = start(directory, attempt, args)
        try:
            if wait_until_ready(served):
                yield served
                return
        finally:
            stop(served)
    raise AssertionError(f"fakeserver serve did not start:\n{served.output()}")


def start(directory: Path, attempt: int, args: tuple[str, ...]) -> Served:
    port = free_port()
    stdout, stderr = directory / f"serve-{attempt}.out", directory / f"serve-{attempt}.err"
    command = [sys.executable, "-m", "fakeserver", "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(command, cwd=directory, stdout=out, stderr=err)
    return Served(f"http://127.0.0.1:{port}", process, stdout, stderr)


def wait_until_ready(served: Served) -> bool:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            return False
        try:
            if httpx.get(f"{served.url}/__fake__/clock", timeout=1.0).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    return False


def stop(served: Served) -> None:
    if served.process.poll() is None:
        served.process.terminate()
        try:
            served.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            served.process.kill()
            served.process.wait()


def eventually(check: Callable[[], bool], timeout: float = 10.0, interval: float = 0.05) -> bool:
    """Whether `check()` becomes true within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()

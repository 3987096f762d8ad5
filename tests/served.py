"""Run `fakeserver serve` in a subprocess, as a developer would, for the tests that need a real process.

    with serve("--clock", "manual", cwd=tmp_path) as served:
        httpx.get(f"{served.url}/api/v2/tasks", headers={"Coder-Session-Token": "alice-token"})

The server is started with `--port 0`: it binds the socket itself and names the port it got in the first
line of its banner. Picking a free port here and handing it over would race with other xdist workers.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import httpx

STARTUP_TIMEOUT = 30.0  # seconds; a cold interpreter under a busy test run imports the package and parses the specs
STOP_TIMEOUT = 10.0
PYTHON_FAKESERVER = (sys.executable, "-m", "fakeserver")
BANNER = re.compile(r"fakeserver: a fake Coder Tasks API on (?P<url>http://\S+)")


class Served:
    """A running `fakeserver serve`: its URL, its process, and what it has printed so far.

    Its output goes to files rather than pipes: nothing to drain, and whatever the server flushed before
    answering a request is there to read once the answer has come.
    """

    def __init__(self, process: subprocess.Popen[bytes], logs: Path) -> None:
        self.process = process
        self.url = ""  # known once the banner is read
        self._files = {"stdout": logs / "stdout", "stderr": logs / "stderr"}
        self._final: dict[str, str] | None = None  # all it printed, once stopped

    def stdout(self) -> str:
        return self._read("stdout")

    def stderr(self) -> str:
        return self._read("stderr")

    def output(self) -> str:
        return self.stdout() + self.stderr()

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Coder-Session-Token": token} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10.0)

    def control_client(self) -> httpx.Client:
        """For the control plane: JSON on every write, as it requires."""
        return httpx.Client(base_url=self.url, headers={"Content-Type": "application/json"}, timeout=10.0)

    def stop(self) -> str:
        """Terminate the server (kill it if it lingers) and give all it printed. Stopping twice is harmless."""
        if self._final is None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self._final = {name: self._read(name) for name in self._files}
        return self.output()

    def wait_until_ready(self) -> None:
        """Learn the URL from the banner's first line, then wait until the server answers there."""
        if not eventually(lambda: "\n" in self.stdout() or self._exited(), STARTUP_TIMEOUT):
            self._fail(f"printed nothing within {STARTUP_TIMEOUT:g} s")
        match = BANNER.fullmatch(self.stdout().partition("\n")[0])
        if match is None:
            self._fail("printed no banner")
        self.url = match["url"]
        if not eventually(lambda: self._answers() or self._exited(), STARTUP_TIMEOUT) or self._exited():
            self._fail(f"did not answer on {self.url} within {STARTUP_TIMEOUT:g} s")

    def _read(self, name: str) -> str:
        if self._final is not None:
            return self._final[name]
        return self._files[name].read_bytes().decode("utf-8", errors="replace")

    def _exited(self) -> bool:
        return self.process.poll() is not None

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/__fake__/clock", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    def _fail(self, what: str) -> NoReturn:
        state = f"exit code {self.process.returncode}" if self._exited() else "still running"
        output = self.stop()
        raise AssertionError(f"fakeserver serve {what} ({state}):\n{output}")


@contextmanager
def serve(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    command: Sequence[str] = PYTHON_FAKESERVER,
) -> Iterator[Served]:
    """`<command> serve --host 127.0.0.1 --port 0 ARGS...` until the block ends; then `Served` holds all it printed.

    `command` is how to run fakeserver (default: this interpreter's `-m fakeserver`); `env` adds variables
    to this process's environment.
    """
    with tempfile.TemporaryDirectory(prefix="fakeserver-serve-") as directory:
        logs = Path(directory)
        with (logs / "stdout").open("wb") as stdout, (logs / "stderr").open("wb") as stderr:
            process = subprocess.Popen(
                [*command, "serve", "--host", "127.0.0.1", "--port", "0", *args],
                cwd=cwd,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},  # what it prints shows at once
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
            )
        served = Served(process, logs)
        try:
            served.wait_until_ready()
            yield served
        finally:
            served.stop()


def eventually(check: Callable[[], bool], timeout: float = 10.0, interval: float = 0.05) -> bool:
    """Whether `check()` becomes true within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()

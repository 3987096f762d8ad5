"""What every section of the benchmark shares: servers as subprocesses, HTTP probes, statistics, memory."""

from __future__ import annotations

import atexit
import http.client
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
HOST = "127.0.0.1"  # loopback only: nothing here ever talks to another machine
TOKEN_HEADER = "Coder-Session-Token"


class BenchError(Exception):
    """The benchmark could not measure something (a server that did not start, a wrong answer)."""


# statistics


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (no interpolation): a latency that was actually observed."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p90, p99 and min of a list of durations, in milliseconds."""
    millis = [s * 1000 for s in seconds]
    return {
        "p50_ms": percentile(millis, 0.5),
        "p90_ms": percentile(millis, 0.9),
        "p99_ms": percentile(millis, 0.99),
        "min_ms": min(millis) if millis else float("nan"),
        "n": len(millis),
    }


# processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


_live: set[subprocess.Popen[bytes]] = set()


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate one server we started (by its own pid), then kill it if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    _live.discard(process)


@atexit.register
def _stop_all() -> None:
    for process in list(_live):
        _stop(process)


@dataclass
class Server:
    """A server subprocess on a loopback port; `started` is its launch time (perf_counter)."""

    process: subprocess.Popen[bytes]
    port: int
    started: float
    log: Path
    ready_after: float = float("nan")  # seconds from launch to its first answered request
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@contextmanager
def running(
    command: Sequence[str],
    port: int,
    ready_path: str,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
    env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """Start `command` (which listens on `port`), wait for its first answer, always stop it afterwards."""
    log = Path(tempfile.mkstemp(prefix="bench-server-", suffix=".log")[1])
    with log.open("wb") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command), stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=REPO
        )
    _live.add(process)
    server = Server(process, port, started, log)
    try:
        server.ready_after = wait_for_answer(server, ready_path, headers or {}, timeout)
        yield server
    finally:
        _stop(process)
        log.unlink(missing_ok=True)


def wait_for_answer(server: Server, path: str, headers: dict[str, str], timeout: float) -> float:
    """Poll until the server answers `path` (any HTTP status); the seconds since launch."""
    deadline = server.started + timeout
    while True:
        if server.process.poll() is not None:
            raise BenchError(f"server exited with {server.process.returncode}:\n{server.output()}")
        try:
            connection = http.client.HTTPConnection(HOST, server.port, timeout=timeout)
            connection.request("GET", path, headers=headers)
            connection.getresponse().read()
            connection.close()
            return time.perf_counter() - server.started
        except OSError:
            if time.perf_counter() > deadline:
                raise BenchError(f"server did not answer within {timeout:g} s:\n{server.output()}") from None
            time.sleep(0.002)


def python_command(*args: str) -> list[str]:
    return [sys.executable, *args]


def fake_command(port: int, fixtures: Path | None, *, validate: bool = True, clock: str = "real") -> list[str]:
    """`fakeserver serve` exactly as a user runs it (uvicorn.run with its defaults)."""
    command = python_command("-m", "fakeserver", "serve", "--host", HOST, "--port", str(port), "--clock", clock)
    if fixtures is not None:
        command += ["--fixtures", str(fixtures)]
    if not validate:
        command.append("--no-validate-responses")
    return command


# HTTP


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]


class Connection:
    """One keep-alive HTTP/1.1 connection, as a UI or an SDK holds it."""

    def __init__(self, port: int, headers: dict[str, str] | None = None, timeout: float = 600.0) -> None:
        self._connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
        self._headers = headers or {}

    def request(self, method: str, path: str, body: bytes | None = None) -> Answer:
        headers = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        self._connection.request(method, path, body=body, headers=headers)
        response = self._connection.getresponse()
        content = response.read()
        return Answer(response.status, content, {k.lower(): v for k, v in response.getheaders()})

    def close(self) -> None:
        self._connection.close()


# memory


def proc_status_kib(pid: int, key: str) -> int:
    """A `VmRSS`/`VmHWM` line of /proc/<pid>/status, in KiB (0 where /proc is missing)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (from /proc/<pid>/stat; NaN where it is missing).

    Unlike wall-clock rates, this barely moves when other processes compete for the
    cores, which on a shared 2-core machine makes it the steadier figure.
    """
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return float("nan")
    fields = text.rsplit(")", 1)[1].split()  # after "pid (comm)": field 3 is fields[0]
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loaded_libraries(pid: int, names: Sequence[str]) -> dict[str, bool]:
    """Which of `names` appear among the shared objects mapped into a process (e.g. uvloop, httptools)."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return {name: False for name in names}
    return {name: f"/{name}/" in maps for name in names}


def machine() -> dict[str, object]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {"cpus": os.cpu_count(), "loadavg_at_start": [round(x, 2) for x in load], "python": sys.version.split()[0]}

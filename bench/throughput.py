"""Section 1: throughput and latency over HTTP, the fake beside a bare Starlette app serving the same bytes.

Every run gets a fresh server process (so the world of each run starts the
same), a short warm-up, then one wrk run (1 thread, 16 connections). The
three servers take turns in a rotating order and the whole set is repeated;
the report quotes medians, and each ratio is the median of the per-round
ratios (fake ÷ bare of the same round, measured a few seconds apart).

Beside wrk's figures, each run records the server's own CPU time per request
(from /proc): on a shared machine, other processes steal wall-clock time from
both wrk and the server, but hardly change the CPU a request costs, so the
CPU ratio (bare's CPU per request ÷ the fake's) is the steadier comparison.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import loadgen, worlds
from bench.common import (
    HOST,
    TOKEN_HEADER,
    BenchError,
    Connection,
    Server,
    cpu_seconds,
    fake_command,
    free_port,
    loaded_libraries,
    median,
    proc_status_kib,
    python_command,
    running,
)


@dataclass(frozen=True)
class Endpoint:
    key: str
    label: str
    method: str
    path: str
    status: int
    script: str | None = None  # a wrk Lua script (loadgen), for POSTs


ENDPOINTS = (
    Endpoint("list", "GET list", "GET", "/api/v2/tasks", 200),
    Endpoint("one", "GET one", "GET", f"/api/v2/tasks/me/{worlds.ONE_TASK_ID}", 200),
    Endpoint("create", "POST create", "POST", "/api/v2/tasks/me", 201, "create"),
    Endpoint("send", "POST send", "POST", f"/api/v2/tasks/me/{worlds.SEND_TASK_ID}/send", 204, "send"),
)
SERVERS = ("bare", "fake", "fake-novalidate")
SERVER_LABELS = {"bare": "bare Starlette", "fake": "fake, validation on", "fake-novalidate": "fake, validation off"}
READY_PATH = f"/api/v2/tasks/me/{worlds.ONE_TASK_ID}"
LIBRARIES = ("uvloop", "httptools")


def create_body(counter: str) -> bytes:
    return json.dumps(
        {"template_version_id": worlds.TEMPLATE_VERSION_ID, "input": f"Benchmark task {counter}"}
    ).encode()


SEND_BODY = b'{"input":"Carry on with the next step."}'


def request_once(connection: Connection, endpoint: Endpoint, counter: str) -> Any:
    body = create_body(counter) if endpoint.key == "create" else SEND_BODY if endpoint.key == "send" else None
    answer = connection.request(endpoint.method, endpoint.path, body)
    if answer.status != endpoint.status:
        raise BenchError(f"{endpoint.label} answered {answer.status}, not {endpoint.status}: {answer.body[:300]!r}")
    return answer


class Throughput:
    def __init__(self, workdir: Path, wrk: str, duration: float, rounds: int, warmup: int) -> None:
        self.workdir = workdir
        self.wrk = wrk
        self.duration = duration
        self.rounds = rounds
        self.warmup = warmup
        self.fixture = worlds.write(workdir, "throughput-world.yaml", worlds.throughput_world())
        self.scripts = {
            "create": loadgen.write_script(
                workdir, "create.lua", loadgen.CREATE_SCRIPT.replace("%s", worlds.TEMPLATE_VERSION_ID)
            ),
            "send": loadgen.write_script(workdir, "send.lua", loadgen.SEND_SCRIPT),
        }
        self.bodies_path = workdir / "bodies.json"
        self.bodies: dict[str, bytes] = {}
        self.checks: dict[str, Any] = {}

    # servers

    def command(self, server: str, port: int) -> list[str]:
        if server == "bare":
            bare = str(Path(__file__).with_name("bare_app.py"))
            return python_command(bare, "--bodies", str(self.bodies_path), "--port", str(port))
        return fake_command(port, self.fixture, validate=server == "fake")

    def start(self, server: str) -> Any:
        port = free_port()
        return running(self.command(server, port), port, READY_PATH, {TOKEN_HEADER: worlds.TOKEN})

    # capture: the fake's bodies, which the bare app then serves

    def capture(self) -> None:
        with self.start("fake") as fake:
            connection = Connection(fake.port, {TOKEN_HEADER: worlds.TOKEN})
            answers = {e.key: request_once(connection, e, "capture") for e in ENDPOINTS}
            connection.close()
            self.checks["fake_serve_libraries"] = loaded_libraries(fake.pid, LIBRARIES)
        self.bodies = {key: answers[key].body for key in ("list", "one", "create")}
        self.checks["list_tasks"] = json.loads(self.bodies["list"])["count"]
        self.checks["body_bytes"] = {key: len(body) for key, body in self.bodies.items()}
        text = {key: body.decode("utf-8") for key, body in self.bodies.items()}
        self.bodies_path.write_text(json.dumps(text), encoding="utf-8")
        with self.start("bare") as bare:
            connection = Connection(bare.port, {TOKEN_HEADER: worlds.TOKEN})
            same = {e.key: request_once(connection, e, "x").body == self.bodies[e.key] for e in ENDPOINTS[:2]}
            connection.close()
            self.checks["bare_libraries"] = loaded_libraries(bare.pid, LIBRARIES)
        if not all(same.values()):
            raise BenchError(f"the bare app does not serve the fake's bytes: {same}")
        self.checks["bare_serves_identical_bytes"] = True

    # one measured run

    def measure(self, server_name: str, endpoint: Endpoint, round_index: int) -> dict[str, Any]:
        with self.start(server_name) as server:
            self.warm_up(server, endpoint, round_index)
            script = self.scripts.get(endpoint.script) if endpoint.script else None
            cpu_before = cpu_seconds(server.pid)
            result = loadgen.run_wrk(
                self.wrk, server.port, endpoint.path, token=worlds.TOKEN, duration=self.duration, script=script
            )
            cpu = cpu_seconds(server.pid) - cpu_before
            run: dict[str, Any] = result.as_dict()
            run["server_cpu_s"] = cpu
            run["cpu_us_per_request"] = cpu * 1e6 / result.requests if result.requests else float("nan")
            run["rss_after_kib"] = proc_status_kib(server.pid, "VmRSS")
        if result.requests and result.non_2xx > 0.01 * result.requests:
            raise BenchError(f"{server_name} {endpoint.label}: {result.non_2xx} of {result.requests} not 2xx")
        return run

    def warm_up(self, server: Server, endpoint: Endpoint, round_index: int) -> None:
        """A few requests first (lazy imports, caches); GETs also check that the bytes are the captured ones."""
        connection = Connection(server.port, {TOKEN_HEADER: worlds.TOKEN})
        for i in range(self.warmup):
            answer = request_once(connection, endpoint, f"warm-up {round_index}-{i}")
            if endpoint.key in ("list", "one") and answer.body != self.bodies[endpoint.key]:
                raise BenchError(f"{server.port}: {endpoint.label} body differs from the captured one")
        connection.close()

    def run(self, progress: Any) -> dict[str, Any]:
        self.capture()
        runs: dict[str, dict[str, list[dict[str, Any]]]] = {e.key: {s: [] for s in SERVERS} for e in ENDPOINTS}
        for round_index in range(self.rounds):
            for endpoint in ENDPOINTS:
                shift = (round_index + ENDPOINTS.index(endpoint)) % len(SERVERS)
                for server_name in SERVERS[shift:] + SERVERS[:shift]:
                    run = self.measure(server_name, endpoint, round_index)
                    runs[endpoint.key][server_name].append(run)
                    progress(
                        f"round {round_index + 1}/{self.rounds} {endpoint.label:<11} {server_name:<15} "
                        f"{run['requests_per_s']:>8.0f} req/s  p50 {run['p50_ms']:.2f} ms  p99 {run['p99_ms']:.2f} ms"
                    )
        return {
            "settings": {
                "duration_s": self.duration,
                "rounds": self.rounds,
                "connections": 16,
                "threads": 1,
                "warmup_requests": self.warmup,
                "host": HOST,
                "clock": "real (fakeserver serve's default)",
                "world": "alice's 10 tasks (bench/worlds.py), timings.agent_reply: 0",
            },
            "checks": self.checks,
            "summary": summarize(runs),
            "runs": runs,
        }


def summarize(runs: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for endpoint in ENDPOINTS:
        by_server = runs[endpoint.key]
        bare = by_server["bare"]
        entry: dict[str, Any] = {}
        for server_name, server_runs in by_server.items():
            ratios = [
                run["requests_per_s"] / base["requests_per_s"] for run, base in zip(server_runs, bare, strict=True)
            ]
            cpu_ratios = [
                base["cpu_us_per_request"] / run["cpu_us_per_request"]
                for run, base in zip(server_runs, bare, strict=True)
            ]
            entry[server_name] = {
                "requests_per_s": median([r["requests_per_s"] for r in server_runs]),
                "cpu_us_per_request": median([r["cpu_us_per_request"] for r in server_runs]),
                "cpu_ratio_to_bare": median(cpu_ratios),
                "p50_ms": median([r["p50_ms"] for r in server_runs]),
                "p99_ms": median([r["p99_ms"] for r in server_runs]),
                "ratio_to_bare": median(ratios),
                "round_ratios": ratios,  # a median of three on a shared machine: the spread says how sure it is
                "requests_per_run": median([r["requests"] for r in server_runs]),
                "rss_after_kib": median([r["rss_after_kib"] for r in server_runs]),
            }
        summary[endpoint.key] = entry
    return summary


def run_section(duration: float, rounds: int, warmup: int, install: bool, progress: Any) -> dict[str, Any]:
    wrk = loadgen.ensure_wrk(install)
    with tempfile.TemporaryDirectory(prefix="bench-http-") as directory:
        result = Throughput(Path(directory), wrk, duration, rounds, warmup).run(progress)
    result["settings"]["wrk"] = loadgen.wrk_version(wrk)
    return result

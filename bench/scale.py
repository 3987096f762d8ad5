"""Section 4: scale. Worlds of 0, 100, 1,000, 10,000 and 100,000 tasks, loaded from generated fixture files.

Each world is loaded by a fresh worker (bench/workers.py scale-serve) that
builds one default fake first (so the spec's one-off parse and compile stay
out of the figures), times reading + checking the file and building the world, measures its own
resident memory (after a garbage collection) before and after, then serves
the world under uvicorn with uvloop and httptools, as `fakeserver serve` does.
GET list is then timed over HTTP, sequentially on one keep-alive connection
(what a UI's request sees): as admin, an owner who sees every task, and as
ann, one of four members, who sees a quarter of them. A world that does not
load within the time limit is reported as such, with how far it got.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import worlds
from bench.common import (
    TOKEN_HEADER,
    BenchError,
    Connection,
    cpu_seconds,
    free_port,
    proc_status_kib,
    python_command,
    running,
    summary_ms,
)

WORKERS = str(Path(__file__).with_name("workers.py"))
READY_PATH = "/__fake__/clock"
VIEWERS = (("admin", worlds.ADMIN_TOKEN), ("member", "ann-token"))


def list_requests(count: int) -> int:
    """Enough sequential requests for a median, fewer as each one gets longer."""
    if count <= 1_000:
        return 30
    if count <= 10_000:
        return 10
    return 3


def time_lists(port: int, pid: int, count: int, budget_s: float) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for viewer, token in VIEWERS:
        connection = Connection(port, {TOKEN_HEADER: token})
        durations: list[float] = []
        deadline = time.perf_counter() + budget_s
        body_bytes = 0
        listed = 0
        cpu_before = cpu_seconds(pid)
        for _ in range(list_requests(count)):
            started = time.perf_counter()
            answer = connection.request("GET", "/api/v2/tasks")
            durations.append(time.perf_counter() - started)
            if answer.status != 200:
                raise BenchError(f"GET list as {viewer} answered {answer.status}: {answer.body[:300]!r}")
            body_bytes = len(answer.body)
            if not listed:
                listed = json.loads(answer.body)["count"]
            if time.perf_counter() > deadline:
                break
        cpu_ms = (cpu_seconds(pid) - cpu_before) * 1000 / len(durations)
        connection.close()
        results[viewer] = {
            **summary_ms(durations),
            "cpu_ms_per_request": cpu_ms,
            "tasks_listed": listed,
            "body_bytes": body_bytes,
        }
    return results


def measure(directory: Path, count: int, load_timeout: float, list_budget: float) -> dict[str, Any]:
    fixture = worlds.write(directory, f"world-{count}.yaml", worlds.scale_world(count))
    report_path = directory / f"report-{count}.json"
    port = free_port()
    command = python_command(
        WORKERS, "scale-serve", "--fixtures", str(fixture), "--port", str(port), "--report", str(report_path)
    )
    result: dict[str, Any] = {"tasks": count, "fixture_bytes": fixture.stat().st_size}
    try:
        with running(command, port, READY_PATH, timeout=load_timeout) as server:
            result.update(json.loads(report_path.read_text()))
            result["first_answer_s"] = server.ready_after
            result["lists"] = time_lists(port, server.pid, count, list_budget)
            result["rss_after_lists_kib"] = proc_status_kib(server.pid, "VmRSS")
            result["rss_peak_kib"] = proc_status_kib(server.pid, "VmHWM")
    except BenchError as error:
        if "did not answer within" not in str(error):
            raise
        if report_path.exists():
            result.update(json.loads(report_path.read_text()))
        result["timed_out_after_s"] = load_timeout
    finally:
        fixture.unlink(missing_ok=True)
    return result


def run_section(sizes: list[int], load_timeout: float, list_budget: float, progress: Any) -> dict[str, Any]:
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as directory:
        for count in [0, *sizes]:
            result = measure(Path(directory), count, load_timeout, list_budget)
            results.append(result)
            progress(describe(result))
    return {"load_timeout_s": load_timeout, "worlds": results, "growth": growth(results)}


def describe(result: dict[str, Any]) -> str:
    head = f"{result['tasks']:>7} tasks: "
    if "timed_out_after_s" in result:
        parsed = f"parse {result['parse_s']:.1f} s, " if "parse_s" in result else ""
        return head + f"{parsed}not loaded within {result['timed_out_after_s']:.0f} s"
    lists = result["lists"]
    return head + (
        f"parse {result['parse_s']:.2f} s, build {result['build_s']:.2f} s, "
        f"RSS {result['rss_loaded_kib'] / 1024:.0f} MiB, "
        f"list p50 admin {lists['admin']['p50_ms']:.1f} ms, member {lists['member']['p50_ms']:.1f} ms"
    )


def growth(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-task memory beyond the empty world, and list time per listed task."""
    empty = next((r for r in results if r["tasks"] == 0 and "rss_loaded_kib" in r), None)
    rows = []
    for result in results:
        if result["tasks"] == 0 or "rss_loaded_kib" not in result or empty is None:
            continue
        count = result["tasks"]
        row: dict[str, Any] = {
            "tasks": count,
            "kib_per_task": (result["rss_loaded_kib"] - empty["rss_loaded_kib"]) / count,
            "load_ms_per_task": (result["parse_s"] + result["build_s"]) * 1000 / count,
        }
        for viewer, figures in result["lists"].items():
            if figures["tasks_listed"]:
                row[f"list_us_per_task_{viewer}"] = figures["p50_ms"] * 1000 / figures["tasks_listed"]
        rows.append(row)
    return rows

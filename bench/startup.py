"""Section 3: start-up. `fakeserver serve` from process start to its first answer, and building the app
from the spec in a fresh interpreter (the first `FakeCoder()` parses and compiles; a later one is cached)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.common import (
    TOKEN_HEADER,
    BenchError,
    fake_command,
    free_port,
    loaded_libraries,
    median,
    python_command,
    running,
)

WORKERS = str(Path(__file__).with_name("workers.py"))


def serve_to_first_answer(repeats: int) -> dict[str, Any]:
    """Launch `python -m fakeserver serve` (default world) and poll every 2 ms until a GET list answers."""
    times: list[float] = []
    libraries: dict[str, bool] = {}
    for _ in range(repeats):
        port = free_port()
        with running(fake_command(port, None), port, "/api/v2/tasks", {TOKEN_HEADER: "alice-token"}) as server:
            times.append(server.ready_after)
            libraries = loaded_libraries(server.pid, ("uvloop", "httptools"))
    return {"median_s": median(times), "runs_s": times, "libraries_loaded": libraries}


def interpreter_start(repeats: int) -> float:
    """`python -c pass`: the part of any start-up that no fake can save."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(python_command("-c", "pass"), check=True)
        times.append(time.perf_counter() - started)
    return median(times)


def build_in_fresh_interpreter(repeats: int) -> dict[str, Any]:
    reports = []
    for _ in range(repeats):
        done = subprocess.run(python_command(WORKERS, "build"), capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise BenchError(f"the build worker failed:\n{done.stderr[-3000:]}")
        reports.append(json.loads(done.stdout.strip().splitlines()[-1]))
    keys = ("import_s", "first_fake_s", "second_fake_s", "first_request_s")
    return {key: median([report[key] for report in reports]) for key in keys} | {"runs": reports}


def run_section(repeats: int) -> dict[str, Any]:
    return {
        "repeats": repeats,
        "python_c_pass_s": interpreter_start(repeats),
        "serve_to_first_answer": serve_to_first_answer(repeats),
        "build": build_in_fresh_interpreter(repeats),
    }

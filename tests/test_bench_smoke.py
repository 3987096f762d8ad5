"""The benchmark still runs: its in-process section, a few iterations, as a user starts it.

This checks that `python bench/run.py` works against the current code, not
how fast anything is: benchmarks measure, tests assert behaviour. The HTTP,
start-up and scale sections (wrk, servers, big worlds) are left to real runs,
and so is callgrind: the instruction-count section's driver runs here plainly.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_in_process_section_runs_and_reports_every_figure(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--sections", "inprocess", "--iterations", "3", "--output", str(output)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    results = json.loads(output.read_text())
    figures = results["inprocess"]
    for key in ("fresh_plus_request", "reset_plus_request", "fresh_only", "reset_only", "request_only"):
        assert figures[key]["n"] == 3
        assert figures[key]["p50_ms"] > 0
    assert {row["target"] for row in results["targets"]} == {
        "fresh FakeCoder() + client + 1 GET list < 1 ms (p50)",
        "fake.reset() + 1 GET list < 0.5 ms (p50)",
    }
    assert "2. In-process cost per test" in done.stdout
    assert "fake.reset() + 1 GET list < 0.5 ms" in done.stdout


def test_hostile_input_benchmark_runs_and_finds_no_server_error(tmp_path: Path) -> None:
    output = tmp_path / "hostile.json"
    done = subprocess.run(
        [sys.executable, "bench/hostile.py", "--quick", "--output", str(output)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(output.read_text())
    (only_round,) = results["rounds"]
    assert len(only_round["statuses"]) == 20
    for name, statuses in only_round["statuses"].items():
        assert not any(status.startswith("5") or status == "0" for status in statuses), (name, statuses)
    assert results["world_works_after"] and results["victim"]["failures"] == 0
    assert results["server_tracebacks"] == 0
    assert "Journal of" in done.stdout


def test_the_instruction_count_driver_runs_every_endpoint_on_every_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Section 5's driver (run under callgrind by the benchmark; here plainly, a few requests each)."""
    monkeypatch.syspath_prepend(str(REPO))
    from bench import icount, worlds

    fixture = worlds.write(tmp_path, "world.yaml", worlds.throughput_world())
    for server in icount.SERVERS:
        for endpoint in icount.ENDPOINTS:
            command = [sys.executable, icount.WORKERS, "asgi-drive", "--fixtures", str(fixture)]
            command += ["--server", server, "--endpoint", endpoint, "--requests", "3"]
            done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, (server, endpoint, done.stderr[-2000:])

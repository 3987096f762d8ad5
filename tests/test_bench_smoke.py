"""The benchmark still runs: its in-process section, a few iterations, as a user starts it.

This checks that `python bench/run.py` works against the current code, not
how fast anything is: benchmarks measure, tests assert behaviour. The HTTP,
start-up and scale sections (wrk, servers, big worlds) are left to real runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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

"""wrk, Debian's HTTP load generator: installing it, scripting its POSTs and reading its report."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.common import HOST, TOKEN_HEADER, BenchError


def ensure_wrk(install: bool = True) -> str:
    """The path of wrk, installing Debian's package first if it is missing (and allowed)."""
    found = shutil.which("wrk")
    if found:
        return found
    if not install:
        raise BenchError("wrk is not installed (apt-get install -y wrk), and --no-install was given")
    apt = ["apt-get", "-o", "DPkg::Lock::Timeout=120"]
    print("bench: installing wrk (apt-get install -y wrk)...", flush=True)
    if subprocess.run([*apt, "install", "-y", "-q", "wrk"], capture_output=True).returncode != 0:
        subprocess.run([*apt, "update", "-q"], capture_output=True, check=False)  # a fresh machine has no lists yet
        done = subprocess.run([*apt, "install", "-y", "-q", "wrk"], capture_output=True, text=True)
        if done.returncode != 0:
            raise BenchError(f"apt-get install -y wrk failed:\n{done.stderr[-2000:]}")
    found = shutil.which("wrk")
    if not found:
        raise BenchError("wrk is still not on PATH after apt-get install")
    return found


def wrk_version(wrk: str) -> str:
    done = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).splitlines()[0].strip() if (done.stdout or done.stderr) else "?"


# Lua scripts. POST create sends a new prompt each time: the fake derives the
# task name from it, so every name is unique and no 409 (name already used by
# this owner) gets in the way. The counter lives in wrk's single Lua state
# (one thread), so the numbers do not repeat.
CREATE_SCRIPT = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local counter = 0
request = function()
  counter = counter + 1
  local body = '{"template_version_id":"%s","input":"Benchmark task ' .. counter .. '"}'
  return wrk.format(nil, nil, nil, body)
end
"""

SEND_SCRIPT = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"input":"Carry on with the next step."}'
"""


def write_script(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def run_wrk(
    wrk: str,
    port: int,
    path: str,
    *,
    token: str,
    duration: float,
    connections: int = 16,
    threads: int = 1,
    script: Path | None = None,
) -> WrkResult:
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "--latency",
        "-H",
        f"{TOKEN_HEADER}: {token}",
    ]
    if script is not None:
        command += ["-s", str(script)]
    command.append(f"http://{HOST}:{port}{path}")
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, check=False)
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _millis(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise BenchError(f"unreadable wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """The figures of wrk's `--latency` report."""
    percentiles = {
        int(m.group(1)): _millis(m.group(2)) for m in re.finditer(r"^\s+(\d+)%\s+(\S+)\s*$", output, re.MULTILINE)
    }
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    total = re.search(r"^\s+(\d+) requests in ([\d.]+)(\w+),", output, re.MULTILINE)
    if rate is None or total is None or 50 not in percentiles or 99 not in percentiles:
        raise BenchError(f"unreadable wrk report:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return WrkResult(
        requests_per_s=float(rate.group(1)),
        p50_ms=percentiles[50],
        p90_ms=percentiles.get(90, float("nan")),
        p99_ms=percentiles[99],
        requests=int(total.group(1)),
        seconds=_millis(total.group(2) + total.group(3)) / 1000,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(x) for x in errors.groups()) if errors else 0,
    )

"""Hostile input against a served fake: `python bench/hostile.py [--rounds N] [--quick]`.

Sends every class of bad input (bodies, fixture documents, clock moves, hosts, origins,
tokens) over real HTTP to one `fakeserver serve`, in bounded loops, while another client
keeps listing tasks. Prints, per class, how many inputs were sent and what they got (5xx
counted apart), how the other client fared, the server's memory after each round, and what
a journal listing costs when the journal is full and the dashboard polls it. Writes the
figures to bench/results/hostile.json. Only loopback is contacted.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and the repo's `fakeserver` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.common import BENCH, HOST, free_port, proc_status_kib, python_command, running

AI_VERSION = "0ba39c92-1f1b-4c32-aa3e-9925d7713eb1"
ALICE = {"Coder-Session-Token": "alice-token"}
JSON = {"Content-Type": "application/json"}
YAML = {"Content-Type": "application/yaml"}
CREATE = "/api/v2/tasks/me"
BODY_TIMEOUT = 1.0


def create_body(input_literal: bytes) -> bytes:
    return b'{"template_version_id":"%s","input":%s}' % (AI_VERSION.encode(), input_literal)


BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)

Attack = Callable[[httpx.Client, int], int]  # (client, i) -> the status it got


def post(path: str, body: bytes, headers: dict[str, str] | None = None) -> Attack:
    sent = ALICE if headers is None else headers
    return lambda client, i: client.post(path, content=body, headers=sent).status_code


def put_state(text: str) -> Attack:
    return lambda client, i: client.put("/__fake__/state", content=text.encode(), headers=YAML).status_code


def raw_exchange(port: int, head: str, body: bytes) -> int:
    """Send a request by hand (a body that is never finished, a body far too large) and read the status."""
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n\r\n" + body)
        reply = sock.recv(65536)
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/") else 0


def attacks(port: int) -> dict[str, Attack]:
    never_finished = (
        f"POST {CREATE} HTTP/1.1\r\nHost: {HOST}\r\nCoder-Session-Token: alice-token\r\nContent-Length: 999"
    )
    huge_unauthenticated = f"POST {CREATE} HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {100 * 1024 * 1024}"
    return {
        "invalid UTF-8 in a body": post(CREATE, create_body(b'"fix \xed\xa0\x80 \xff it"')),
        "lone surrogate escapes": post(CREATE, create_body(b'"\\ud800\\udfff"')),
        "deep nesting (10,000)": post(CREATE, b"[" * 10_000 + b"]" * 10_000),
        "deep nesting, unclosed (100,000)": post(CREATE, b"[" * 100_000),
        "huge integers (5,000 digits)": post(CREATE, b'{"input":"x","n":' + b"9" * 5_000 + b"}"),
        "numbers past float64": post("/__fake__/clock/advance", b'{"seconds":1e400}', JSON),
        "bodies over 4 MiB": post(CREATE, create_body(b'"' + b"x" * (5 * 1024 * 1024) + b'"')),
        "100 MiB announced, no token": lambda client, i: raw_exchange(port, huge_unauthenticated, b"x" * 65536),
        "bodies that never arrive": lambda client, i: raw_exchange(port, never_finished, b'{"input":'),
        "YAML alias bombs": put_state(BILLION_LAUGHS),
        "YAML nested 10,000 deep": put_state("a: " + "[" * 10_000),
        "fixture integers of 5,000 digits": put_state("settings: {seed: " + "9" * 5_000 + "}"),
        "fixture times past 8999": put_state("settings: {clock_start: '9999-12-31T23:59:59Z'}"),
        "invalid agent rule regex": put_state("agent: {rules: [{match: '('}]}"),
        "the clock moved past its end": clock_past_the_end,
        "foreign Host (DNS rebinding)": lambda client, i: (
            client.get("/__fake__/state", headers={"Host": "rebind.evil.example"}).status_code
        ),
        "cross-site simple writes": post(
            "/__fake__/reset", b"{}", {"Origin": "https://evil.example", "Content-Type": "text/plain"}
        ),
        "control writes without JSON": post("/__fake__/reset", b"", {"Content-Type": "text/plain"}),
        "journal poison, unauthenticated": post(CREATE, b"[" * 5_000, {}),
        "repeated tokens": lambda client, i: (
            client.get(
                "/api/v2/tasks", params=[("coder_session_token", "alice-token"), ("coder_session_token", "x")]
            ).status_code
        ),
    }


def clock_past_the_end(client: httpx.Client, i: int) -> int:
    near_the_end = "settings: {clock_start: '8999-12-31T00:00:00Z'}\nusers: [{username: alice, tokens: [alice-token]}]"
    client.put("/__fake__/state", content=near_the_end.encode(), headers=YAML)
    return client.post("/__fake__/clock/advance", json={"seconds": 31_536_000}).status_code


class Victim(threading.Thread):
    """A client that keeps listing its tasks on its own connection while the attacks run."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.latencies: list[float] = []
        self.slowest: tuple[float, str] = (0.0, "")
        self.current = ""  # the attack class running now, for the slowest request
        self.failures = 0

    def run(self) -> None:
        with httpx.Client(base_url=self.url, headers=ALICE, timeout=30) as client:
            while not self.stop.is_set():
                started = time.perf_counter()
                try:
                    ok = client.get("/api/v2/tasks").status_code == 200
                except httpx.HTTPError:
                    ok = False
                took = time.perf_counter() - started
                self.latencies.append(took)
                self.slowest = max(self.slowest, (took, self.current))
                self.failures += not ok
                time.sleep(0.005)


def attack_round(url: str, port: int, per_class: int, victim: Victim) -> dict[str, Counter[int]]:
    statuses: dict[str, Counter[int]] = {}
    with httpx.Client(base_url=url, timeout=30) as client:
        default_world = client.get("/__fake__/state", params={"format": "yaml"}).text
        for name, attack in attacks(port).items():
            victim.current = name
            counts: Counter[int] = Counter()
            for i in range(per_class if "never arrive" not in name else max(1, per_class // 20)):
                counts[attack(client, i)] += 1
            statuses[name] = counts
            client.put("/__fake__/state", content=default_world.encode(), headers=YAML)  # undo a world change
    return statuses


def world_works(url: str) -> bool:
    with httpx.Client(base_url=url, timeout=30, headers=JSON) as client:
        exported = client.get("/__fake__/state").json()
        reloaded = client.put("/__fake__/state", json=exported).status_code == 200
        again = client.get("/__fake__/state").json()["world"] == exported["world"]
        reset = client.post("/__fake__/reset").status_code == 200
        journal = client.get("/__fake__/requests").status_code == 200
        return reloaded and again and reset and journal


def journal_costs(url: str, fill: int) -> dict[str, Any]:
    """Fill the journal (admin lists) and time what a dashboard's poll and a full listing cost."""
    figures: dict[str, Any] = {}
    with httpx.Client(base_url=url, timeout=60, headers={"Coder-Session-Token": "admin-token"}) as admin:
        for _ in range(fill):
            admin.get("/api/v2/tasks")
    with httpx.Client(base_url=url, timeout=60) as control:
        listed = control.get("/__fake__/requests", params={"limit": 1})
        last = listed.json()["last_id"]
        figures["entries"] = listed.json()["last_id"] - listed.json()["first_id"] + 1
        figures["full_listing_ms"] = _time_ms(lambda: control.get("/__fake__/requests"), 3)
        figures["poll_nothing_new_ms"] = _time_ms(lambda: control.get("/__fake__/requests", params={"since": last}), 20)
        figures["poll_first_page_ms"] = _time_ms(lambda: control.get("/__fake__/requests", params={"limit": 500}), 5)
        for label, params in (("no dashboard", None), ("dashboard polling", {"since": last, "limit": 500})):
            figures[f"list_req_per_s_{label.replace(' ', '_')}"] = _throughput(url, params)
        figures["list_req_per_s_polling_the_whole_journal"] = _throughput(url, {})
    return figures


def _time_ms(call: Callable[[], object], times: int) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 2)


def _throughput(url: str, poll: dict[str, Any] | None, seconds: float = 3.0) -> float:
    """GET list requests per second on one connection, with a poller hitting the journal every second."""
    stop = threading.Event()

    def poller() -> None:
        with httpx.Client(base_url=url, timeout=60) as control:
            while not stop.wait(1.0 if poll is not None else 3600):
                control.get("/__fake__/requests", params=poll)

    thread = threading.Thread(target=poller, daemon=True)
    thread.start()
    done = 0
    with httpx.Client(base_url=url, headers=ALICE, timeout=60) as client:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            client.get("/api/v2/tasks")
            done += 1
    stop.set()
    return round(done / seconds, 1)


def run(rounds: int, per_class: int, journal_fill: int) -> dict[str, Any]:
    port = free_port()
    command = python_command("-m", "fakeserver", "serve", "--host", HOST, "--port", str(port), "--clock", "manual")
    command += ["--body-timeout", str(BODY_TIMEOUT)]
    url = f"http://{HOST}:{port}"
    results: dict[str, Any] = {"per_class": per_class, "rounds": []}
    with running(command, port, "/__fake__/clock") as server:
        victim = Victim(url)
        victim.start()
        rss_start = proc_status_kib(server.pid, "VmRSS")
        for _ in range(rounds):
            statuses = attack_round(url, port, per_class, victim)
            results["rounds"].append(
                {"statuses": {k: dict(v) for k, v in statuses.items()}, "rss_kib": proc_status_kib(server.pid, "VmRSS")}
            )
        victim.stop.set()
        victim.join()
        results["rss_start_kib"] = rss_start
        results["world_works_after"] = world_works(url)
        results["victim"] = {
            "requests": len(victim.latencies),
            "failures": victim.failures,
            "p50_ms": round(statistics.median(victim.latencies) * 1000, 2),
            "max_ms": round(victim.slowest[0] * 1000, 1),
            "slowest_during": victim.slowest[1],
        }
        results["journal"] = journal_costs(url, journal_fill)
        results["server_tracebacks"] = server.output().count("Traceback")
    return results


def render(results: dict[str, Any]) -> Iterator[str]:
    yield f"Hostile input, {len(results['rounds'])} round(s), up to {results['per_class']} inputs per class:"
    yield f"  {'class':<36} {'sent':>6} {'5xx':>5}  statuses"
    first = results["rounds"][0]["statuses"]
    for name in first:
        counts: Counter[str] = Counter()
        for round_ in results["rounds"]:
            counts.update({str(k): v for k, v in round_["statuses"][name].items()})
        sent = sum(counts.values())
        five = sum(v for k, v in counts.items() if k.startswith("5"))
        yield f"  {name:<36} {sent:>6} {five:>5}  " + " ".join(f"{k}x{v}" for k, v in sorted(counts.items()))
    rss = [results["rss_start_kib"], *(r["rss_kib"] for r in results["rounds"])]
    yield "  server RSS (MiB), before and after each round: " + ", ".join(f"{kib / 1024:.1f}" for kib in rss)
    victim = results["victim"]
    yield (
        f"  the other client meanwhile: {victim['requests']} lists, {victim['failures']} failed, "
        f"p50 {victim['p50_ms']} ms, slowest {victim['max_ms']} ms (during {victim['slowest_during']})"
    )
    yield f"  afterwards: export -> load -> export, reset and the journal work: {results['world_works_after']}"
    yield f"  tracebacks in the server's log: {results['server_tracebacks']}"
    journal = results["journal"]
    yield f"Journal of {journal['entries']:,} entries (admin lists):"
    yield f"  full listing {journal['full_listing_ms']} ms; the dashboard's poll:"
    yield f"  nothing new {journal['poll_nothing_new_ms']} ms, first page of 500 {journal['poll_first_page_ms']} ms"
    yield (
        f"  GET list req/s on one connection: alone {journal['list_req_per_s_no_dashboard']}, "
        f"with the dashboard polling {journal['list_req_per_s_dashboard_polling']}, "
        f"with a poller reading the whole journal each second {journal['list_req_per_s_polling_the_whole_journal']}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/hostile.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="attack rounds (memory is read after each)")
    parser.add_argument("--per-class", type=int, default=100, help="inputs of each class per round")
    parser.add_argument("--journal", type=int, default=10_000, help="requests that fill the journal before it is timed")
    parser.add_argument("--quick", action="store_true", help="one round of 5 per class, 500 journal entries")
    parser.add_argument("--output", type=Path, default=BENCH / "results" / "hostile.json")
    args = parser.parse_args(argv)
    rounds, per_class, fill = (1, 5, 500) if args.quick else (args.rounds, args.per_class, args.journal)
    results = run(rounds, per_class, fill)
    print("\n".join(render(results)), flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

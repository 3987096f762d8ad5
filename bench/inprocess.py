"""Section 2: what the fake costs each test that uses it in-process (the pytest fixture's way).

`fresh`: a new `FakeCoder()` with the default world, a client signed in as
alice, one `GET /api/v2/tasks`, the client closed: a test with its own fake.
`reset`: `fake.reset()` and one request through a client kept across tests:
a test that shares a fake and resets it. The parts are timed alone too.
The first fake of the process (spec parse, validator compile, lazy imports)
is excluded here: section 3 measures it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench.common import BenchError, summary_ms

LIST = "/api/v2/tasks"


def timed(action: Callable[[], object], iterations: int) -> list[float]:
    durations = []
    for _ in range(iterations):
        started = time.perf_counter()
        action()
        durations.append(time.perf_counter() - started)
    return durations


def run_section(iterations: int) -> dict[str, Any]:
    from fakeserver.fake import FakeCoder

    shared = FakeCoder()
    client = shared.client("alice")

    def check(status: int) -> None:
        if status != 200:
            raise BenchError(f"GET {LIST} answered {status}")

    check(client.get(LIST).status_code)  # warm: imports, compiled spec, event loop

    def fresh_and_request() -> None:
        fake = FakeCoder()
        with fake.client("alice") as own:
            check(own.get(LIST).status_code)

    def reset_and_request() -> None:
        shared.reset()
        check(client.get(LIST).status_code)

    def request_only() -> None:
        check(client.get(LIST).status_code)

    results: dict[str, Any] = {
        "fresh_plus_request": summary_ms(timed(fresh_and_request, iterations)),
        "reset_plus_request": summary_ms(timed(reset_and_request, iterations)),
        "fresh_only": summary_ms(timed(FakeCoder, iterations)),
        "reset_only": summary_ms(timed(shared.reset, iterations)),
        "request_only": summary_ms(timed(request_only, iterations)),
        "client_only": summary_ms(timed(lambda: shared.client("alice").close(), iterations)),
    }
    client.close()
    results["idle_world_kib"] = idle_world_kib(shared)
    return {"iterations": iterations, "world": "default (fakeserver/fixtures/default.yaml)", **results}


def idle_world_kib(served: Any, count: int = 50) -> float:
    """What one more named world of a served fake (/w/<name>/, default world, never used) holds in memory."""
    import gc
    import tracemalloc

    from fakeserver.worlds import Worlds, world_maker

    worlds = Worlds(world_maker(served), max_worlds=count + 1)
    worlds.get("warm")
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for index in range(count):
        worlds.get(f"w{index}")
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return round((after - before) / count / 1024, 1)

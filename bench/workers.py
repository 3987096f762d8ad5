"""What the benchmark runs in fresh interpreters (`python bench/workers.py <name> ...`).

`build`: how long a first and a later `FakeCoder()` take in a new process.
`scale-serve`: load a fixture file, report load time and memory, then serve it
under uvicorn (uvloop + httptools) exactly as `fakeserver serve` does.
`asgi-drive`: send one endpoint's request so many times straight to an app's ASGI callable (no
server, no socket), for the instruction counts of section 5 (icount.py).
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # before any other import: the import cost counts

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def rss_kib() -> int:
    gc.collect()
    for line in Path(f"/proc/{os.getpid()}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def build(_: argparse.Namespace) -> None:
    """Import, first `FakeCoder()` (parses the spec, compiles validators), a second one (cached), a request."""
    t0 = time.perf_counter()
    from fakeserver.fake import FakeCoder

    t1 = time.perf_counter()
    first = FakeCoder()
    t2 = time.perf_counter()
    FakeCoder()
    t3 = time.perf_counter()
    with first.client("alice") as client:
        status = client.get("/api/v2/tasks").status_code
    t4 = time.perf_counter()
    report = {
        "interpreter_to_worker_s": t0 - STARTED,
        "import_s": t1 - t0,
        "first_fake_s": t2 - t1,
        "second_fake_s": t3 - t2,
        "first_request_s": t4 - t3,
        "status": status,
    }
    print(json.dumps(report))


def scale_serve(args: argparse.Namespace) -> None:
    """Load `--fixtures` (reporting as it goes, so a timeout still tells how far it got), then serve it."""
    import uvicorn

    from fakeserver.fake import FakeCoder
    from fakeserver.fixtures import load_fixtures

    report_path: Path = args.report
    FakeCoder()  # the spec's parse and compile happen once per process: keep them out of the world's figures
    report: dict[str, float | int] = {"rss_before_kib": rss_kib()}

    def save() -> None:
        report_path.write_text(json.dumps(report), encoding="utf-8")

    save()
    t0, c0 = time.perf_counter(), time.process_time()
    load_fixtures([args.fixtures])  # read, parse, check against the schema; cached per file version
    report["parse_s"], report["parse_cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
    save()
    t1, c1 = time.perf_counter(), time.process_time()
    fake = FakeCoder([args.fixtures], clock="real")  # the parsed file comes from the cache: this is the build
    report["build_s"], report["build_cpu_s"] = time.perf_counter() - t1, time.process_time() - c1
    report["rss_loaded_kib"] = rss_kib()
    report["tasks"] = len(fake.world.tasks)
    save()
    uvicorn.run(fake.app, host="127.0.0.1", port=args.port, log_level="warning", loop="uvloop", http="httptools")


def asgi_drive(args: argparse.Namespace) -> None:
    """`--requests` calls of `--endpoint` on the fake (manual clock) or the bare app serving its bytes.

    The fake is driven as `fakeserver serve` serves it: behind the served app (its worlds), with
    the Host check of a server bound to 127.0.0.1 and the served fake's cycle collector settings."""
    import asyncio

    from starlette.types import ASGIApp

    from bench import bare_app, icount
    from bench.common import HOST
    from fakeserver.cli import YOUNG_ONLY_THRESHOLDS
    from fakeserver.fake import FakeCoder
    from fakeserver.guard import trusted_hosts
    from fakeserver.worlds import Worlds, WorldsApp, world_maker

    validate = args.server == "fake"
    fake = FakeCoder([args.fixtures], clock="manual", validate_responses=validate, allowed_hosts=trusted_hosts(HOST))
    app: ASGIApp
    if args.server == "bare":
        bodies = {key: asyncio.run(icount.call(fake.app, key, 0)).body.decode() for key in ("list", "one", "create")}
        app = bare_app.build_app(bodies)
    else:
        app = WorldsApp(fake, Worlds(world_maker(fake)))
        gc.set_threshold(*YOUNG_ONLY_THRESHOLDS)

    async def drive() -> None:
        for index in range(args.requests):
            answer = await icount.call(app, args.endpoint, index)
            if answer.status != icount.BY_KEY[args.endpoint].status:
                raise SystemExit(f"{args.server} {args.endpoint} answered {answer.status}: {answer.body[:200]!r}")

    asyncio.run(drive())


def main() -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(required=True)
    commands.add_parser("build").set_defaults(run=build)
    serve = commands.add_parser("scale-serve")
    serve.add_argument("--fixtures", type=Path, required=True)
    serve.add_argument("--port", type=int, required=True)
    serve.add_argument("--report", type=Path, required=True)
    serve.set_defaults(run=scale_serve)
    drive = commands.add_parser("asgi-drive")
    drive.add_argument("--fixtures", type=Path, required=True)
    drive.add_argument("--server", choices=("bare", "fake", "fake-novalidate"), required=True)
    drive.add_argument("--endpoint", choices=("list", "one", "create", "send"), required=True)  # icount.ENDPOINTS
    drive.add_argument("--requests", type=int, required=True)
    drive.set_defaults(run=asgi_drive)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()

"""The `fakeserver` command."""

from __future__ import annotations

import argparse
import gc
import ipaddress
import logging
import signal
import socket
import sys
import time
from collections.abc import Sequence
from types import FrameType

import uvicorn

from fakeserver import __version__
from fakeserver.bodies import DEFAULT_BODY_TIMEOUT
from fakeserver.cors import describe as describe_cors
from fakeserver.cors import parse_origin
from fakeserver.fake import FakeCoder
from fakeserver.fixtures import FixtureError
from fakeserver.guard import trusted_hosts
from fakeserver.releases import LATEST, RELEASES, Release, markdown_table
from fakeserver.routing import ConnectionDropped, request_log
from fakeserver.server import WEBSOCKETS, listening_socket
from fakeserver.worlds import DEFAULT_IDLE_SECONDS, DEFAULT_MAX_WORLDS, Worlds, WorldsApp, world_maker


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    result: int = handler(args)
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fakeserver", description="A fake Coder Tasks API server.")
    parser.add_argument("--version", action="version", version=f"fakeserver {__version__}")
    commands = parser.add_subparsers(title="commands")
    serve = commands.add_parser("serve", help="serve the fake over HTTP")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    serve.add_argument(
        "--allow-host",
        dest="allow_hosts",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests whose Host is NAME (repeatable; * for any); default: loopback names only",
    )
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument(
        "--fixtures",
        action="append",
        default=[],
        metavar="FILE",
        help="a fixture file (repeatable; later files add to earlier ones); default: the built-in world",
    )
    serve.add_argument("--clock", choices=("real", "manual"), default="real", help="manual: time moves only on request")
    serve.add_argument("--speed", type=float, default=1.0, help="how fast the real clock runs (e.g. 10)")
    serve.add_argument(
        "--no-validate-responses",
        dest="validate_responses",
        action="store_false",
        help="do not check each response against the spec",
    )
    serve.add_argument(
        "--cors-origin",
        dest="cors_origins",
        action="append",
        type=origin_argument,
        metavar="ORIGIN",
        help="let web pages from this origin call the fake (repeatable; * for any); default: any localhost origin",
    )
    serve.add_argument("--no-cors", action="store_true", help="no CORS headers at all (same-origin callers only)")
    serve.add_argument("--reload", action="store_true", help="serve the new world whenever a --fixtures file changes")
    serve.add_argument(
        "--max-worlds",
        type=int,
        default=DEFAULT_MAX_WORLDS,
        metavar="N",
        help=f"named worlds (/w/<name>/...) kept at once (default: {DEFAULT_MAX_WORLDS})",
    )
    serve.add_argument(
        "--world-idle",
        type=float,
        default=DEFAULT_IDLE_SECONDS,
        metavar="SECONDS",
        help=f"drop a named world unused this long (default: {DEFAULT_IDLE_SECONDS:g})",
    )
    serve.add_argument(
        "--log-requests",
        action="store_true",
        help="print one line per request: method, path, status, milliseconds, user (never a token)",
    )
    serve.add_argument(
        "--body-timeout",
        type=float,
        default=DEFAULT_BODY_TIMEOUT,
        metavar="SECONDS",
        help=f"answer 408 when a request body takes longer to arrive (default: {DEFAULT_BODY_TIMEOUT:g})",
    )
    serve.add_argument(
        "--coder-version",
        type=release_argument,
        default=LATEST,
        metavar="RELEASE",
        help=f"answer as this Coder release does ({', '.join(map(str, RELEASES))}; default: {LATEST}); "
        "see `fakeserver releases`",
    )
    serve.set_defaults(handler=serve_command)
    add_check_parser(commands)
    releases = commands.add_parser("releases", help="what each Coder release the fake plays does differently")
    releases.set_defaults(handler=releases_command)
    return parser


def release_argument(text: str) -> Release:
    try:
        return Release.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def releases_command(args: argparse.Namespace) -> int:
    """The table docs/releases.md shows (a test keeps them the same)."""
    print(markdown_table(), end="")
    return 0


def serve_command(args: argparse.Namespace) -> int:
    if args.speed <= 0:
        print("fakeserver: --speed must be positive", file=sys.stderr)
        return 2
    if args.max_worlds < 0 or not args.world_idle > 0:
        print("fakeserver: --max-worlds must be 0 or more and --world-idle positive", file=sys.stderr)
        return 2
    if not args.body_timeout > 0:
        print("fakeserver: --body-timeout must be positive", file=sys.stderr)
        return 2
    if args.no_cors and args.cors_origins:
        print("fakeserver: --no-cors and --cors-origin cannot go together", file=sys.stderr)
        return 2
    try:
        fake = FakeCoder(
            args.fixtures,
            clock=args.clock,
            speed=args.speed,
            validate_responses=args.validate_responses,
            cors_origins=[] if args.no_cors else args.cors_origins,
            body_timeout=args.body_timeout,
            allowed_hosts=trusted_hosts(args.host, args.allow_hosts),
            coder_version=args.coder_version,
        )
    except FixtureError as error:
        print(f"fakeserver: bad fixture file: {error}", file=sys.stderr)
        return 2
    try:  # bound here, so that --port 0 prints the port the system chose
        sock = listening_socket(args.host, args.port)
    except OSError as error:
        print(f"fakeserver: cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
        return 2
    print(banner(fake, args.host, sock.getsockname()[1]), flush=True)
    if not is_loopback(args.host):
        print(NETWORK_WARNING.format(host=args.host), file=sys.stderr, flush=True)
    if args.reload:
        start_reloading(fake, watched=bool(args.fixtures))
    logging.getLogger("uvicorn.error").addFilter(quiet_dropped_connections)
    if args.log_requests:
        log_requests()
    worlds = Worlds(world_maker(fake), max_worlds=args.max_worlds, idle_seconds=args.world_idle)
    config = uvicorn.Config(
        WorldsApp(fake, worlds),
        ws=WEBSOCKETS,
        log_level="warning",
        access_log=False,  # its lines are INFO, never shown: made and dropped on every answer otherwise
        timeout_graceful_shutdown=STOP_GRACE_SECONDS,
        date_header=False,  # the app writes Date from the fake's clock (headers.py)
        server_header=False,  # coderd (Go's net/http) sends no Server header
    )
    gc.set_threshold(*YOUNG_ONLY_THRESHOLDS)
    StoppingServer(config).run(sockets=[sock])
    return 0


# A served fake's world grows while it runs (a task's records per create, two messages and two app
# statuses per send) and all of it lives long. Python's cycle collector scans the older generations
# again as they grow, each pass over records long out of the processor's caches: at its default
# thresholds a sixth of a create's CPU, and pauses of a quarter second once the world holds 20,000
# tasks. Neither a world (tests/test_schedule.py) nor answering a request (tests/test_collector.py)
# makes cycles, so a served fake collects only the young generation, at Python's own pace (a
# short-lived cycle, such as an exception's traceback, still goes), and sweeps everything once
# every FULL_SWEEP_SECONDS (StoppingServer.on_tick). Only here: the pytest plugin runs in its
# user's process.
YOUNG_ONLY_THRESHOLDS = (700, 1_000_000_000, 1_000_000_000)  # the older generations: never on their own
FULL_SWEEP_SECONDS = 600.0

STOP_GRACE_SECONDS = 1  # on SIGTERM or Ctrl-C, requests in flight get this long; then it exits


class StoppingServer(uvicorn.Server):
    """uvicorn's server, saying why it stops (SIGTERM from a test runner or CI, Ctrl-C), and
    sweeping the older generations of the cycle collector now and then (YOUNG_ONLY_THRESHOLDS)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.swept_at = time.monotonic()

    async def on_tick(self, counter: int) -> bool:
        """uvicorn's tick (ten a second), with the full sweep when one is due."""
        now = time.monotonic()
        if now - self.swept_at >= FULL_SWEEP_SECONDS:
            self.swept_at = now
            gc.collect()
        return await super().on_tick(counter)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self.should_exit:
            print(f"fakeserver: {signal.Signals(sig).name}, stopping", file=sys.stderr, flush=True)
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets)
        # uvicorn then raises the signal again, so that the exit status says the process was stopped
        print("fakeserver: stopped", file=sys.stderr, flush=True)


def log_requests() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("fakeserver: %(message)s"))
    request_log.addHandler(handler)
    request_log.setLevel(logging.INFO)
    request_log.propagate = False


NETWORK_WARNING = (
    "fakeserver: WARNING: listening on {host}, not on loopback: anyone who can reach this machine can read "
    "every token and reset, load or drive the world through /__fake__/, which has no authentication."
)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.lower() == "localhost"


def quiet_dropped_connections(record: logging.LogRecord) -> bool:
    """A connection cut by an injected fault is the fault working, not an error worth a traceback."""
    return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


def banner(fake: FakeCoder, host: str, port: int) -> str:
    shown_host = f"[{host}]" if ":" in host else host
    lines = [
        f"fakeserver: a fake Coder Tasks API on http://{shown_host}:{port}",
        f"  API: http://{shown_host}:{port}/api/v2/tasks (and /api/experimental/tasks)",
        f"  dashboard: http://{shown_host}:{port}/__fake__/  clock: {fake.clock_mode}, speed {fake.speed:g}",
        f"  CORS: {describe_cors(fake.cors_origins)}",
        f"  answers as Coder {fake.release} ({fake.release.version}; --coder-version to choose)",
        f"  worlds of their own: http://{shown_host}:{port}/w/<name>/api/v2/... (and /w/<name>/__fake__/)",
        "  users (send the token as the Coder-Session-Token header):",
    ]
    for user in fake.world.users.values():
        roles = ", ".join(user.roles) or "member"
        token = user.tokens[0] if user.tokens else "(no token)"
        lines.append(f"    {user.username:<12} {token:<16} {roles}")
    return "\n".join(lines)


def origin_argument(value: str) -> str:
    try:
        return parse_origin(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def start_reloading(fake: FakeCoder, watched: bool) -> None:
    if not watched:
        print("fakeserver: --reload has nothing to watch: no --fixtures given (the built-in world)", flush=True)
        return
    from fakeserver.watch import FixtureWatcher

    FixtureWatcher(fake).start()
    files = ", ".join(str(path) for path in fake.fixture_paths)
    print(f"fakeserver: watching {files}; an edit reloads the world", flush=True)


def add_check_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from fakeserver import check

    parser = commands.add_parser(
        "check",
        help="run Schemathesis (every phase and check) against a server, or the in-process fake",
        description="Contract conformance of a Coder Tasks API (the fake, or a real Coder) against the spec.",
    )
    parser.add_argument("--url", help="the server, e.g. http://127.0.0.1:8080 (default: an in-process fake)")
    parser.add_argument("--token", default="alice-token", help="a member's API token (default: alice-token)")
    parser.add_argument(
        "--peer-token",
        default="bob-token",
        help="a second member's token, for object-level authorization ('' for none)",
    )
    parser.add_argument(
        "--agent-token", help="an agent token, for the agent operations (in process: from a task made for the run)"
    )
    parser.add_argument("--agent-task", help="the id of the task that agent works on")
    parser.add_argument("--agent-app", help="the slug of that task's app")
    parser.add_argument("--template-version", help="a template version with a coder_ai_task, for create")
    parser.add_argument(
        "--max-examples",
        type=int,
        default=check.max_examples_from_env(),
        help=f"examples per operation and phase (default: ${check.FUZZ_EXAMPLES_ENV} or {check.DEFAULT_MAX_EXAMPLES})",
    )
    parser.add_argument("--max-steps", type=int, default=check.DEFAULT_MAX_STEPS, help="stateful sequence length")
    parser.add_argument(
        "--phases", default=",".join(check.PHASES), help=f"comma-separated (default: {','.join(check.PHASES)})"
    )
    parser.add_argument("--seed", type=int, default=check.DEFAULT_SEED)
    parser.add_argument(
        "--advance",
        type=float,
        help=f"seconds the fake's clock moves after each request (default: {check.IN_PROCESS_ADVANCE:g} in process, "
        "none with --url, where it posts to /__fake__/clock/advance)",
    )
    parser.set_defaults(handler=check_command)


def check_command(args: argparse.Namespace) -> int:
    from fakeserver import check

    try:
        options = check.CheckOptions(
            url=args.url,
            token=args.token,
            peer_token=args.peer_token or None,
            agent_token=args.agent_token,
            agent_task=args.agent_task,
            agent_app=args.agent_app,
            template_version=args.template_version,
            max_examples=args.max_examples,
            max_steps=args.max_steps,
            phases=tuple(phase.strip() for phase in args.phases.split(",") if phase.strip()),
            seed=args.seed,
            advance=args.advance,
        )
        report = check.run_check(options)
    except check.SchemathesisMissingError as error:
        print(f"fakeserver: {error}", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"fakeserver check: {error}", file=sys.stderr)
        return 2
    print(report.render(), flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

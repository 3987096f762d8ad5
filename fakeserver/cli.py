"""The `fakeserver` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fakeserver.fake import FakeCoder
from fakeserver.fixtures import FixtureError


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
    commands = parser.add_subparsers(title="commands")
    serve = commands.add_parser("serve", help="serve the fake over HTTP")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
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
    serve.set_defaults(handler=serve_command)
    return parser


def serve_command(args: argparse.Namespace) -> int:
    import uvicorn

    if args.speed <= 0:
        print("fakeserver: --speed must be positive", file=sys.stderr)
        return 2
    try:
        fake = FakeCoder(
            args.fixtures,
            clock=args.clock,
            speed=args.speed,
            validate_responses=args.validate_responses,
        )
    except FixtureError as error:
        print(f"fakeserver: bad fixture file: {error}", file=sys.stderr)
        return 2
    print(banner(fake, args.host, args.port), flush=True)
    uvicorn.run(fake.app, host=args.host, port=args.port, log_level="warning")
    return 0


def banner(fake: FakeCoder, host: str, port: int) -> str:
    shown_host = f"[{host}]" if ":" in host else host
    lines = [
        f"fakeserver: a fake Coder Tasks API on http://{shown_host}:{port}",
        f"  API: http://{shown_host}:{port}/api/v2/tasks (and /api/experimental/tasks)",
        f"  control: http://{shown_host}:{port}/__fake__/  clock: {fake.clock_mode}, speed {fake.speed:g}",
        "  users (send the token as the Coder-Session-Token header):",
    ]
    for user in fake.world.users.values():
        roles = ", ".join(user.roles) or "member"
        token = user.tokens[0] if user.tokens else "(no token)"
        lines.append(f"    {user.username:<12} {token:<16} {roles}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

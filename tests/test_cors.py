"""CORS: a web app on localhost (Vite, Next...) can call the fake from the browser; other origins
get no CORS headers unless `--cors-origin` allows them. In process, through the ASGI app."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import pytest

from fakeserver.cli import banner, build_parser, main
from fakeserver.fake import FakeCoder

VITE = "http://localhost:5173"


def preflight(
    client: httpx.Client, origin: str, path: str = "/api/v2/tasks/me", method: str = "POST", **extra: str
) -> httpx.Response:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "Coder-Session-Token, content-type",
        **extra,
    }
    return client.options(path, headers=headers)


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name.startswith("access-control-")}


def fake_with(origins: Sequence[str] | None) -> FakeCoder:
    return FakeCoder(cors_origins=origins)


def test_a_preflight_from_a_vite_dev_server_is_answered() -> None:
    with FakeCoder().client() as client:
        response = preflight(client, VITE)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == VITE
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "POST" in response.headers["access-control-allow-methods"].split(", ")
    allowed_headers = {name.strip().lower() for name in response.headers["access-control-allow-headers"].split(",")}
    assert {"coder-session-token", "content-type"} <= allowed_headers
    assert "Origin" in response.headers["vary"]
    assert int(response.headers["access-control-max-age"]) > 0


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "DELETE"])
def test_every_method_the_api_uses_passes_the_preflight(method: str) -> None:
    with FakeCoder().client() as client:
        response = preflight(client, VITE, "/api/v2/tasks/alice/fix-login-bug", method)
    assert response.status_code == 200
    assert method in response.headers["access-control-allow-methods"]


@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost:3000",
        "https://localhost:5173",
        "http://localhost",
        "http://127.0.0.1:8080",
        "http://[::1]:5173",
        "http://app.localhost:3000",
    ],
)
def test_a_simple_request_from_any_localhost_origin_can_be_read(origin: str) -> None:
    with FakeCoder().client("alice") as alice:
        response = alice.get("/api/v2/tasks", headers={"Origin": origin})
    assert response.status_code == 200
    assert response.json()["count"] == 3
    assert response.headers["access-control-allow-origin"] == origin
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "Origin" in response.headers["vary"]


def test_errors_carry_the_cors_headers_too_so_the_app_can_read_them() -> None:
    with FakeCoder().client() as anonymous:
        response = anonymous.get("/api/v2/tasks", headers={"Origin": VITE})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == VITE


def test_a_post_from_a_second_origin_reaches_the_api() -> None:
    fake = FakeCoder()
    origin = "http://127.0.0.1:3000"
    with fake.client("alice") as alice:
        assert preflight(alice, origin, "/api/v2/tasks/alice/fix-login-bug/send").status_code == 200
        response = alice.post(
            "/api/v2/tasks/alice/fix-login-bug/send", json={"input": "hi"}, headers={"Origin": origin}
        )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == origin
    assert [entry.operation_id for entry in fake.requests()] == ["sendTaskInput"]


def test_the_control_api_is_reachable_from_the_browser_too() -> None:
    with FakeCoder().client() as client:
        assert preflight(client, VITE, "/__fake__/clock/advance").status_code == 200
        response = client.post("/__fake__/clock/advance", json={"seconds": 1}, headers={"Origin": VITE})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == VITE


@pytest.mark.parametrize(
    "origin", ["http://example.com", "https://localhost.evil.com", "http://127.0.0.1.nip.io:5173", "null"]
)
def test_an_origin_that_is_not_allowed_gets_no_cors_header(origin: str) -> None:
    with FakeCoder().client("alice") as alice:
        refused = preflight(alice, origin)
        simple = alice.get("/api/v2/tasks", headers={"Origin": origin})
    assert refused.status_code == 400
    assert f"--cors-origin {origin}" in refused.text
    assert cors_headers(refused) == {}
    assert simple.status_code == 200  # the browser, not the server, withholds the body
    assert cors_headers(simple) == {}
    assert "Origin" in simple.headers["vary"]


def test_configured_origins_replace_the_localhost_default() -> None:
    fake = fake_with(["https://app.example.com", "http://devbox:8000/"])
    with fake.client("alice") as alice:
        assert preflight(alice, "https://app.example.com").headers["access-control-allow-origin"] == (
            "https://app.example.com"
        )
        simple = alice.get("/api/v2/tasks", headers={"Origin": "http://devbox:8000"})
        assert simple.headers["access-control-allow-origin"] == "http://devbox:8000"
        assert cors_headers(preflight(alice, VITE)) == {}
        assert cors_headers(alice.get("/api/v2/tasks", headers={"Origin": VITE})) == {}


def test_any_origin_is_echoed_because_credentials_are_allowed() -> None:
    origin = "https://preview.example.org"
    with fake_with(["*"]).client("alice") as alice:
        answered = preflight(alice, origin)
        simple = alice.get("/api/v2/tasks", headers={"Origin": origin})
    assert answered.status_code == 200
    assert answered.headers["access-control-allow-origin"] == origin
    assert simple.headers["access-control-allow-origin"] == origin  # never "*", which browsers refuse with credentials
    assert simple.headers["access-control-allow-credentials"] == "true"


def test_a_page_elsewhere_may_call_the_fake_on_the_private_network() -> None:
    with fake_with(["*"]).client() as client:
        response = preflight(client, "https://app.example.com", **{"Access-Control-Request-Private-Network": "true"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-private-network"] == "true"


def test_no_cors_sends_no_cors_header_even_to_localhost() -> None:
    with fake_with([]).client("alice") as alice:
        response = alice.get("/api/v2/tasks", headers={"Origin": VITE})
        refused = preflight(alice, VITE)
    assert response.status_code == 200
    assert cors_headers(response) == {}
    assert cors_headers(refused) == {}


def test_same_origin_requests_are_untouched() -> None:
    with FakeCoder().client("alice") as alice:
        response = alice.get("/api/v2/tasks")
    assert cors_headers(response) == {}


def test_the_cli_reads_repeated_origins_and_normalizes_them() -> None:
    args = build_parser().parse_args(["serve", "--cors-origin", "HTTP://LocalHost:5173/", "--cors-origin", "*"])
    assert args.cors_origins == ["http://localhost:5173", "*"]
    assert build_parser().parse_args(["serve"]).cors_origins is None
    assert build_parser().parse_args(["serve", "--no-cors"]).no_cors is True


@pytest.mark.parametrize("value", ["localhost:5173", "http://localhost:5173/app", "ftp://files.example.com", ""])
def test_the_cli_refuses_what_is_not_an_origin(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["serve", "--cors-origin", value])
    assert exit_info.value.code == 2
    assert "is not an origin: expected scheme://host[:port]" in capsys.readouterr().err


def test_no_cors_and_an_origin_cannot_go_together(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--no-cors", "--cors-origin", VITE]) == 2
    assert "--no-cors and --cors-origin cannot go together" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("origins", "shown"),
    [
        (None, "CORS: any localhost origin"),
        ([], "CORS: off"),
        (["*"], "CORS: any origin"),
        (["https://a.example", "https://b.example"], "CORS: https://a.example, https://b.example"),
    ],
)
def test_the_banner_says_who_may_call(origins: list[str] | None, shown: str) -> None:
    assert shown in banner(fake_with(origins), "127.0.0.1", 8080).splitlines()[3]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v2/tasks", 200),  # an operation
        ("DELETE", "/api/v2/tasks", 405),  # a path of the spec, a method it does not take
        ("GET", "/api/v2/no-such-thing", 404),
        ("GET", "/__fake__/clock", 200),  # the control plane
    ],
)
@pytest.mark.parametrize("origin", [None, VITE])
def test_every_answer_carries_coderds_headers_and_vary_once(
    method: str, path: str, status: int, origin: str | None
) -> None:
    fake = FakeCoder()
    headers = {"Origin": origin} if origin is not None else {}
    with fake.client("alice") as alice:
        response = alice.request(method, path, headers=headers)
    assert response.status_code == status
    assert response.headers.get_list("x-coder-build-version") == [fake.world.release.version]
    assert len(response.headers.get_list("date")) == 1
    assert response.headers.get_list("vary") == ["Origin"]


def test_without_cors_no_answer_varies_on_the_origin() -> None:
    with fake_with([]).client("alice") as alice:
        response = alice.get("/api/v2/tasks")
    assert response.status_code == 200
    assert "vary" not in response.headers
    assert response.headers["x-coder-build-version"]

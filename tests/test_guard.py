"""A served fake trusts the network no further than loopback: DNS rebinding, cross-site writes
and control-plane writes a page could send without a preflight are refused (guard.py)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from conftest import JSON_TYPE
from served import Served, serve

from fakeserver.fake import FakeCoder

ALICE = {"Coder-Session-Token": "alice-token"}


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve("--clock", "manual") as server:
        yield server


def port_of(served: Served) -> str:
    return served.url.rsplit(":", 1)[1]


@pytest.mark.parametrize("host", ["rebind.evil.example", "rebind.evil.example:80", "10.1.2.3", "[fe80::1]:8080"])
def test_a_foreign_host_name_gets_400_and_no_tokens(served: Served, host: str) -> None:
    """A DNS-rebinding page reaches 127.0.0.1 under its own name: it learns nothing."""
    with served.client() as client:
        response = client.get("/__fake__/state", headers={"Host": host})
        assert response.status_code == 400
        assert response.headers["content-type"] == JSON_TYPE
        assert response.json()["message"] == "Invalid host header."
        assert "--allow-host" in response.json()["detail"]
        assert "alice-token" not in response.text
        redirect = client.get("/api/v2/tasks/", headers={"Host": host, **ALICE})  # no Location built from it
        assert redirect.status_code == 400 and "location" not in redirect.headers


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", "app.localhost"])
def test_loopback_names_are_answered(served: Served, host: str) -> None:
    with served.client() as client:
        assert client.get("/__fake__/clock", headers={"Host": f"{host}:{port_of(served)}"}).status_code == 200


def test_allow_host_widens_the_names() -> None:
    with serve("--clock", "manual", "--allow-host", "devbox.lan") as served, served.client() as client:
        assert client.get("/__fake__/clock", headers={"Host": "devbox.lan:8080"}).status_code == 200
        assert client.get("/__fake__/clock", headers={"Host": "other.lan"}).status_code == 400


def test_listening_beyond_loopback_warns_that_the_control_plane_is_open() -> None:
    with serve("--host", "0.0.0.0", "--allow-host", "0.0.0.0", "--clock", "manual") as served:
        assert "WARNING: listening on 0.0.0.0, not on loopback" in served.stderr()
        assert "no authentication" in served.stderr()
    with serve("--clock", "manual") as served:
        assert "WARNING" not in served.stderr()


def test_a_cross_site_simple_request_cannot_reset_or_drive_the_fake(served: Served) -> None:
    """What a page of another site can send without a preflight: a form post or text/plain."""
    with served.client() as client:
        for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
            headers = {"Origin": "https://evil.example", "Content-Type": content_type}
            reset = client.post("/__fake__/reset", headers=headers, content=b"{}")
            assert reset.status_code == 403, reset.text
            assert reset.json()["message"] == "Cross-origin request refused."
        fault = client.post(
            "/__fake__/faults",
            headers={"Origin": "null", "Content-Type": "text/plain"},
            content=b'{"operation_id":"listTasks","status":500}',
        )
        assert fault.status_code == 403
        assert client.get("/__fake__/faults").json()["faults"] == []


def test_the_api_checks_no_origin_as_coderd_checks_none(served: Served) -> None:
    with served.client("alice-token") as alice:
        listed = alice.post("/api/v2/tasks/me/fix-login-bug/send", json={"input": "hi"}, headers={"Origin": "K-bbx"})
        assert listed.status_code in (204, 409), listed.text


def test_control_plane_writes_must_say_json() -> None:
    with serve("--clock", "manual") as served, served.client() as client:
        for headers in ({}, {"Content-Type": "text/plain"}):
            response = client.post("/__fake__/clock/advance", headers=headers, content=b'{"seconds": 1}')
            assert response.status_code == 415, response.text
            assert response.json()["message"] == "Unsupported media type."
            assert "application/json" in response.json()["detail"]
        assert client.post("/__fake__/reset", headers={"Content-Type": "application/json"}).status_code == 200
        yaml_put = client.put(
            "/__fake__/state", content=b"users: [{username: carol}]", headers={"Content-Type": "application/yaml"}
        )
        assert yaml_put.status_code == 200, yaml_put.text
        assert client.delete("/__fake__/requests").status_code == 204  # DELETE always needs a preflight


def test_the_api_takes_any_content_type_as_coderd_does(served: Served) -> None:
    with served.client("alice-token") as alice:
        response = alice.post("/api/v2/tasks/me/fix-login-bug/send", content=b'{"input":"hi"}')
        assert response.status_code in (204, 409), response.text


def test_the_fakes_own_pages_and_allowed_origins_may_write(served: Served) -> None:
    json_type = {"Content-Type": "application/json"}
    with served.client() as client:
        own = client.post("/__fake__/clock/advance", json={"seconds": 1}, headers={"Origin": served.url})
        assert own.status_code == 200, own.text
        vite = client.post("/__fake__/clock/advance", json={"seconds": 1}, headers={"Origin": "http://localhost:5173"})
        assert vite.status_code == 200
        assert vite.headers["access-control-allow-origin"] == "http://localhost:5173"
        refused = client.post("/__fake__/clock/advance", content=b"{}", headers={"Origin": "http://localhost:5173"})
        assert refused.status_code == 415  # an allowed page gets the reason, with CORS headers to read it
        assert refused.headers["access-control-allow-origin"] == "http://localhost:5173"
        assert client.get("/__fake__/clock", headers={"Origin": "https://evil.example", **json_type}).status_code == 200


def test_with_cors_origins_the_list_decides_and_same_origin_still_writes() -> None:
    fake = FakeCoder(cors_origins=["https://app.example.com"])
    with fake.control_client() as client:
        one_second = {"seconds": 1}
        listed = client.post("/__fake__/clock/advance", headers={"Origin": "https://app.example.com"}, json=one_second)
        assert listed.status_code == 200
        local = client.post("/__fake__/clock/advance", headers={"Origin": "http://localhost:5173"}, json=one_second)
        assert local.status_code == 403
        own = client.post("/__fake__/clock/advance", headers={"Origin": "http://fakeserver"}, json=one_second)
        assert own.status_code == 200


def test_in_process_clients_of_a_served_fake_are_not_host_checked(fake: FakeCoder) -> None:
    from fakeserver.server import FakeServer

    with FakeServer(fake) as server:
        assert httpx.get(f"{server.url}/__fake__/clock", headers={"Host": "evil.example"}).status_code == 400
        with fake.client("alice") as alice:  # base URL http://fakeserver, no socket
            assert alice.get("/api/v2/tasks").status_code == 200

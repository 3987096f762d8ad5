"""Many isolated worlds in one served fake: /w/<name>/... has its own tasks, clock, journal and faults."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
from conftest import AI_VERSION_ID
from served import Served, serve

from fakeserver.fake import FakeCoder
from fakeserver.worlds import Worlds, WorldsFull


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve("--clock", "manual", "--max-worlds", "4") as server:
        yield server


def no_worlds(served: Served) -> None:
    """Drop every named world: the module's server keeps at most four."""
    with served.control_client() as root:
        for world in root.get("/__fake__/worlds").json()["worlds"]:
            assert root.delete(f"/__fake__/worlds/{world['name']}").status_code == 204


def world_client(served: Served, name: str, token: str | None = None) -> httpx.Client:
    headers = {"Content-Type": "application/json", **({"Coder-Session-Token": token} if token else {})}
    return httpx.Client(base_url=f"{served.url}/w/{name}", headers=headers, timeout=10)


def browser_like_run(served: Served, name: str, results: dict[str, object]) -> None:
    """What one Playwright worker does against its own world."""
    with world_client(served, name, "alice-token") as alice, world_client(served, name) as control:
        created = alice.post("/api/v2/tasks/me", json={"template_version_id": AI_VERSION_ID, "input": f"{name} work"})
        assert created.status_code == 201, created.text
        control.post("/__fake__/clock/advance", json={"seconds": 60 if name == "one" else 5})
        control.post("/__fake__/faults", json={"operation_id": "getTaskLogs", "status": 500})
        results[name] = {
            "tasks": sorted(task["initial_prompt"] for task in alice.get("/api/v2/tasks").json()["tasks"]),
            "clock": control.get("/__fake__/clock").json()["now"],
            "journal": [entry["operation_id"] for entry in control.get("/__fake__/requests").json()["requests"]],
            "faults": len(control.get("/__fake__/faults").json()["faults"]),
            "date": alice.get("/api/v2/tasks").headers["date"],
        }


def test_two_clients_on_two_worlds_never_see_each_other(served: Served) -> None:
    no_worlds(served)
    results: dict[str, object] = {}
    runs = [threading.Thread(target=browser_like_run, args=(served, name, results)) for name in ("one", "two")]
    for run in runs:
        run.start()
    for run in runs:
        run.join(30)
    one, two = results["one"], results["two"]
    assert isinstance(one, dict) and isinstance(two, dict)
    assert "one work" in one["tasks"] and "two work" not in one["tasks"]
    assert "two work" in two["tasks"] and "one work" not in two["tasks"]
    assert (one["clock"], two["clock"]) == ("2026-01-05T09:01:00Z", "2026-01-05T09:00:05Z")
    assert one["date"] == "Mon, 05 Jan 2026 09:01:00 GMT"
    assert one["journal"] == two["journal"] == ["createTask", "listTasks"]
    assert one["faults"] == two["faults"] == 1
    with served.client("alice-token") as alice, served.control_client() as control:  # the default world: untouched
        assert alice.get("/api/v2/tasks").json()["count"] == 3
        assert control.get("/__fake__/requests").json()["requests"][-1]["operation_id"] == "listTasks"
        assert control.get("/__fake__/faults").json()["faults"] == []
        listed = {world["name"] for world in control.get("/__fake__/worlds").json()["worlds"]}
        assert {"one", "two"} <= listed


def test_a_world_takes_fixtures_of_its_own_and_can_be_dropped(served: Served) -> None:
    no_worlds(served)
    with world_client(served, "carols") as control:
        put = control.put(
            "/__fake__/state",
            content=b"users: [{username: carol, tokens: [carol-token]}]",
            headers={"Content-Type": "application/yaml"},
        )
        assert put.status_code == 200, put.text
    with world_client(served, "carols", "carol-token") as carol:
        assert carol.get("/api/v2/tasks").json()["count"] == 0
    with world_client(served, "carols", "carol-token") as carol, served.control_client() as root:
        assert root.delete("/__fake__/worlds/carols").status_code == 204
        assert carol.get("/api/v2/tasks").status_code == 401  # made again from the served fixtures: no carol
        assert root.delete("/__fake__/worlds/never-made").status_code == 404


def test_the_dashboard_of_a_world_is_under_its_prefix(served: Served) -> None:
    no_worlds(served)
    with world_client(served, "one") as client:
        page = client.get("/__fake__/")
        assert page.status_code == 200 and "fakeserver" in page.text


def test_worlds_are_bounded_with_a_clear_answer(served: Served) -> None:
    no_worlds(served)
    statuses = []
    for index in range(5):
        with world_client(served, f"w{index}") as control:
            statuses.append(control.get("/__fake__/clock").status_code)
    assert statuses == [200, 200, 200, 200, 503]
    with world_client(served, "w9") as control:
        refused = control.get("/__fake__/clock")
    assert refused.json()["message"] == "No room for another world."
    assert "--max-worlds" in refused.json()["detail"]
    with world_client(served, "bad name!") as control:
        assert control.get("/__fake__/clock").status_code == 404


def test_idle_worlds_are_dropped() -> None:
    now = [0.0]
    worlds = Worlds(FakeCoder, max_worlds=2, idle_seconds=60, monotonic=lambda: now[0])
    first = worlds.get("a")
    assert worlds.get("a") is first
    worlds.get("b")
    with pytest.raises(WorldsFull, match="2 worlds already live"):
        worlds.get("c")
    now[0] = 61.0
    assert worlds.names() == []
    assert worlds.get("a") is not first


def test_in_process_there_are_no_worlds(fake: FakeCoder) -> None:
    with fake.control_client() as control:
        assert control.get("/__fake__/worlds").status_code == 404


def test_a_worlds_redirects_stay_in_the_world(served: Served) -> None:
    no_worlds(served)
    with world_client(served, "one", "alice-token") as alice:
        redirect = alice.get("/api/v2/tasks/", follow_redirects=False)
    assert redirect.status_code in (301, 302, 307, 308), redirect.text
    assert redirect.headers["location"] == f"{served.url}/w/one/api/v2/tasks"


def test_a_header_names_the_world_as_the_prefix_does(served: Served) -> None:
    no_worlds(served)
    headers = {"X-Fakeserver-World": "by-header", "Coder-Session-Token": "alice-token"}
    with served.client() as client, world_client(served, "by-header", "alice-token") as by_prefix:
        created = client.post(
            "/api/v2/tasks/me", json={"template_version_id": AI_VERSION_ID, "input": "Via a header"}, headers=headers
        )
        assert created.status_code == 201, created.text
        assert "Via a header" in {task["initial_prompt"] for task in by_prefix.get("/api/v2/tasks").json()["tasks"]}
        default = client.get("/api/v2/tasks", headers={"Coder-Session-Token": "alice-token"}).json()["tasks"]
        assert "Via a header" not in {task["initial_prompt"] for task in default}

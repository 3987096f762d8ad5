"""The pytest plugin, as a user's suite sees it: small test files run by `pytester`.

The helpers' semantics are also checked directly on this suite's own `fake_coder`
(the plugin is active here too, installed through its entry point).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import httpx
import pytest

from fakeserver.fake import FakeCoder
from fakeserver.pytest_plugin import PytestFakeCoder
from fakeserver.server import FakeServer, FakeServerError

pytest_plugins = ["pytester"]

# pytester's in-process runs drop, when they end, the modules they were the first to import;
# a copy imported later shares no classes or caches with code that kept the first (httpx
# keeps a table of httpcore's errors: httpcore.ConnectError stopped becoming
# httpx.ConnectError). So this worker imports up front everything the inner runs use.
for module in ("httpcore", "uvicorn", "uvicorn.protocols.http.auto", "fakeserver.app", "fakeserver.transport"):
    importlib.import_module(module)

AI_VERSION_ID = "0ba39c92-1f1b-4c32-aa3e-9925d7713eb1"  # claude-code v1 in the built-in world

TINY_WORLD = """\
users:
  - username: carol
    tokens: [carol-token]
templates:
  - name: agent
    versions:
      - name: v1
tasks:
  - owner: carol
    name: only-task
    template: agent
    prompt: Do the one thing.
    status: active
"""


def inner_ini(pytester: pytest.Pytester, extra: str = "") -> None:
    """The inner runs are as strict as this suite, and quiet. pytest-benchmark, when installed, warns
    under xdist, which `filterwarnings = error` turns into an internal error."""
    addopts = "-p no:cacheprovider -p no:benchmark -q"
    pytester.makeini(f"[pytest]\naddopts = {addopts}\nfilterwarnings = error\n{extra}")


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    inner_ini(pytester)
    return pytester


# fake_coder


def test_fake_coder_gives_every_test_the_default_world_in_process(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        f"""
        def test_list(fake_coder):
            with fake_coder.client("alice") as alice:
                assert alice.get("/api/v2/tasks").json()["count"] == 3
            assert fake_coder.clock()["mode"] == "manual"

        def test_create_then_settle(fake_coder):
            with fake_coder.client("alice") as alice:
                task = alice.post("/api/v2/tasks/me", json={{"template_version_id": "{AI_VERSION_ID}", "input": "Hi"}})
            assert task.status_code == 201
            assert fake_coder.advance_until(task.json()["id"], "active", state="idle")["status"] == "active"
            fake_coder.assert_called("createTask", user="alice", status=201, times=1)

        def test_tokens(fake_coder):
            assert fake_coder.token("bob") == "bob-token"
        """
    )
    inner.runpytest().assert_outcomes(passed=3)


def test_nothing_leaks_from_one_test_to_the_next(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        f"""
        import json
        from fakeserver.pytest_plugin import PytestFakeCoder

        def test_a_changes_everything(fake_coder):
            with fake_coder.client("alice") as alice:
                alice.post("/api/v2/tasks/me", json={{"template_version_id": "{AI_VERSION_ID}", "input": "Hi"}})
            fake_coder.advance(100)
            fake_coder.fault("listTasks", status=500)
            fake_coder.set_clock("real", 50)
            fake_coder.validate_responses = False
            fake_coder.load_text({TINY_WORLD!r})

        def test_b_starts_from_what_a_new_fake_would(fake_coder):
            new = PytestFakeCoder()
            assert json.dumps(fake_coder.state(), sort_keys=True) == json.dumps(new.state(), sort_keys=True)
            assert fake_coder.fixture_paths == new.fixture_paths
            assert fake_coder.validate_responses and not fake_coder.faults.list()
            with fake_coder.client("alice") as alice:
                assert alice.get("/api/v2/tasks").status_code == 200
            assert [entry.id for entry in fake_coder.requests()] == [1]
        """
    )
    inner.runpytest().assert_outcomes(passed=2)


def test_async_tests_use_async_client(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        import httpx
        import pytest

        @pytest.fixture
        def anyio_backend():
            return "asyncio"

        @pytest.mark.anyio
        async def test_in_process(fake_coder):
            async with fake_coder.async_client("bob") as bob:
                assert (await bob.get("/api/v2/tasks")).json()["count"] == 3
            fake_coder.assert_called("listTasks", user="bob")

        @pytest.mark.anyio
        async def test_over_the_socket(fake_coder_server):
            token = {"Coder-Session-Token": fake_coder_server.token("bob")}
            async with httpx.AsyncClient(base_url=fake_coder_server.url, headers=token, trust_env=False) as bob:
                assert (await bob.get("/api/v2/tasks")).json()["count"] == 3

        def sync_code_under_test(client):
            return client.get("/api/v2/tasks").json()["count"]

        @pytest.mark.anyio
        async def test_sync_code_called_from_an_async_test(fake_coder):
            with fake_coder.client("alice") as alice:
                assert sync_code_under_test(alice) == 3
        """
    )
    inner.runpytest().assert_outcomes(passed=3)


# fake_coder_server


def test_fake_coder_server_serves_on_a_real_port_once_per_session(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        f"""
        import subprocess, sys

        urls = []

        def test_a_subprocess_calls_the_url(fake_coder_server):
            urls.append(fake_coder_server.url)
            script = (
                "import sys, urllib.request; "
                "request = urllib.request.Request(sys.argv[1] + '/api/v2/tasks/alice/fix-login-bug/pause', "
                "method='POST', headers={{'Coder-Session-Token': 'alice-token'}}); "
                "print(urllib.request.urlopen(request).status)"
            )
            done = subprocess.run([sys.executable, "-c", script, fake_coder_server.url], capture_output=True, text=True)
            assert done.stdout.strip() == "202", done.stderr
            fake_coder_server.assert_called("pauseTask", task="alice/fix-login-bug", user="alice", times=1)

        def test_b_starts_fresh_on_the_same_server(fake_coder_server):
            urls.append(fake_coder_server.url)
            assert urls[0] != urls[1] and urls[0].split("/w/")[0] == urls[1].split("/w/")[0]  # a world each
            fake_coder_server.assert_not_called("pauseTask")
            with fake_coder_server.http_client("alice") as alice:
                task = alice.post("/api/v2/tasks/me", json={{"template_version_id": "{AI_VERSION_ID}", "input": "Hi"}})
            assert fake_coder_server.advance_until(task.json()["id"], "active")["status"] == "active"
            with fake_coder_server.client("alice") as alice:  # in-process, the same fake
                assert alice.get("/api/v2/tasks").json()["count"] == 4
        """
    )
    inner.runpytest().assert_outcomes(passed=2)


def test_each_xdist_worker_serves_its_own_fake(inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    inner.makepyfile(
        """
        import json, os
        import pytest

        @pytest.mark.parametrize("n", range(6))
        def test_served(fake_coder_server, n):
            with fake_coder_server.http_client("alice") as alice:
                assert alice.get("/api/v2/tasks").json()["count"] == 3
            fake_coder_server.assert_called("listTasks", times=1)
            with open("urls.jsonl", "a") as urls:
                print(json.dumps([os.environ["PYTEST_XDIST_WORKER"], fake_coder_server.url]), file=urls)

        @pytest.mark.parametrize("n", range(4))
        def test_in_process(fake_coder, n):
            with fake_coder.client("bob") as bob:
                body = {"template_version_id": "0ba39c92-1f1b-4c32-aa3e-9925d7713eb1", "input": "Hi"}
                task = bob.post("/api/v2/tasks/me", json=body).json()
            fake_coder.advance_until(task["id"], "active")
        """
    )
    # Only the plugins the run needs: three processes importing every installed plugin take seconds.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    inner.runpytest_subprocess("-p", "fakeserver.pytest_plugin", "-p", "xdist.plugin", "-n", "2").assert_outcomes(
        passed=10
    )
    seen = {tuple(json.loads(line)) for line in (inner.path / "urls.jsonl").read_text().splitlines()}
    workers = {worker for worker, _ in seen}
    servers = {url.rsplit("/w/", 1)[0] for _, url in seen}
    assert workers == {"gw0", "gw1"} and len(servers) == 2, seen  # one server per worker, on different ports
    assert len({url for _, url in seen}) == 6  # and a world of its own for each served test


# the marker and the options


def test_the_marker_chooses_the_world_and_clock_closest_first(inner: pytest.Pytester) -> None:
    (inner.mkdir("worlds") / "tiny.yaml").write_text(TINY_WORLD)
    inner.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.fake_coder(fixtures=["worlds/tiny.yaml"], speed=10)

        def test_module_world(fake_coder):
            assert fake_coder.summary()["users"] == 1
            assert fake_coder.clock()["mode"] == "manual" and fake_coder.clock()["speed"] == 10

        @pytest.mark.fake_coder(clock="real")
        def test_function_marker_adds_to_the_module_one(fake_coder):
            assert fake_coder.summary()["users"] == 1 and fake_coder.clock()["mode"] == "real"

        @pytest.mark.fake_coder(fixtures=[])
        def test_no_files_is_the_built_in_world(fake_coder):
            assert fake_coder.summary()["users"] == 3

        @pytest.mark.fake_coder(clock="real", speed=1000)
        def test_served_with_a_real_clock(fake_coder_server):
            assert fake_coder_server.summary()["users"] == 1
            assert fake_coder_server.wait_until("carol/only-task", "active", timeout=5)["status"] == "active"

        def test_served_back_to_the_module_settings(fake_coder_server):
            assert fake_coder_server.clock()["mode"] == "manual"

        @pytest.mark.fake_coder(coder_version="2.31")
        def test_a_release_in_process_and_served(fake_coder, fake_coder_server):
            assert fake_coder.client().get("/api/v2/buildinfo").json()["version"] == "v2.31.0"
            with fake_coder_server.http_client() as client:
                assert client.get("/api/v2/buildinfo").headers["X-Coder-Build-Version"] == "v2.31.0"
        """
    )
    inner.runpytest().assert_outcomes(passed=6)


def test_a_wrong_marker_fails_the_test_with_what_is_wrong(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        import pytest

        @pytest.mark.fake_coder(clock="fast")
        def test_clock(fake_coder):
            pass

        @pytest.mark.fake_coder(world="x.yaml")
        def test_option(fake_coder):
            pass

        @pytest.mark.fake_coder(fixtures=["missing.yaml"])
        def test_missing_file(fake_coder):
            pass

        @pytest.mark.fake_coder(coder_version="2.40")
        def test_release(fake_coder):
            pass
        """
    )
    result = inner.runpytest()
    result.assert_outcomes(errors=4)
    result.stdout.fnmatch_lines(
        [
            "*fake_coder: clock must be 'manual' or 'real', not 'fast'*",
            "*fake_coder: unknown option world; use fixtures, clock, speed, validate_responses or coder_version*",
            "*fakeserver: bad fixture file: *missing.yaml: (document): cannot read the file*",
            "*fake_coder: coder_version: the fake does not play Coder 2.40*",
        ],
        consecutive=False,
    )


def test_the_ini_option_sets_the_suite_world_relative_to_the_ini_file(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    (pytester.mkdir("worlds") / "tiny.yaml").write_text(TINY_WORLD)
    inner_ini(pytester, "fake_coder_fixtures = worlds/tiny.yaml\n")
    pytester.makepyfile(
        test_suite="""
        def test_in_process(fake_coder):
            assert fake_coder.token("carol") == "carol-token"

        def test_served(fake_coder_server):
            assert fake_coder_server.token("carol") == "carol-token"
        """
    )
    monkeypatch.chdir(pytester.mkdir("elsewhere"))  # the path stays relative to the ini file
    pytester.runpytest(str(pytester.path / "test_suite.py")).assert_outcomes(passed=2)


def test_the_command_line_option_wins_over_the_ini_file(pytester: pytest.Pytester) -> None:
    (pytester.mkdir("worlds") / "tiny.yaml").write_text(TINY_WORLD)
    inner_ini(pytester, "fake_coder_fixtures = worlds/missing.yaml\n")
    pytester.makepyfile(
        """
        import pytest

        def test_suite_world(fake_coder):
            assert fake_coder.summary()["users"] == 1

        @pytest.mark.fake_coder(fixtures=[])
        def test_marker_wins_over_both(fake_coder):
            assert fake_coder.summary()["users"] == 3
        """
    )
    pytester.runpytest("--fake-coder-fixtures", "worlds/tiny.yaml").assert_outcomes(passed=2)


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("users:\n  - name: nobody\n", "broken.yaml:2: users[[]0[]]: missing required key 'username'"),
        (
            "tasks:\n  - owner: nobody\n    template: x\n",
            "broken.yaml:2: tasks[[]0[]].owner: no user 'nobody' (known: none)",
        ),
    ],
)
def test_a_bad_suite_fixture_file_stops_the_run_at_once(inner: pytest.Pytester, document: str, reason: str) -> None:
    inner.makefile(".yaml", broken=document)
    inner.makepyfile("def test_never_runs(fake_coder): pass")
    result = inner.runpytest("--fake-coder-fixtures", "broken.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: fakeserver: bad fixture file: *{reason}"])


# how failures read


def test_failed_helpers_say_what_happened_instead(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        def test_status_never_reached(fake_coder):
            fake_coder.advance_until("bob/add-dark-mode", "paused")

        def test_call_never_made(fake_coder):
            with fake_coder.client("alice") as alice:
                alice.get("/api/v2/tasks", params={"q": "status:active"})
            fake_coder.assert_called("pauseTask", task="alice/fix-login-bug")
        """
    )
    result = inner.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "E * task bob/add-dark-mode will not reach status 'paused': nothing more happens on its own"
            " (after 0 s of fake time); seen: pending (at 0 s); it is held (`hold: true` in its fixture) until"
            " someone acts on it: move its job, agent or app, or pause, resume or delete it",
            "E * expected pauseTask(task=alice/fix-login-bug) to be called at least once, but it was never called.",
            "E *Calls to the Coder API (1, oldest first):",
            "E *1. listTasks: GET /api/v2/tasks?q=status:active -> 200  user=alice",
        ],
        consecutive=False,
    )
    result.stdout.no_fnmatch_line("*pytest_plugin.py*")  # the helpers' frames are hidden


# the helpers, on this suite's own fake_coder


def new_task(fake: PytestFakeCoder) -> str:
    with fake.client("bob") as bob:
        created = bob.post("/api/v2/tasks/me", json={"template_version_id": AI_VERSION_ID, "input": "Hi"})
        assert created.status_code == 201, created.text
        return str(created.json()["id"])


def test_advance_until_stops_at_the_first_moment_the_status_holds(fake_coder: PytestFakeCoder) -> None:
    task = fake_coder.advance_until(new_task(fake_coder), "initializing")
    assert task["status"] == "initializing"
    assert fake_coder.clock()["now"] == "2026-01-05T09:00:01Z"  # the job started 1 s in; not a moment later


def test_advance_until_gives_up_after_the_timeout_in_fake_time(fake_coder: PytestFakeCoder) -> None:
    with pytest.raises(AssertionError, match=r"did not reach status 'active' within 2 s of fake time; seen: pending"):
        fake_coder.advance_until(new_task(fake_coder), "active", timeout=2)
    assert fake_coder.clock()["now"] == "2026-01-05T09:00:02Z"


def test_advance_until_notices_a_deleted_task(fake_coder: PytestFakeCoder) -> None:
    with fake_coder.client("alice") as alice:
        task = alice.post("/api/v2/tasks/me", json={"template_version_id": AI_VERSION_ID, "input": "Hi"}).json()
        fake_coder.advance_until(task["id"], "active")
        assert alice.delete(f"/api/v2/tasks/me/{task['id']}").status_code == 202
    with pytest.raises(LookupError, match="no live task"):
        fake_coder.advance_until(task["id"], "paused")
    fake_coder.assert_called("deleteTask", task=task["id"], times=1)
    fake_coder.assert_called("deleteTask", task=f"alice/{task['name']}", times=1)  # by name, though it is gone


def test_waits_refuse_a_status_or_state_the_api_does_not_have(fake_coder: PytestFakeCoder) -> None:
    with pytest.raises(ValueError, match="unknown task status 'actve'"):
        fake_coder.advance_until("bob/add-dark-mode", "actve")
    with pytest.raises(ValueError, match="unknown task state 'done'"):
        fake_coder.wait_until("bob/add-dark-mode", state="done")


@pytest.mark.fake_coder(clock="real", speed=1000)
def test_wait_until_follows_a_real_clock(fake_coder: PytestFakeCoder) -> None:
    assert fake_coder.wait_until(new_task(fake_coder), "active", state="idle", timeout=5)["status"] == "active"


def test_wait_until_does_not_move_a_manual_clock(fake_coder: PytestFakeCoder) -> None:
    with pytest.raises(
        AssertionError,
        match=r"did not reach status 'active' within 0.05 s; seen: pending \(at 0 s\); the clock is manual, so "
        r"nothing moves by itself: use fake.advance_until",
    ):
        fake_coder.wait_until("bob/add-dark-mode", "active", timeout=0.05)


def test_assert_called_counts_and_filters(fake_coder: PytestFakeCoder) -> None:
    with fake_coder.client("alice") as alice, fake_coder.client("bob") as bob:
        alice.get("/api/v2/tasks")
        bob.get("/api/v2/tasks")
        bob.get("/api/v2/tasks/bob/nope")
    assert len(fake_coder.assert_called("listTasks", times=2)) == 2
    fake_coder.assert_called("listTasks", user="bob", times=1)
    fake_coder.assert_called("getTask", status=404)
    fake_coder.assert_not_called("getTask", status=200)
    with pytest.raises(
        AssertionError, match=r"expected listTasks\(user=alice\) to be called 3 times, but it was called once"
    ):
        fake_coder.assert_called("listTasks", user="alice", times=3)
    with pytest.raises(AssertionError, match=r"expected getTask\(\) not to be called, but it was called once"):
        fake_coder.assert_not_called("getTask")


def test_assert_called_refuses_an_operation_the_spec_does_not_have(fake_coder: PytestFakeCoder) -> None:
    with pytest.raises(ValueError, match="no operation 'pauseTsk' in the API spec; did you mean 'pauseTask'"):
        fake_coder.assert_not_called("pauseTsk")


def test_a_served_fake_can_be_stopped_and_the_next_test_gets_it_back(pytester: pytest.Pytester) -> None:
    inner_ini(pytester)
    pytester.makepyfile(
        """
        def test_stop(fake_coder_server):
            fake_coder_server.server.stop()

        def test_back(fake_coder_server):
            with fake_coder_server.http_client() as anonymous:
                assert anonymous.get("/api/v2/tasks").status_code == 401
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_the_docs_examples_run(inner: pytest.Pytester) -> None:
    """Each ```python block of docs/pytest-plugin.md that defines tests is a test file that passes;
    its first ```yaml block is the `world.yaml` the marker examples load."""
    docs = (Path(__file__).parents[1] / "docs" / "pytest-plugin.md").read_text()
    examples = [block for block in code_blocks(docs, "python") if "def test_" in block]
    assert len(examples) >= 4, "the examples of docs/pytest-plugin.md went missing"
    (inner.path / "world.yaml").write_text(code_blocks(docs, "yaml")[0])
    for number, example in enumerate(examples):
        inner.makepyfile(**{f"test_docs_{number}": example})
    expected = sum(example.count("def test_") for example in examples)
    inner.runpytest().assert_outcomes(passed=expected)


def code_blocks(markdown: str, language: str) -> list[str]:
    return [block.split("```", 1)[0] for block in markdown.split(f"```{language}\n")[1:]]


# FakeServer, the served fixture's server, on its own


def test_fake_server_serves_a_fake_until_stopped() -> None:
    fake = FakeCoder()
    with httpx.Client(trust_env=False) as client, FakeServer(fake) as server:
        assert server.url.startswith("http://127.0.0.1:") and server.port != 0
        response = client.get(f"{server.url}/api/v2/tasks", headers={"Coder-Session-Token": "bob-token"})
        assert response.json()["count"] == 3
        assert "server" not in response.headers  # coderd (Go's net/http) names no server
        assert [entry.user for entry in fake.requests("listTasks")] == ["bob"]
        # the server stops first, while the client still holds its keep-alive connection
    assert not server.running
    with pytest.raises(FakeServerError, match="not running"):
        _ = server.url
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{server.port}/api/v2/tasks", trust_env=False)


def test_fake_server_reports_a_port_in_use() -> None:
    with FakeServer(FakeCoder()) as first, pytest.raises(OSError):
        FakeServer(FakeCoder(), port=first.port).start()

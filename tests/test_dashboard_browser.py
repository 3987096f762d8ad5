"""The dashboard at /__fake__/: served by the fake itself, and driven in a real headless Chromium
(Playwright, Debian's /usr/bin/chromium) against `fakeserver serve --clock manual` on loopback.

The browser tests skip only when /usr/bin/chromium is absent (scripts/install-browser.sh installs it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from conftest import AI_VERSION_ID
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, expect, sync_playwright
from served import Served, serve

from fakeserver.app import dashboard_directory
from fakeserver.fake import FakeCoder

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = Path(__file__).resolve().parents[1] / "artifacts" / "dashboard.png"

DEFAULT_TASKS = {
    "alice/fix-login-bug": ("active", "running", "#1"),
    "alice/write-docs": ("paused", "stopped", "#2"),
    "alice/broken-build": ("error", "failed", "#1"),
    "bob/add-dark-mode": ("pending", "pending", "#1"),
    "bob/refactor-api": ("initializing", "running", "#1"),
    "bob/lost-agent": ("unknown", "running", "#1"),
}


# ---------------------------------------------------------------- served in process, no browser needed


def test_the_page_and_its_assets_are_served_by_the_fake() -> None:
    with FakeCoder().client() as client:
        page = client.get("/__fake__/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-cache"
        for asset, media_type in [("app.js", "text/javascript"), ("style.css", "text/css")]:
            response = client.get(f"/__fake__/dashboard/{asset}")
            assert response.status_code == 200
            assert response.headers["content-type"].startswith(media_type)
        assert client.get("/__fake__", follow_redirects=False).headers["location"].endswith("/__fake__/")
        assert client.get("/__fake__/dashboard/missing.js").status_code == 404


def test_the_page_loads_nothing_from_the_internet() -> None:
    for file in dashboard_directory().iterdir():
        text = file.read_text(encoding="utf-8")
        assert not re.search(r"(src|href)=\"(https?:)?//", text), file.name
        assert not re.search(r"url\((['\"])?(https?:)?//", text), file.name
        assert not re.search(r"import\s*\(?\s*['\"]https?:", text), file.name


def test_opening_the_page_is_not_journaled() -> None:
    fake = FakeCoder()
    with fake.client() as client:
        client.get("/__fake__/")
        client.get("/__fake__/dashboard/app.js")
    assert fake.requests() == []


# ---------------------------------------------------------------- in a real browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (scripts/install-browser.sh installs it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve("--clock", "manual", cwd=tmp_path_factory.mktemp("dashboard")) as served:
        yield served


@pytest.fixture
def page(browser: Browser, server: Served) -> Iterator[Page]:
    with server.control_client() as client:
        assert client.post("/__fake__/reset").status_code == 200
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    opened.on("console", lambda message: problems.append(message.text) if is_script_error(message) else None)
    opened.on(
        "request",
        lambda request: None if request.url.startswith(server.url) else problems.append(f"outside: {request.url}"),
    )
    opened.goto(f"{server.url}/__fake__/")
    expect(opened.locator("#connection")).to_have_text("live")
    yield opened
    context.close()
    assert problems == []


def is_script_error(message: ConsoleMessage) -> bool:
    # The browser logs every 4xx answer ("Failed to load resource"); the tests cause some on purpose.
    return message.type == "error" and not message.text.startswith("Failed to load resource")


def row(page: Page, task: str) -> Locator:
    return page.locator(f"tr.task[data-task='{task}']")


def cell(page: Page, task: str, field: str) -> Locator:
    return row(page, task).locator(f"td[data-field='{field}']")


def select(page: Page, task: str) -> None:
    row(page, task).click()
    expect(page.locator("#detail-ref")).to_contain_text(task)


def journal_row(page: Page, operation: str) -> Locator:
    return page.locator(f"tr.request[data-operation='{operation}']")


def api_status(server: Served, token: str, task: str) -> str:
    with server.client(token) as client:
        status: str = client.get(f"/api/v2/tasks/{task}").json()["status"]
        return status


def test_every_users_tasks_are_listed_with_their_live_status(page: Page) -> None:
    expect(page.locator("tr.task")).to_have_count(len(DEFAULT_TASKS))
    for task, (status, workspace, build) in DEFAULT_TASKS.items():
        expect(cell(page, task, "status")).to_have_text(status)
        expect(cell(page, task, "workspace_status")).to_have_text(workspace)
        expect(cell(page, task, "build")).to_have_text(build)
    expect(cell(page, "alice/fix-login-bug", "current_state")).to_contain_text("idle")
    expect(cell(page, "alice/fix-login-bug", "current_state")).to_contain_text("Fixed the session cookie")
    expect(cell(page, "alice/broken-build", "current_state")).to_have_text("—")
    expect(page.locator("tr.owner")).to_have_count(3)  # admin has no task, and is listed all the same
    expect(page.locator("tr.owner[data-owner='admin']")).to_contain_text("0 tasks")
    expect(page.locator("tr.owner[data-owner='bob']")).to_contain_text("bob-token")
    expect(page.locator("#clock-now")).to_have_text("2026-01-05 09:00:00 UTC")
    expect(page.locator("#clock-mode")).to_have_text("manual")


def test_at_1400_by_900_every_task_shows_without_scrolling(page: Page) -> None:
    """The tasks panel takes the height its rows need; the journal gets the rest."""
    page.set_viewport_size({"width": 1400, "height": 900})
    expect(page.locator("tr.task")).to_have_count(len(DEFAULT_TASKS))
    scroll = page.locator(".tasks-panel .scroll")
    assert scroll.evaluate("element => element.scrollHeight <= element.clientHeight")
    journal = page.locator(".journal-panel").bounding_box()
    assert journal is not None and journal["height"] >= 140


def test_pausing_a_task_shows_it_stopping_then_paused_as_the_clock_advances(page: Page, server: Served) -> None:
    task = "alice/fix-login-bug"
    select(page, task)
    page.locator("#pause").click()
    expect(cell(page, task, "status")).to_have_text("unknown")  # the stop build is running
    expect(cell(page, task, "build")).to_have_text("#2")
    expect(page.locator("#detail-status")).to_have_text("unknown")

    page.locator("#advance-10").click()
    expect(cell(page, task, "status")).to_have_text("paused")
    expect(cell(page, task, "workspace_status")).to_have_text("stopped")
    expect(page.locator("#clock-now")).to_have_text("2026-01-05 09:00:10 UTC")
    assert api_status(server, "alice-token", task) == "paused"

    page.locator("#resume").click()
    expect(cell(page, task, "status")).to_have_text("pending")
    page.locator("#advance-10").click()
    expect(cell(page, task, "status")).to_have_text("active")
    expect(cell(page, task, "build")).to_have_text("#3")
    expect(journal_row(page, "pauseTask")).to_contain_text("alice")
    expect(journal_row(page, "pauseTask")).to_contain_text("202")
    expect(journal_row(page, "resumeTask")).to_contain_text("202")


def test_a_message_is_sent_as_the_owner_and_the_agent_replies_after_a_pause(page: Page) -> None:
    task = "alice/fix-login-bug"
    select(page, task)
    expect(page.locator("#owner-label")).to_have_text("As alice")
    page.locator("#message").fill("Please add a regression test")
    page.locator("#message").press("Enter")
    conversation = page.locator("#conversation li")
    expect(conversation.last).to_have_attribute("data-role", "user")
    expect(conversation.last).to_contain_text("Please add a regression test")
    expect(cell(page, task, "current_state")).to_contain_text("working")

    page.locator("#advance-1").click()
    expect(page.locator("#clock-now")).to_have_text("2026-01-05 09:00:01 UTC")
    expect(conversation.last).to_have_attribute("data-role", "user")  # the agent is still working on it

    page.locator("#advance-1").click()
    expect(conversation.last).to_have_attribute("data-role", "agent")
    expect(conversation.last).to_contain_text("Done. I worked on: Please add a regression test")
    expect(cell(page, task, "current_state")).to_contain_text("idle")

    sent = journal_row(page, "sendTaskInput")
    expect(sent).to_contain_text("alice")
    expect(sent).to_contain_text("204")
    sent.click()
    expect(page.locator("tr.request-detail")).to_contain_text('"input": "Please add a regression test"')

    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.locator(".toast").evaluate_all("toasts => toasts.forEach((toast) => toast.remove())")  # they hide the journal
    page.screenshot(path=str(SCREENSHOT))


def test_the_journal_shows_what_other_clients_sent(page: Page, server: Served) -> None:
    with server.client("bob-token") as bob, server.client() as anonymous:
        assert bob.get("/api/v2/tasks").status_code == 200
        assert anonymous.get("/api/v2/tasks").status_code == 401
    listed = journal_row(page, "listTasks")
    expect(listed).to_have_count(2)  # within a poll or two
    expect(listed.first).to_contain_text("anonymous")  # newest first
    expect(listed.first).to_contain_text("401")
    expect(listed.last).to_contain_text("bob")
    expect(page.locator("#request-count")).to_have_text("2")

    page.locator("#clear-requests").click()
    expect(page.locator("tr.request")).to_have_count(0)
    expect(page.locator("#requests-empty")).to_be_visible()


def test_builds_apps_and_agents_are_driven_from_the_page(page: Page, server: Served) -> None:
    select(page, "bob/add-dark-mode")
    page.locator("#fail-build").click()
    expect(cell(page, "bob/add-dark-mode", "status")).to_have_text("error")
    expect(cell(page, "bob/add-dark-mode", "workspace_status")).to_have_text("failed")

    task = "alice/fix-login-bug"
    select(page, task)
    page.locator("#agent-state").select_option("complete")
    page.locator("#agent-message").fill("All done, PR opened")
    page.locator("#agent-status button").click()
    expect(cell(page, task, "current_state")).to_contain_text("complete")
    expect(cell(page, task, "current_state")).to_contain_text("All done, PR opened")

    page.locator("#agent-says").fill("Opened PR #42")
    page.locator("#agent-says").press("Enter")
    expect(page.locator("#conversation li").last).to_contain_text("Opened PR #42")

    page.locator("#app-health").select_option("unhealthy")
    page.locator("#set-health").click()
    expect(cell(page, task, "status")).to_have_text("error")
    expect(page.locator("#detail-facts")).to_contain_text("ai · unhealthy")
    page.locator("#app-health").select_option("healthy")
    page.locator("#set-health").click()
    expect(cell(page, task, "status")).to_have_text("active")

    page.locator("#disconnect").click()
    expect(page.locator("#detail-facts")).to_contain_text("disconnected")
    expect(page.locator("#disconnect")).to_have_text("Reconnect agent")
    lost = "agent unhealthy: agent has lost connection"
    expect(cell(page, task, "agent").locator(".health")).to_have_attribute("title", lost)
    with server.client("alice-token") as alice:
        assert alice.get(f"/api/v2/tasks/{task}").json()["workspace_agent_health"]["healthy"] is False


def test_a_refused_action_shows_the_servers_message(page: Page) -> None:
    select(page, "alice/write-docs")  # paused: nothing to send to
    page.locator("#message").fill("are you there?")
    page.locator("#send button").click()
    expect(page.locator(".toast.error")).to_contain_text("Send to alice/write-docs failed: 409")
    expect(journal_row(page, "sendTaskInput")).to_contain_text("409")


def test_tasks_are_created_deleted_saved_and_reset(page: Page, server: Served) -> None:
    page.locator("#new-owner").select_option("alice")
    page.locator("#new-prompt").fill("Write a changelog for the next release")
    page.locator("#new-task button").click()
    expect(page.locator("tr.task")).to_have_count(len(DEFAULT_TASKS) + 1)
    created = page.locator("tr.task.selected")
    expect(created.locator("td[data-field='status']")).to_have_text("pending")
    name = created.get_attribute("data-task")
    assert name is not None
    assert name.startswith("alice/")
    page.locator("#advance-10").click()
    expect(cell(page, name, "status")).to_have_text("active")

    with page.expect_download() as download:
        page.locator("#save").click()
    saved = yaml.safe_load(Path(download.value.path()).read_text(encoding="utf-8"))
    assert "Write a changelog for the next release" in [task["prompt"] for task in saved["tasks"]]

    page.locator("#delete").click()
    expect(page.locator("tr.task")).to_have_count(len(DEFAULT_TASKS))
    expect(page.locator("#detail-empty")).to_be_visible()
    with server.client("alice-token") as alice:
        assert alice.get(f"/api/v2/tasks/{name}").status_code == 404

    select(page, "bob/lost-agent")
    page.locator("#delete").click()
    expect(row(page, "bob/lost-agent")).to_have_count(0)
    page.locator("#reset").click()
    expect(page.locator("tr.task")).to_have_count(len(DEFAULT_TASKS))
    expect(row(page, "bob/lost-agent")).to_have_count(1)
    expect(page.locator("tr.request")).to_have_count(0)  # a reset clears the journal


def test_a_task_is_created_with_a_preset_chosen_by_name(page: Page, server: Served) -> None:
    expect(page.locator("#new-version option")).to_have_text(["Claude Code v1"])
    expect(page.locator("#new-preset option")).to_have_text(["No preset", "Preset: default"])
    page.locator("#new-owner").select_option("bob")
    page.locator("#new-preset").select_option(label="Preset: default")
    page.locator("#new-prompt").fill("Port the styles to CSS variables")
    page.locator("#new-task button").click()
    expect(page.locator("tr.task")).to_have_count(len(DEFAULT_TASKS) + 1)
    facts = page.locator("#detail-facts")
    expect(facts).to_contain_text("Claude Code · claude-code · /icon/claude.svg")
    expect(facts).to_contain_text("Presetdefault")
    name = page.locator("tr.task.selected").get_attribute("data-task")
    with server.client("bob-token") as bob:
        task = bob.get(f"/api/v2/tasks/{name}").json()
        build = bob.get(f"/api/v2/workspaces/{task['workspace_id']}").json()["latest_build"]
    assert build["template_version_preset_id"] == "512a53a7-30da-446e-a1fc-713c630baff1"


def test_the_dashboard_switches_between_worlds(page: Page, server: Served) -> None:
    with httpx.Client(base_url=f"{server.url}/w/demo", headers={"Coder-Session-Token": "alice-token"}) as alice:
        created = alice.post("/api/v2/tasks/me", json={"template_version_id": AI_VERSION_ID, "input": "Only in demo"})
        assert created.status_code == 201, created.text
    expect(page.locator("#world option[value='demo']")).to_have_count(1, timeout=10_000)  # listed within a poll
    page.locator("#world").select_option("demo")
    expect(page).to_have_url(f"{server.url}/w/demo/__fake__/")
    expect(page.locator("#connection")).to_have_text("live")
    expect(page.locator("#world")).to_have_value("demo")
    expect(page.locator("tr.task")).to_have_count(len(DEFAULT_TASKS) + 1)  # demo's own task besides the fixtures
    page.locator("#world").select_option("")
    expect(page).to_have_url(f"{server.url}/__fake__/")
    expect(page.locator("tr.task")).to_have_count(len(DEFAULT_TASKS))

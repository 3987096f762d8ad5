"""The schedule trusts the next step it worked out for a workspace until one of the world's
mutators touches it (schedule.py): after any action, the kept steps are those worked out afresh."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fakeserver.fake import FakeCoder

AI_VERSION_ID = "0ba39c92-1f1b-4c32-aa3e-9925d7713eb1"


ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("job"), st.sampled_from(["running", "succeeded", "failed", "canceling", "canceled"])),
        st.tuples(st.just("agent"), st.sampled_from(["created", "starting", "ready", "start_error", "off"])),
        st.tuples(st.just("disconnect"), st.booleans()),
        st.tuples(st.just("health"), st.sampled_from(["initializing", "healthy", "unhealthy"])),
        st.tuples(st.just("status"), st.sampled_from(["working", "idle", "complete", "failure"])),
        st.tuples(st.just("agent_says"), st.just("Done.")),
        st.tuples(st.just("api"), st.sampled_from(["pause", "resume", "send", "delete", "create"])),
        st.tuples(st.just("advance"), st.sampled_from([0.25, 1.0, 2.5, 10.0])),
    ),
    max_size=15,
)


def kept_and_fresh_steps(fake: FakeCoder) -> tuple[dict[str, Any], dict[str, Any]]:
    from fakeserver import lifecycle

    world = fake.world
    with fake.lock:
        kept = world.schedule.upcoming(lambda ws_id: lifecycle.next_step(world, world.workspaces[ws_id]))
        fresh = {ws.id: step.due for ws in world.workspaces.values() if (step := lifecycle.next_step(world, ws))}
    return kept, fresh


@settings(max_examples=60, deadline=None)
@given(actions=ACTIONS, which=st.sampled_from(["fix-login-bug", "write-docs", "new"]))
def test_every_action_leaves_the_kept_steps_as_fresh_ones(actions: list[tuple[str, Any]], which: str) -> None:
    fake = FakeCoder()
    with fake.client("alice") as alice:
        if which == "new":
            created = alice.post("/api/v2/tasks/me", json={"template_version_id": AI_VERSION_ID, "input": "Go"})
            which = created.json()["name"]
        ref = f"alice/{which}"
        for kind, value in actions:
            try:
                if kind == "job":
                    fake.set_job(ref, value)
                elif kind == "agent":
                    fake.set_agent(ref, lifecycle=value)
                elif kind == "disconnect":
                    fake.set_agent(ref, disconnected=value)
                elif kind == "health":
                    fake.set_app_health(ref, value)
                elif kind == "status":
                    fake.report_status(ref, value, "Now")
                elif kind == "agent_says":
                    fake.agent_says(ref, value)
                elif kind == "advance":
                    fake.advance(value)
                elif value == "create":
                    alice.post("/api/v2/tasks/me", json={"template_version_id": AI_VERSION_ID, "input": "More"})
                else:
                    task_id = fake.task(ref)["id"]
                    path = f"/api/v2/tasks/alice/{task_id}"
                    if value == "delete":
                        alice.delete(path)
                    elif value == "send":
                        alice.post(f"{path}/send", json={"input": "And then?"})
                    else:
                        alice.post(f"{path}/{value}")
            except Exception as error:  # an action refused in this state (no agent yet, a build active...)
                if type(error).__name__ not in ("NotFound", "Conflict", "Invalid", "BuildAlreadyActive"):
                    raise
            kept, fresh = kept_and_fresh_steps(fake)
            assert kept == fresh, (kind, value)


def test_a_replaced_world_is_freed_without_the_cycle_collector() -> None:
    """A world holds its next steps but not itself: dropped (a reset, a test's fake gone), it is
    freed at once, not when the collector next looks (which a served fake may put off for long)."""
    import gc
    import weakref

    fake = FakeCoder()
    with fake.client("alice") as alice:
        alice.post("/api/v2/tasks/me", json={"template_version_id": AI_VERSION_ID, "input": "Go"})
        fake.advance(1.5)  # steps worked out and kept, one applied
        alice.get("/api/v2/tasks")
    kept, _ = kept_and_fresh_steps(fake)
    assert kept  # steps worked out and kept
    old = weakref.ref(fake.world)
    old_schedule = weakref.ref(fake.world.schedule)  # its kept steps hold no way back to it
    gc.disable()
    try:
        fake.reset()
        assert old() is None, [type(r).__name__ for r in gc.get_referrers(old())]
        assert old_schedule() is None
    finally:
        gc.enable()

"""The task operations (coderd/aitasks.go), bound by operationId.

Each handler resolves `{user}` and `{task}` as coderd's middleware does,
checks what the real handler checks in the same order, and answers with the
same status codes and messages.
"""

from __future__ import annotations

from typing import Any

from fakeserver import agent as fake_agent
from fakeserver import derive
from fakeserver.errors import ApiError, Validation, not_found
from fakeserver.gotext import go_quote
from fakeserver.handlers.lookup import caller_of
from fakeserver.models import Agent, Task, Template, TemplateVersion, User, Workspace
from fakeserver.names import DISPLAY_NAME_MAX_BYTES, complete_names, name_error
from fakeserver.query import QueryError, TaskFilter, parse_task_filter
from fakeserver.releases import SEND_WHILE_BUSY_CONFLICT
from fakeserver.routing import Call, Handler, Reply
from fakeserver.serialize import LOG_TYPES, build_json, log_entry, log_entry_json, task_wire
from fakeserver.timefmt import format_time, parse_time
from fakeserver.uuids import NIL_UUID, parse_uuid
from fakeserver.wire import WireList
from fakeserver.world import World

TEMPLATE_VERSION_NOT_FOUND = "Template version not found or you do not have access to this resource"


# {user} and {task}


def resolve_user(call: Call) -> User:
    value = call.params["user"]
    if value == "me":
        return caller_of(call)
    user = call.world.user_by_ref(value)
    if user is None:
        raise ApiError(400, '"user" must be an existing uuid or username.', f"queried user={go_quote(value)}")
    return user


def can_read(caller: User, task: Task) -> bool:
    return caller.is_owner or task.owner_id == caller.id


def resolve_task(call: Call) -> Task:
    """A UUID is looked up across users (the `{user}` segment is then ignored); else a name within `{user}`."""
    owner = resolve_user(call)
    caller = caller_of(call)
    value = call.params["task"]
    task_id = parse_uuid(value)
    task = call.world.live_task(task_id) if task_id is not None else None
    if task is None:
        task = call.world.task_by_name(owner.id, value)
    if task is None or not can_read(caller, task):
        raise not_found()
    call.task_id = task.id
    return task


# list and create


LISTINGS_KEPT = 16  # distinct filters whose lists are kept at once (world.listing_cache)


def list_tasks(call: Call) -> Reply:
    world = call.world
    caller = caller_of(call)
    task_filter = _task_filter(world, caller, call.params.get("q", ""))
    key = (caller.id if not caller.is_owner else None, task_filter)  # a member's list is theirs alone
    listed = world.listing_cache.get(key)
    if listed is None:
        tasks = _listed_tasks(world, caller, task_filter)
        if task_filter.status is not None:
            tasks = [task for task in tasks if derive.status_of(world.workspace_of(task)) == task_filter.status]
        listed = WireList([task_wire(world, task) for task in tasks])
        if len(world.listing_cache) >= LISTINGS_KEPT:
            world.listing_cache.clear()
        world.listing_cache[key] = listed
    return Reply(200, {"tasks": listed, "count": len(listed.items)})


def _task_filter(world: World, caller: User, query: str) -> TaskFilter:
    def find_user_id(name: str) -> str | None:
        user = world.user_by_name(name)
        return user.id if user is not None else None

    def find_org_id(name: str) -> str | None:
        organization = world.organization_by_ref(name)
        return organization.id if organization is not None else None

    try:
        return parse_task_filter(query, me=caller.id, find_user_id=find_user_id, find_org_id=find_org_id)
    except QueryError as error:
        raise ApiError(400, "Invalid task search query.", validations=error.validations) from None


def _listed_tasks(world: World, caller: User, task_filter: TaskFilter) -> list[Task]:
    """The live tasks the caller may read that match the owner and organization, newest first."""
    owner_id = task_filter.owner_id
    if not caller.is_owner:  # a member reads only their own tasks
        if owner_id not in (None, caller.id):
            return []
        owner_id = caller.id
    organization_id = task_filter.organization_id
    tasks = world.live_tasks_newest_first()
    if owner_id is not None:
        tasks = [task for task in tasks if task.owner_id == owner_id]
    if organization_id is not None:
        tasks = [task for task in tasks if task.organization_id == organization_id]
    return tasks


def create_task(call: Call) -> Reply:
    world = call.world
    caller = caller_of(call)
    owner = resolve_user(call)  # coderd's middleware resolves {user} before the body is read
    body: dict[str, Any] = call.body
    version = _visible_version(world, caller, str(body["template_version_id"]))
    if not version.has_ai_task:
        raise ApiError(400, 'Template does not have a valid "coder_ai_task" resource.')
    name = str(body.get("name") or "")
    if name and (problem := name_error(name)) is not None:
        raise ApiError(400, "Unable to create a Task with the provided name.", problem)
    display_name = str(body.get("display_name") or "").strip()
    if len(display_name.encode("utf-8")) > DISPLAY_NAME_MAX_BYTES:
        raise ApiError(400, "Display name must be 64 characters or less.")
    prompt = str(body.get("input") or "")
    name, display_name = complete_names(name, display_name, prompt, world.name_rng)
    if owner.id != caller.id and not caller.is_owner:
        raise ApiError(403, "Unauthorized to create workspace.")
    template = world.templates[version.template_id]
    _check_can_build(world, owner, template, version, name)
    preset_id = _preset_id(world, version, body.get("template_version_preset_id"))  # the builder's check: last
    task = Task(
        id=world.new_id(),
        organization_id=version.organization_id,
        owner_id=owner.id,
        name=name,
        display_name=display_name,
        template_version_id=version.id,
        prompt=prompt,
        created_at=world.now(),
        workspace_id=None,
    )
    world.add_task(task, None)
    call.task_id = task.id
    world.create_workspace(task, template, caller, preset_id)
    return Reply(201, task_wire(world, task))


def _visible_version(world: World, caller: User, version_id: str) -> TemplateVersion:
    version = world.versions.get(version_id)
    if version is None or not (caller.is_owner or version.organization_id in caller.organization_ids):
        raise ApiError(400, TEMPLATE_VERSION_NOT_FOUND)
    return version


def _preset_id(world: World, version: TemplateVersion, preset_id: object) -> str | None:
    # codersdk sends the nil UUID when no preset was chosen (a uuid.UUID is never `omitempty`)
    if not preset_id or preset_id == NIL_UUID:
        return None
    preset = world.presets.get(str(preset_id))
    if preset is None or preset.template_version_id != version.id:
        raise ApiError(400, "Invalid template version preset.", f"Preset {preset_id} does not belong to this version.")
    return preset.id


def _check_can_build(world: World, owner: User, template: Template, version: TemplateVersion, name: str) -> None:
    """The checks coderd's createWorkspace and wsbuilder make before the first build."""
    if template.deprecated:
        raise ApiError(
            400, f'Template "{template.name}" has been deprecated, and cannot be used to create a new workspace.'
        )
    if version.archived:  # coderd answers this one with a 500, oddly
        raise ApiError(500, "Archived template versions cannot be used to make a workspace.")
    if world.workspace_by_name(owner.id, name) is not None:
        raise ApiError(
            409,
            f'Workspace "{name}" already exists.',
            validations=[Validation("name", "This value is already in use and should be unique.")],
        )
    if version.job_status in ("pending", "running"):
        state = version.job_status
        raise ApiError(406, f"The provided template version is {state}. Wait for it to complete importing!")
    if version.job_status != "succeeded":  # the fake keeps no import error text: coderd's would follow the colon
        raise ApiError(
            400,
            f'The provided template version "{version.name}" has failed to import: "". '
            "You cannot build workspaces with it!",
        )


# one task


def get_task(call: Call) -> Reply:
    task = resolve_task(call)
    if task.workspace_id is None:
        raise ApiError(500, "Internal error fetching task.", "Task workspace ID is invalid.")
    return Reply(200, task_wire(call.world, task))


def delete_task(call: Call) -> Reply:
    task = resolve_task(call)
    workspace = call.world.workspace_of(task)
    if workspace is not None:
        call.world.start_build(workspace, "delete", "initiator", caller_of(call).id)
    call.world.delete_task(task)
    return Reply(202)


def update_task_input(call: Call) -> Reply:
    task = resolve_task(call)
    text: str = call.body["input"]  # its checks come before the status check, as in coderd
    status = derive.status_of(call.world.workspace_of(task))
    if status != "paused":
        raise ApiError(
            409,
            "Unable to update task input, task must be paused.",
            "Please stop the task's workspace before updating the input.",
        )
    call.world.set_prompt(task, text)
    return Reply(204)


def send_task_input(call: Call) -> Reply:
    task = resolve_task(call)
    text: str = call.body["input"]  # an empty input is refused before the status gate, as in coderd
    workspace = call.world.workspace_of(task)
    _require_active(derive.status_of(workspace), "send messages")
    agent, workspace = _reachable_agent(workspace)
    if fake_agent.is_busy(task):
        status = 409 if call.world.release.has(SEND_WHILE_BUSY_CONFLICT) else 502
        raise ApiError(status, "Task app is not ready to accept input.", "Status: running")
    fake_agent.receive(call.world, task, workspace, agent, text)
    return Reply(204)


def get_task_logs(call: Call) -> Reply:
    task = resolve_task(call)
    workspace = call.world.workspace_of(task)
    status = derive.status_of(workspace)
    if status in ("error", "unknown"):
        raise ApiError(409, "Cannot fetch logs for task in current state.", f'Task status is "{status}".')
    if status == "active":
        _reachable_agent(workspace)
        return Reply(200, {"logs": [log_entry_json(message) for message in task.conversation]})
    return Reply(200, _snapshot_logs(task))


def pause_task(call: Call) -> Reply:
    task = resolve_task(call)
    workspace = _workspace_for_build(call, task)
    build = call.world.start_build(workspace, "stop", "task_manual_pause", caller_of(call).id)
    return Reply(202, {"workspace_build": build_json(call.world, workspace, build)})


def resume_task(call: Call) -> Reply:
    task = resolve_task(call)
    workspace = _workspace_for_build(call, task)
    latest = workspace.latest_build
    state = derive.workspace_status(latest.transition, latest.job.status)
    if state == "running":
        raise ApiError(409, "Task workspace is already running.", f'Workspace status is "{state}".')
    build = call.world.start_build(workspace, "start", "task_resume", caller_of(call).id)
    return Reply(202, {"workspace_build": build_json(call.world, workspace, build)})


def _workspace_for_build(call: Call, task: Task) -> Workspace:
    workspace = call.world.workspace_of(task)
    if workspace is None:
        raise ApiError(500, "Task does not have a workspace.")
    return workspace


def _require_active(status: str, action: str) -> None:
    if status in ("pending", "initializing"):
        raise ApiError(
            409,
            f"Task is {status}.",
            "The task is resuming. Wait for the task to become active before sending messages.",
        )
    if status == "paused":
        raise ApiError(409, "Task is paused.", f"Resume the task to {action}.")
    if status != "active":
        raise ApiError(
            400, "Task must be active.", f'Task status is "{status}", it must be "active" to interact with the task.'
        )


def _reachable_agent(workspace: Workspace | None) -> tuple[Agent, Workspace]:
    if workspace is None:
        raise ApiError(400, "Task does not have a workspace.")
    agent = derive.linked_agent(workspace.latest_build)
    if agent is None:
        raise ApiError(400, "Task does not have a workspace app.")
    if agent.disconnected:
        raise ApiError(502, "Failed to reach task app endpoint.")
    return agent, workspace


def _snapshot_logs(task: Task) -> dict[str, Any]:
    snapshot = task.snapshot
    if snapshot is None:
        return {"logs": [], "snapshot": True}
    if snapshot.format != "agentapi":
        raise ApiError(
            500, "Unsupported task snapshot format.", f'Expected format "agentapi", got "{snapshot.format}".'
        )
    messages = snapshot.payload.get("messages")
    if not isinstance(messages, list):
        raise ApiError(500, "Internal error decoding task snapshot.")
    logs = [_snapshot_entry(message) for message in messages]
    return {"logs": logs, "snapshot": True, "snapshot_at": format_time(snapshot.created_at)}


def _snapshot_entry(message: Any) -> dict[str, Any]:
    if not isinstance(message, dict):
        raise ApiError(500, "Internal error decoding task snapshot.")
    role = message.get("role")
    if role not in LOG_TYPES:
        raise ApiError(500, "Invalid snapshot data.")
    try:
        time = parse_time(str(message.get("time") or "0001-01-01T00:00:00Z"))
    except ValueError:
        raise ApiError(500, "Internal error decoding task snapshot.") from None
    return log_entry(int(message.get("id") or 0), str(message.get("content") or ""), role, time)


HANDLERS: dict[str, Handler] = {
    "listTasks": list_tasks,
    "createTask": create_task,
    "getTask": get_task,
    "deleteTask": delete_task,
    "updateTaskInput": update_task_input,
    "sendTaskInput": send_task_input,
    "getTaskLogs": get_task_logs,
    "pauseTask": pause_task,
    "resumeTask": resume_task,
}

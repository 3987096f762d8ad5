"""Workspaces and their builds (coderd/workspaces.go, workspacebuilds.go, provisionerjobs.go):
what a client reads to show a task's workspace, and what `coder task pause` and `resume` watch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fakeserver.buildlogs import logs_after
from fakeserver.errors import ApiError, Validation, not_found
from fakeserver.gotext import GoBoolError, go_quote, parse_go_bool
from fakeserver.handlers.lookup import caller_of, can_read_workspace, user_param, uuid_param
from fakeserver.models import Build, Workspace
from fakeserver.routing import Call, Handler, Reply
from fakeserver.serialize import build_json, workspace_json
from fakeserver.streams import Stream, StreamHandler
from fakeserver.world import World


def get_workspace(call: Call) -> Reply:
    workspace = call.world.workspaces.get(uuid_param(call, "workspace"))
    if workspace is None or not can_read_workspace(caller_of(call), workspace):
        raise not_found()
    include_deleted = _include_deleted(call, "deleted")  # checked whether or not the workspace is deleted
    if workspace.deleted and not include_deleted:
        raise ApiError(
            410,
            f"Workspace {go_quote(workspace.id)} was deleted, "
            "you can view this workspace by specifying '?deleted=true' and trying again.",
        )
    return Reply(200, workspace_json(call.world, workspace))


def get_workspace_by_owner_and_name(call: Call) -> Reply:
    owner = user_param(call)
    name = call.params["workspacename"]
    include_deleted = _include_deleted(call, "include_deleted")
    workspace = call.world.workspace_by_name(owner.id, name)
    if workspace is None and include_deleted:
        workspace = _latest_deleted(call, owner.id, name)
    if workspace is None or not can_read_workspace(caller_of(call), workspace):
        raise not_found()
    return Reply(200, workspace_json(call.world, workspace))


def _latest_deleted(call: Call, owner_id: str, name: str) -> Workspace | None:
    deleted = [
        workspace
        for workspace in call.world.workspaces.values()
        if workspace.deleted and workspace.owner_id == owner_id and workspace.name.lower() == name.lower()
    ]
    return max(deleted, key=lambda workspace: workspace.created_at, default=None)


def _include_deleted(call: Call, field: str) -> bool:
    """coderd's strconv.ParseBool of `include_deleted` (its validation names the field differently per route)."""
    raw = call.params.get("include_deleted", "")
    if not raw:
        return False
    try:
        return parse_go_bool(raw)
    except GoBoolError:
        raise ApiError(
            400,
            f'Invalid boolean value {go_quote(raw)} for "include_deleted" query param.',
            validations=[Validation(field, "Must be a valid boolean")],
        ) from None


def build_param(call: Call) -> tuple[Workspace, Build]:
    """httpmw.ExtractWorkspaceBuildParam: a build of a workspace the caller can read."""
    build_id = uuid_param(call, "workspacebuild")
    caller = caller_of(call)
    for workspace in call.world.workspaces.values():
        for build in workspace.builds:
            if build.id == build_id and can_read_workspace(caller, workspace):
                return workspace, build
    raise not_found()


def get_workspace_build(call: Call) -> Reply:
    workspace, build = build_param(call)
    return Reply(200, build_json(call.world, workspace, build))


NOT_AN_UPGRADE = 'WebSocket protocol violation: Connection header "" does not contain Upgrade'


def get_workspace_build_logs(call: Call) -> Reply:
    """The logs so far; `follow` is a WebSocket (streams.py), which a plain request cannot open."""
    _, build = build_param(call)
    after = logs_cursor(call)
    if "follow" in call.params:
        raise ApiError(400, "Failed to accept websocket.", NOT_AN_UPGRADE)
    return Reply(200, [log.to_json() for log in logs_after(build, after)])


def logs_cursor(call: Call) -> int:
    raw = call.params.get("after", "")
    if not raw:
        return 0
    try:
        return _go_int64(raw)
    except ValueError:
        raise ApiError(
            400, 'Query param "after" must be an integer.', validations=[Validation("after", "Must be an integer")]
        ) from None


def _go_int64(raw: str) -> int:
    """strconv.ParseInt(raw, 10, 64): an optional sign and ASCII digits, within int64."""
    digits = raw[1:] if raw[:1] in "+-" else raw
    if not digits or not digits.isascii() or not digits.isdigit():
        raise ValueError(raw)
    value = int(raw)
    if not -(2**63) <= value < 2**63:
        raise ValueError(raw)
    return value


def get_workspace_build_parameters(call: Call) -> Reply:
    """The build's parameter values: those of its preset (the fake's templates have no others)."""
    _, build = build_param(call)
    preset = call.world.presets.get(build.preset_id or "")
    values = preset.parameters.items() if preset is not None else ()
    return Reply(200, [{"name": name, "value": value} for name, value in values])


@dataclass
class BuildLogStream:
    """`?follow`: each new log as it is written, until the build's job has ended (coderd's logFollower)."""

    build: Build
    after: int

    def poll(self, world: World) -> tuple[list[Any], bool]:
        logs = logs_after(self.build, self.after)
        if logs:
            self.after = logs[-1].id
        return [log.to_json() for log in logs], self.build.job.completed_at is not None


def follow_workspace_build_logs(call: Call) -> Stream:
    _, build = build_param(call)
    return BuildLogStream(build, logs_cursor(call))


STREAM_HANDLERS: dict[str, StreamHandler] = {"getWorkspaceBuildLogs": follow_workspace_build_logs}

HANDLERS: dict[str, Handler] = {
    "getWorkspace": get_workspace,
    "getWorkspaceByOwnerAndName": get_workspace_by_owner_and_name,
    "getWorkspaceBuild": get_workspace_build,
    "getWorkspaceBuildLogs": get_workspace_build_logs,
    "getWorkspaceBuildParameters": get_workspace_build_parameters,
}

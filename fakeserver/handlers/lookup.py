"""How coderd's middleware resolves the path parameters of the non-task routes (httpmw), and who
may read what: a site owner reads everything; a member reads themselves, their organizations,
those organizations' templates, and their own workspaces."""

from __future__ import annotations

from fakeserver.errors import ApiError, not_found
from fakeserver.gotext import go_quote
from fakeserver.models import Organization, Template, User, Workspace
from fakeserver.routing import Call
from fakeserver.uuids import parse_uuid, uuid_error


def caller_of(call: Call) -> User:
    user = call.principal.user
    assert user is not None, "these operations authenticate a user"
    return user


def uuid_param(call: Call, name: str) -> str:
    """httpmw.ParseUUIDParam: a path parameter that must be a UUID."""
    value = call.params[name]
    parsed = parse_uuid(value)
    if parsed is None:
        raise ApiError(400, f"Invalid UUID {go_quote(value)}.", uuid_error(value))
    return parsed


def user_param(call: Call) -> User:
    """httpmw.ExtractUserParam: `me`, a UUID or a username; a user the caller cannot read is not found."""
    caller = caller_of(call)
    value = call.params["user"]
    user = caller if value == "me" else call.world.user_by_ref(value)
    if user is None or not (caller.is_owner or user.id == caller.id):
        raise not_found()
    return user


def organization_param(call: Call) -> Organization:
    """httpmw.ExtractOrganizationParam: a UUID or a name."""
    organization = call.world.organization_by_ref(call.params["organization"])
    if organization is None or not can_read_organization(caller_of(call), organization):
        raise not_found()
    return organization


def template_param(call: Call) -> Template:
    template = call.world.templates.get(uuid_param(call, "template"))
    if template is None or not can_read_template(caller_of(call), template):
        raise not_found()
    return template


def can_read_organization(caller: User, organization: Organization) -> bool:
    return caller.is_owner or organization.id in caller.organization_ids


def can_read_template(caller: User, template: Template) -> bool:
    return caller.is_owner or template.organization_id in caller.organization_ids


def can_read_workspace(caller: User, workspace: Workspace) -> bool:
    return caller.is_owner or workspace.owner_id == caller.id

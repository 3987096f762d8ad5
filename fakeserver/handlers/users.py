"""Build info, users and organizations (coderd/buildinfo.go, users.go, organizations.go)."""

from __future__ import annotations

from fakeserver.buildinfo import build_info
from fakeserver.catalog import organization_json, user_json
from fakeserver.handlers.lookup import caller_of, can_read_organization, organization_param, user_param
from fakeserver.routing import Call, Handler, Reply


def get_build_info(call: Call) -> Reply:
    return Reply(200, build_info(call.world.release, call.base_url()))


def get_user(call: Call) -> Reply:
    return Reply(200, user_json(call.world, user_param(call)))


def get_organizations_by_user(call: Call) -> Reply:
    """The user's organizations the caller can read, in the order the world holds them."""
    world = call.world
    user = user_param(call)
    caller = caller_of(call)
    organizations = [
        organization
        for organization in world.organizations.values()
        if organization.id in user.organization_ids and can_read_organization(caller, organization)
    ]
    return Reply(200, [organization_json(world, organization) for organization in organizations])


def get_organization(call: Call) -> Reply:
    return Reply(200, organization_json(call.world, organization_param(call)))


HANDLERS: dict[str, Handler] = {
    "getBuildInfo": get_build_info,
    "getUser": get_user,
    "getOrganizationsByUser": get_organizations_by_user,
    "getOrganization": get_organization,
}

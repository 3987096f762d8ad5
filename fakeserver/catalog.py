"""Users, organizations, templates, versions and presets as coderd puts them on the wire.

The fake stores only what a task needs of them; every other codersdk field gets the value a
fresh deployment shows (a template with no schedule, a version imported when the deployment
was set up). Ids of records the fake does not store (a version's import job, its file) are
derived from the record's own id, so they are stable without drawing from the world's ids.
"""

from __future__ import annotations

from typing import Any

from fakeserver.models import Job, Organization, Preset, Template, TemplateVersion, User
from fakeserver.serialize import provisioner_job_json
from fakeserver.timefmt import format_time
from fakeserver.uuids import NIL_UUID, derived_id
from fakeserver.world import World

JSONObject = dict[str, Any]
IMPLICIT_ROLES = frozenset({"member"})  # every user has it; coderd does not list it
ONE_HOUR_MS = 3_600_000


def user_json(world: World, user: User) -> JSONObject:
    """codersdk.User."""
    founded = format_time(world.founded_at)
    body: JSONObject = {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "created_at": founded,
        "updated_at": founded,
        "last_seen_at": format_time(world.now()),
        "status": user.status,
        "login_type": "password",
        "organization_ids": list(user.organization_ids),
        "roles": [role_json(role) for role in user.roles if role not in IMPLICIT_ROLES],
    }
    if user.name:
        body["name"] = user.name
    if user.avatar_url:
        body["avatar_url"] = user.avatar_url
    return body


def role_json(name: str) -> JSONObject:
    """codersdk.SlimRole of a site role (`template-admin` shows as `Template Admin`)."""
    return {"name": name, "display_name": name.replace("-", " ").title()}


def minimal_user_json(user: User | None) -> JSONObject:
    if user is None:
        return {"id": NIL_UUID, "username": ""}
    body: JSONObject = {"id": user.id, "username": user.username}
    if user.name:
        body["name"] = user.name
    if user.avatar_url:
        body["avatar_url"] = user.avatar_url
    return body


def organization_json(world: World, organization: Organization) -> JSONObject:
    """codersdk.Organization."""
    founded = format_time(world.founded_at)
    return {
        "id": organization.id,
        "name": organization.name,
        "display_name": organization.display_name,
        "icon": organization.icon,
        "description": "",
        "created_at": founded,
        "updated_at": founded,
        "is_default": organization.is_default,
    }


def template_json(world: World, template: Template) -> JSONObject:
    """codersdk.Template: a template with no schedule, as `coder templates push` leaves it."""
    organization = world.organizations[template.organization_id]
    author = world.template_author()
    founded = format_time(world.founded_at)
    no_stats = {"P50": None, "P95": None}
    return {
        "id": template.id,
        "created_at": founded,
        "updated_at": founded,
        "organization_id": organization.id,
        "organization_name": organization.name,
        "organization_display_name": organization.display_name,
        "organization_icon": organization.icon,
        "name": template.name,
        "display_name": template.display_name,
        "provisioner": "terraform",
        "active_version_id": template.active_version_id,
        "active_user_count": _active_user_count(world, template),
        "build_time_stats": {transition: dict(no_stats) for transition in ("start", "stop", "delete")},
        "description": "",
        "deprecated": bool(template.deprecated),
        "deprecation_message": template.deprecated,
        "deleted": False,
        "icon": template.icon,
        "default_ttl_ms": 0,
        "activity_bump_ms": ONE_HOUR_MS,
        "autostop_requirement": {"days_of_week": [], "weeks": 1},
        "autostart_requirement": {
            "days_of_week": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
        },
        "created_by_id": author.id if author else NIL_UUID,
        "created_by_name": author.username if author else "",
        "allow_user_autostart": True,
        "allow_user_autostop": True,
        "allow_user_cancel_workspace_jobs": False,
        "failure_ttl_ms": 0,
        "time_til_dormant_ms": 0,
        "time_til_dormant_autodelete_ms": 0,
        "require_active_version": False,
        "max_port_share_level": "owner",
        "cors_behavior": "simple",
        "use_classic_parameter_flow": False,
        "disable_module_cache": False,
    }


def _active_user_count(world: World, template: Template) -> int:
    return len({ws.owner_id for ws in world.workspaces.values() if ws.template_id == template.id and not ws.deleted})


def version_json(world: World, version: TemplateVersion) -> JSONObject:
    """codersdk.TemplateVersion, with the import job that made it."""
    template = world.templates[version.template_id]
    author = world.template_author()
    founded = format_time(world.founded_at)
    return {
        "id": version.id,
        "template_id": version.template_id,
        "organization_id": version.organization_id,
        "created_at": founded,
        "updated_at": founded,
        "name": version.name,
        "message": "",
        "job": _import_job_json(world, version, template, author),
        "readme": "",
        "created_by": minimal_user_json(author),
        "archived": version.archived,
        "matched_provisioners": {"count": 1, "available": 1, "most_recently_seen": format_time(world.now())},
        "has_external_agent": False,
    }


def _import_job_json(world: World, version: TemplateVersion, template: Template, author: User | None) -> JSONObject:
    """The job that imported the version, run when the deployment was set up."""
    founded = world.founded_at
    status = version.job_status
    job = Job(
        id=derived_id(version.id, "import job"),
        file_id=derived_id(version.id, "file"),
        created_at=founded,
        status=status,
        started_at=founded if status != "pending" else None,
        completed_at=founded if status in ("succeeded", "failed", "canceled") else None,
        canceled_at=founded if status == "canceled" else None,
    )
    metadata = {
        "template_version_name": version.name,
        "template_id": template.id,
        "template_name": template.name,
        "template_display_name": template.display_name,
        "template_icon": template.icon,
    }
    return provisioner_job_json(
        job,
        organization_id=version.organization_id,
        initiator_id=author.id if author else NIL_UUID,
        job_input={"template_version_id": version.id},
        job_type="template_version_import",
        metadata=metadata,
    )


def preset_json(preset: Preset) -> JSONObject:
    """codersdk.Preset, whose fields have no json tags and so keep their Go names."""
    parameters = [{"Name": name, "Value": value} for name, value in preset.parameters.items()]
    return {
        "ID": preset.id,
        "Name": preset.name,
        "Parameters": parameters or None,
        "Default": preset.default,
        "DesiredPrebuildInstances": None,
        "Description": preset.description,
        "Icon": "",
    }

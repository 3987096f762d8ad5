"""Templates, their versions and presets (coderd/templates.go, templateversions.go, presets.go):
what a client reads to fill a task's `template_version_id` and `template_version_preset_id`."""

from __future__ import annotations

from fakeserver.catalog import preset_json, template_json, version_json
from fakeserver.errors import ApiError, Validation, not_found
from fakeserver.gotext import GoBoolError, go_quote, parse_go_bool
from fakeserver.handlers.lookup import caller_of, can_read_template, organization_param, template_param, uuid_param
from fakeserver.models import Template, TemplateVersion, User
from fakeserver.query import QueryError, TemplateFilter, parse_template_filter
from fakeserver.routing import Call, Handler, Reply
from fakeserver.world import World


def list_templates(call: Call) -> Reply:
    """Ordered by (name, id); deprecated templates only when the query asks for them."""
    world = call.world
    caller = caller_of(call)
    template_filter = _template_filter(world, caller, call.params.get("q", ""))
    author = world.template_author()
    templates = sorted(
        (
            template
            for template in world.templates.values()
            if can_read_template(caller, template) and _matches(world, template, author, template_filter)
        ),
        key=lambda template: (template.name, template.id),
    )
    return Reply(200, [template_json(world, template) for template in templates])


def _template_filter(world: World, caller: User, query: str) -> TemplateFilter:
    def find_org_id(name: str) -> str | None:
        organization = world.organization_by_ref(name)
        return organization.id if organization is not None else None

    try:
        return parse_template_filter(query, me=caller.id, find_org_id=find_org_id)
    except QueryError as error:
        raise ApiError(400, "Invalid template search query.", validations=error.validations) from None


def _matches(world: World, template: Template, author: User | None, f: TemplateFilter) -> bool:
    """GetTemplatesWithFilter's WHERE clause; `has-ai-task` is that of the active version."""
    name, display_name = template.name.lower(), template.display_name.lower()
    active = world.versions.get(template.active_version_id)
    checks = (
        not f.deleted,  # the fake deletes no templates
        f.organization_id is None or template.organization_id == f.organization_id,
        not f.exact_name or name == f.exact_name.lower(),
        not f.exact_display_name or display_name == f.exact_display_name.lower(),
        not f.fuzzy_name or f.fuzzy_name.lower() in name,
        not f.fuzzy_display_name or _display_name_matches(name, display_name, f.fuzzy_display_name.lower()),
        not f.ids or template.id in f.ids,
        bool(template.deprecated) == bool(f.deprecated),  # coderd's default: not deprecated
        f.has_ai_task is None or (active is not None and bool(active.has_ai_task) == f.has_ai_task),
        f.author_id is None or (author is not None and author.id == f.author_id),
        not f.author_username or (author is not None and author.username.lower() == f.author_username.lower()),
        not f.has_external_agent,  # no template of the fake has an external agent
    )
    return all(checks)


def _display_name_matches(name: str, display_name: str, search: str) -> bool:
    """A display name is searched by substring; a template without one by its name, spaces dropped."""
    if display_name:
        return search in display_name
    return search.replace(" ", "") in name


def get_template(call: Call) -> Reply:
    return Reply(200, template_json(call.world, template_param(call)))


def get_template_by_organization_and_name(call: Call) -> Reply:
    return Reply(200, template_json(call.world, _template_by_name(call)))


def _template_by_name(call: Call) -> Template:
    organization = organization_param(call)
    name = call.params["templatename"].lower()
    template = next(
        (
            template
            for template in call.world.templates.values()
            if template.organization_id == organization.id and template.name.lower() == name
        ),
        None,
    )
    if template is None or not can_read_template(caller_of(call), template):
        raise not_found()
    return template


def list_template_versions(call: Call) -> Reply:
    """The template's versions, oldest first; archived ones only with `include_archived`."""
    template = template_param(call)
    raw = call.params.get("include_archived", "")
    try:
        include_archived = parse_go_bool(raw) if raw else False
    except GoBoolError as error:
        detail = f"Query param {go_quote('include_archived')} must be a valid boolean: {error}"
        raise ApiError(400, "Invalid query parameters.", validations=[Validation("include_archived", detail)]) from None
    versions = [v for v in call.world.versions_of(template) if include_archived or not v.archived]
    return Reply(200, [version_json(call.world, version) for version in versions])


def get_template_version(call: Call) -> Reply:
    return Reply(200, version_json(call.world, _version_param(call)))


def get_template_version_by_organization_and_name(call: Call) -> Reply:
    template = _template_by_name(call)
    name = call.params["templateversionname"]
    version = next((v for v in call.world.versions_of(template) if v.name == name), None)
    if version is None:
        raise ApiError(404, f"No template version found by name {go_quote(name)}.")
    return Reply(200, version_json(call.world, version))


def list_template_version_presets(call: Call) -> Reply:
    version = _version_param(call)
    return Reply(200, [preset_json(preset) for preset in call.world.presets_of(version)])


def _version_param(call: Call) -> TemplateVersion:
    """httpmw.ExtractTemplateVersionParam: a version of a template the caller can read."""
    world = call.world
    version = world.versions.get(uuid_param(call, "templateversion"))
    template = world.templates.get(version.template_id) if version is not None else None
    if version is None or template is None or not can_read_template(caller_of(call), template):
        raise not_found()
    return version


HANDLERS: dict[str, Handler] = {
    "listTemplates": list_templates,
    "getTemplate": get_template,
    "getTemplateByOrganizationAndName": get_template_by_organization_and_name,
    "listTemplateVersions": list_template_versions,
    "getTemplateVersion": get_template_version,
    "getTemplateVersionByOrganizationAndName": get_template_version_by_organization_and_name,
    "listTemplateVersionPresets": list_template_version_presets,
}

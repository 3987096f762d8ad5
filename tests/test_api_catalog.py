"""Build info, users, organizations, templates, versions and presets: the reads a client makes
before it creates a task, with coderd's RBAC and errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from conftest import ADMIN_ID, AI_TEMPLATE_ID, AI_VERSION_ID, ALICE_ID, NOT_FOUND, ORG_ID, PRESET_ID

from fakeserver import FakeCoder

# Two organizations: alice is in both, bob only in `coder`; a deprecated and an archived record.
TWO_ORGS = """
organizations:
  - name: coder
    id: 7c60d51f-b44e-4682-87d6-449835ea4de6
  - name: research
    id: 2b1a0f9e-8d7c-4b6a-9f5e-4d3c2b1a0f9e
    display_name: Research
    icon: /emojis/1f52c.png
users:
  - username: admin
    roles: [owner]
    tokens: [admin-token]
  - username: alice
    organizations: [coder, research]
    tokens: [alice-token]
  - username: bob
    tokens: [bob-token]
templates:
  - name: claude-code
    display_name: Claude Code
    icon: /icon/claude.svg
    versions:
      - name: v1
        presets:
          - name: Fast
            parameters: { model: haiku }
          - name: Bare
      - name: v0
        archived: true
  - name: lab-agent
    organization: research
    display_name: Lab Agent
    versions:
      - name: v1
  - name: old-agent
    deprecated: Use claude-code instead.
    versions:
      - name: v1
  - name: docker
    versions:
      - name: v1
        has_ai_task: false
"""


@pytest.fixture
def two_orgs() -> FakeCoder:
    fake = FakeCoder()
    fake.load_text(TWO_ORGS)
    return fake


def names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [template["name"] for template in response.json()]


def test_build_info_needs_no_token_and_names_the_release_and_where_it_was_reached(anonymous: httpx.Client) -> None:
    response = anonymous.get("/api/v2/buildinfo")
    assert response.status_code == 200
    info = response.json()
    assert info["version"] == response.headers["X-Coder-Build-Version"]
    assert info["version"].startswith("v2.")
    assert info["dashboard_url"] == "http://fakeserver"
    assert info["external_url"].endswith(info["version"])
    assert info["agent_api_version"] and info["provisioner_api_version"] and info["deployment_id"]


def test_every_answer_carries_the_build_version(alice: httpx.Client, anonymous: httpx.Client) -> None:
    versions = {
        alice.get("/api/v2/tasks").headers["X-Coder-Build-Version"],
        anonymous.get("/api/v2/tasks").headers["X-Coder-Build-Version"],
        alice.get("/api/v2/no/such/route").headers["X-Coder-Build-Version"],
    }
    assert versions == {anonymous.get("/api/v2/buildinfo").json()["version"]}


def test_me_is_the_caller_as_codersdk_user(alice: httpx.Client) -> None:
    user = alice.get("/api/v2/users/me").json()
    assert user["id"] == ALICE_ID
    assert user["username"] == "alice"
    assert user["name"] == "Alice Liddell"
    assert user["organization_ids"] == [ORG_ID]
    assert user["roles"] == []  # the implicit member role is not listed
    assert user["status"] == "active"
    assert user["login_type"] == "password"
    assert user["created_at"] < user["last_seen_at"]


def test_an_owner_shows_its_role_and_reads_any_user_by_name_or_id(admin: httpx.Client) -> None:
    me = admin.get("/api/v2/users/me").json()
    assert me["id"] == ADMIN_ID
    assert me["roles"] == [{"name": "owner", "display_name": "Owner"}]
    assert admin.get("/api/v2/users/alice").json()["id"] == ALICE_ID
    assert admin.get(f"/api/v2/users/{ALICE_ID}").json()["username"] == "alice"
    assert admin.get("/api/v2/users/ALICE").json()["id"] == ALICE_ID  # usernames are case-insensitive


def test_a_member_reads_only_themselves(alice: httpx.Client) -> None:
    assert alice.get("/api/v2/users/alice").status_code == 200
    for other in ("bob", ADMIN_ID, "nobody"):
        response = alice.get(f"/api/v2/users/{other}")
        assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_a_users_organizations_and_one_by_name_or_id(two_orgs: FakeCoder) -> None:
    with two_orgs.client("alice") as alice, two_orgs.client("bob") as bob:
        organizations = alice.get("/api/v2/users/me/organizations").json()
        assert [org["name"] for org in organizations] == ["coder", "research"]
        research = organizations[1]
        assert (research["display_name"], research["icon"], research["is_default"]) == (
            "Research",
            "/emojis/1f52c.png",
            False,
        )
        assert organizations[0]["is_default"] is True
        assert alice.get("/api/v2/organizations/research").json() == research
        assert alice.get(f"/api/v2/organizations/{research['id']}").json() == research
        assert [org["name"] for org in bob.get("/api/v2/users/me/organizations").json()] == ["coder"]
        assert bob.get("/api/v2/organizations/research").json() == NOT_FOUND
        assert bob.get("/api/v2/users/alice/organizations").status_code == 404


def test_templates_are_those_of_the_callers_organizations_ordered_by_name(two_orgs: FakeCoder) -> None:
    with two_orgs.client("alice") as alice, two_orgs.client("bob") as bob, two_orgs.client("admin") as admin:
        assert names(alice.get("/api/v2/templates")) == ["claude-code", "docker", "lab-agent"]
        assert names(bob.get("/api/v2/templates")) == ["claude-code", "docker"]
        assert names(admin.get("/api/v2/templates")) == ["claude-code", "docker", "lab-agent"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("has-ai-task:true", ["claude-code", "lab-agent"]),
        ("has-ai-task:false", ["docker"]),
        ("organization:research", ["lab-agent"]),
        ('organization:"7c60d51f-b44e-4682-87d6-449835ea4de6" has-ai-task:true', ["claude-code"]),
        ("deprecated:true", ["old-agent"]),
        ("deprecated:false", ["claude-code", "docker", "lab-agent"]),
        ("exact_name:CLAUDE-CODE", ["claude-code"]),
        ("name:agent", ["lab-agent"]),
        ("claude", ["claude-code"]),  # bare words search display names
        ("Lab Agent", ["lab-agent"]),
        ("docker", ["docker"]),  # no display name: the name, spaces dropped
        ("exact_display_name:claude", []),
        ("deleted:true", []),
        ("author:admin", ["claude-code", "docker", "lab-agent"]),
        ("author:alice", []),
        ("has_external_agent:true", []),
        (f"ids:{AI_TEMPLATE_ID}", []),  # the default world's id; this world drew its own
    ],
)
def test_the_template_query(two_orgs: FakeCoder, query: str, expected: list[str]) -> None:
    with two_orgs.client("alice") as alice:
        assert names(alice.get("/api/v2/templates", params={"q": query})) == expected


def test_templates_by_ids_and_author_me(two_orgs: FakeCoder) -> None:
    with two_orgs.client("alice") as alice, two_orgs.client("admin") as admin:
        templates = {t["name"]: t["id"] for t in admin.get("/api/v2/templates").json()}
        query = f"ids:{templates['docker']},{templates['lab-agent']}"
        assert names(alice.get("/api/v2/templates", params={"q": query})) == ["docker", "lab-agent"]
        assert names(admin.get("/api/v2/templates", params={"q": "author:me"})) == [
            "claude-code",
            "docker",
            "lab-agent",
        ]
        assert names(alice.get("/api/v2/templates", params={"q": "author:me"})) == []


@pytest.mark.parametrize(
    ("query", "validations"),
    [
        (
            "has-ai-task:yes",
            [
                {
                    "field": "has-ai-task",
                    "detail": 'Query param "has-ai-task" must be a valid boolean: '
                    'strconv.ParseBool: parsing "yes": invalid syntax',
                }
            ],
        ),
        ("flavour:mint", [{"field": "flavour", "detail": '"flavour" is not a valid query param'}]),
        (
            "organization:nowhere",
            [
                {
                    "field": "organization",
                    "detail": 'Query param "organization" has invalid value: organization "nowhere" either does not '
                    "exist, or you are unauthorized to view it",
                }
            ],
        ),
        (
            "name:a name:b",
            [
                {
                    "field": "name",
                    "detail": 'Query param "name" provided more than once, found 2 times. '
                    "Only provide 1 instance of this query param.",
                }
            ],
        ),
        ("author_id:x", [{"field": "author_id", "detail": 'Query param "author_id" must be a valid uuid'}]),
        ("ids:x", [{"field": "ids", "detail": 'Query param "ids" has invalid values: invalid UUID length: 1'}]),
        ("a:b:c", [{"field": "q", "detail": "Query element \"a:b:c\" can only contain 1 ':'"}]),
    ],
)
def test_a_bad_template_query_is_coderds_400(alice: httpx.Client, query: str, validations: list[Any]) -> None:
    response = alice.get("/api/v2/templates", params={"q": query})
    assert response.status_code == 400
    assert response.json() == {"message": "Invalid template search query.", "validations": validations}


def test_a_template_as_codersdk_puts_it(alice: httpx.Client) -> None:
    template = alice.get(f"/api/v2/templates/{AI_TEMPLATE_ID}").json()
    assert template["name"] == "claude-code"
    assert template["display_name"] == "Claude Code"
    assert template["icon"] == "/icon/claude.svg"
    assert template["active_version_id"] == AI_VERSION_ID
    assert template["organization_id"] == ORG_ID
    assert template["organization_name"] == "coder"
    assert template["created_by_id"] == ADMIN_ID
    assert template["created_by_name"] == "admin"
    assert template["deprecated"] is False and template["deprecation_message"] == ""
    assert template["build_time_stats"]["start"] == {"P50": None, "P95": None}
    assert template["active_user_count"] == 2  # alice and bob own its workspaces
    assert alice.get("/api/v2/organizations/coder/templates/claude-code").json() == template
    assert alice.get(f"/api/v2/organizations/{ORG_ID}/templates/Claude-Code").json() == template


def test_template_lookups_refuse_as_coderd_does(two_orgs: FakeCoder) -> None:
    with two_orgs.client("bob") as bob, two_orgs.client("admin") as admin:
        lab = next(t for t in admin.get("/api/v2/templates").json() if t["name"] == "lab-agent")
        assert bob.get(f"/api/v2/templates/{lab['id']}").json() == NOT_FOUND
        assert bob.get("/api/v2/organizations/research/templates/lab-agent").json() == NOT_FOUND
        assert bob.get("/api/v2/organizations/coder/templates/nothing").json() == NOT_FOUND
        bad = bob.get("/api/v2/templates/not-a-uuid")
        assert (bad.status_code, bad.json()) == (
            400,
            {"message": 'Invalid UUID "not-a-uuid".', "detail": "invalid UUID length: 10"},
        )
        urn = bob.get("/api/v2/templates/urx:uuid:7c60d51f-b44e-4682-87d6-449835ea4de6")
        assert urn.json()["detail"] == 'invalid urn prefix: "urx:uuid:"'
        dashes = bob.get("/api/v2/templates/7c60d51f+b44e-4682-87d6-449835ea4de6")
        assert dashes.json()["detail"] == "invalid UUID format"


def test_versions_of_a_template_oldest_first_archived_on_request(two_orgs: FakeCoder) -> None:
    with two_orgs.client("alice") as alice:
        claude = alice.get("/api/v2/organizations/coder/templates/claude-code").json()
        path = f"/api/v2/templates/{claude['id']}/versions"
        assert [v["name"] for v in alice.get(path).json()] == ["v1"]
        assert [v["name"] for v in alice.get(path, params={"include_archived": "t"}).json()] == ["v1", "v0"]
        bad = alice.get(path, params={"include_archived": "maybe"})
        assert bad.status_code == 400
        assert bad.json() == {
            "message": "Invalid query parameters.",
            "validations": [
                {
                    "field": "include_archived",
                    "detail": 'Query param "include_archived" must be a valid boolean: '
                    'strconv.ParseBool: parsing "maybe": invalid syntax',
                }
            ],
        }


def test_a_version_by_id_and_by_name_with_its_import_job(alice: httpx.Client) -> None:
    version = alice.get(f"/api/v2/templateversions/{AI_VERSION_ID}").json()
    assert version["name"] == "v1"
    assert version["template_id"] == AI_TEMPLATE_ID
    assert version["archived"] is False
    assert version["created_by"]["username"] == "admin"
    job = version["job"]
    assert (job["type"], job["status"], job["input"]) == (
        "template_version_import",
        "succeeded",
        {"template_version_id": AI_VERSION_ID},
    )
    assert job["metadata"]["template_display_name"] == "Claude Code"
    assert alice.get("/api/v2/organizations/coder/templates/claude-code/versions/v1").json() == version
    missing = alice.get("/api/v2/organizations/coder/templates/claude-code/versions/v9")
    assert (missing.status_code, missing.json()) == (404, {"message": 'No template version found by name "v9".'})
    # a derived id is stable: the same world answers the same job id
    assert alice.get(f"/api/v2/templateversions/{AI_VERSION_ID}").json()["job"]["id"] == job["id"]


def test_presets_keep_their_go_field_names(alice: httpx.Client, two_orgs: FakeCoder) -> None:
    presets = alice.get(f"/api/v2/templateversions/{AI_VERSION_ID}/presets").json()
    assert presets == [
        {
            "ID": PRESET_ID,
            "Name": "default",
            "Parameters": [{"Name": "model", "Value": "sonnet"}],
            "Default": True,
            "DesiredPrebuildInstances": None,
            "Description": "Sonnet, the usual model",
            "Icon": "",
        }
    ]
    with two_orgs.client("alice") as other:
        version_id = other.get("/api/v2/organizations/coder/templates/claude-code").json()["active_version_id"]
        presets = other.get(f"/api/v2/templateversions/{version_id}/presets").json()
        assert [(p["Name"], p["Parameters"]) for p in presets] == [
            ("Fast", [{"Name": "model", "Value": "haiku"}]),
            ("Bare", None),
        ]


def test_a_version_of_another_organization_is_not_found(two_orgs: FakeCoder) -> None:
    with two_orgs.client("alice") as alice, two_orgs.client("bob") as bob:
        lab = alice.get("/api/v2/organizations/research/templates/lab-agent").json()
        assert bob.get(f"/api/v2/templateversions/{lab['active_version_id']}").json() == NOT_FOUND
        assert bob.get(f"/api/v2/templateversions/{lab['active_version_id']}/presets").json() == NOT_FOUND

"""Which Coder the fake says it is: `GET /api/v2/buildinfo` (the release is chosen per fake,
releases.py; the build version header says the same, headers.py)."""

from __future__ import annotations

from typing import Any

from fakeserver.releases import Release

RELEASES_URL = "https://github.com/coder/coder/releases/tag/"
AGENT_API_VERSION = "1.0"  # coderd's AgentAPIVersionREST
PROVISIONER_API_VERSION = "1.15"
# One fixed deployment: coderd keeps its id in the database, so it never changes between restarts.
DEPLOYMENT_ID = "5d0e1f2a-3b4c-4d5e-8f60-718293a4b5c6"


def build_info(release: Release, dashboard_url: str) -> dict[str, Any]:
    """codersdk.BuildInfoResponse; `dashboard_url` is the URL the client reached the fake at."""
    return {
        "external_url": RELEASES_URL + release.version,
        "version": release.version,
        "dashboard_url": dashboard_url,
        "telemetry": False,
        "workspace_proxy": False,
        "agent_api_version": AGENT_API_VERSION,
        "provisioner_api_version": PROVISIONER_API_VERSION,
        "upgrade_message": "",
        "deployment_id": DEPLOYMENT_ID,
    }

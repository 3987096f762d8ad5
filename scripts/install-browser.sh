#!/usr/bin/env bash
# Install Debian's Chromium for the dashboard's browser tests (tests/test_dashboard_browser.py),
# which drive it with Playwright. Playwright's own browser download is never used.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

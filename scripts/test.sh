#!/usr/bin/env bash
# The README's test command (CI runs it through .ci/run): install fakeserver with its test
# extras and Debian's Chromium for the dashboard's browser tests, check lint and types, run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-browser.sh
python -m pip install --quiet --disable-pip-version-check '.[test]'
ruff check .
ruff format --check .
mypy
python -m pytest -n 2 "$@"

#!/usr/bin/env bash
# Install fakeserver with its test extras, check lint and types, run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check '.[test]'
ruff check .
ruff format --check .
mypy
python -m pytest -n 2 "$@"

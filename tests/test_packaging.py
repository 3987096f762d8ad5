"""Every third-party module the code imports is a declared dependency.

CI installs into a fresh virtualenv (.ci/run), so an undeclared import fails there too; this
test says which module and which file, instead of an ImportError far from the cause.
- The package's module-level imports must be run-time dependencies (`pip install .` alone),
  but for the pytest plugin's.
- Imports inside its functions, and the tests' and benchmarks' imports, may also be test extras.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LOCAL = {"fakeserver", "bench", *(path.stem for path in (ROOT / "tests").glob("*.py"))}


def distribution_name(requirement: str) -> str:
    """`uvicorn[standard]>=0.30` -> `uvicorn`, normalized as PEP 503 does."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert name is not None, requirement
    return re.sub(r"[-_.]+", "-", name.group(0)).lower()


RUNTIME = {distribution_name(r) for r in PYPROJECT["project"]["dependencies"]}
TEST = RUNTIME | {distribution_name(r) for r in PYPROJECT["project"]["optional-dependencies"]["test"]}


def imports(path: Path, module_level_only: bool) -> Iterator[tuple[str, int]]:
    """Top-level names of absolute imports: (module, line)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], node.lineno


def undeclared(paths: list[Path], allowed: set[str], module_level_only: bool) -> list[str]:
    providers = metadata.packages_distributions()
    problems = []
    for path in paths:
        for module, line in imports(path, module_level_only):
            if module in sys.stdlib_module_names or module in LOCAL or module == "__future__":
                continue
            dists = {distribution_name(dist) for dist in providers.get(module, [])}
            if not dists & allowed:
                where = f"{path.relative_to(ROOT)}:{line}"
                problems.append(f"{where}: {module} (from {', '.join(sorted(dists)) or 'no installed distribution'})")
    return problems


PYTEST_PLUGIN = ROOT / "fakeserver" / "pytest_plugin.py"  # loaded by pytest only, so pytest is there


def test_the_package_imports_only_run_time_dependencies_at_module_level() -> None:
    paths = sorted(path for path in (ROOT / "fakeserver").rglob("*.py") if path != PYTEST_PLUGIN)
    assert undeclared(paths, RUNTIME, module_level_only=True) == []


def test_every_import_of_the_package_tests_and_benchmarks_is_declared() -> None:
    paths = sorted(
        [*(ROOT / "fakeserver").rglob("*.py"), *(ROOT / "tests").glob("*.py"), *(ROOT / "bench").glob("*.py")]
    )
    assert undeclared(paths, TEST, module_level_only=False) == []


def test_the_installed_package_declares_what_pyproject_declares() -> None:
    """The tests run against the installed fakeserver: its metadata must be this checkout's."""
    installed = {distribution_name(r) for r in metadata.requires("fakeserver") or [] if "extra ==" not in r}
    assert installed == RUNTIME

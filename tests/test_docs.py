"""The docs run as written, top to bottom: docs/control-api.md's Python examples, in order, on one fake."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"


def python_blocks(name: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / name).read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_control_api_python_examples_run_in_order() -> None:
    blocks = python_blocks("control-api.md")
    assert len(blocks) > 5
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(DOCS / "control-api.md"), "exec"), namespace)

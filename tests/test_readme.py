"""The README's Python example runs as written (the README stays true to the code)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_readme_has_a_python_example() -> None:
    assert python_blocks()


def test_readme_python_example_runs() -> None:
    for block in python_blocks():
        exec(compile(block, str(README), "exec"), {})

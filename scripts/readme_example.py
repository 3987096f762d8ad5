"""Run the README's Python examples as written.

.ci/run calls it right after `pip install .`, before the test extras are installed, to prove
that the run-time dependencies alone are enough for what the README shows.
"""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def main() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    if not blocks:
        raise SystemExit("README.md has no Python example")
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
    print(f"README: {len(blocks)} Python example(s) ran with the run-time dependencies only")


if __name__ == "__main__":
    main()

"""Write the JSON copies of the specs that the fake reads in place of their YAML (spec.py).

Run it after changing a file in openapi/: `python scripts/compile_spec.py`. A copy made from
another version of its YAML is never read (the fake parses the YAML instead, more slowly), and
tests/test_spec_compiled.py fails until the copies are written again.
"""

from __future__ import annotations

import sys
from pathlib import Path

OPENAPI = Path(__file__).resolve().parent.parent / "openapi"
sys.path.insert(0, str(OPENAPI.parent))

from fakeserver.spec import compile_spec, compiled_spec_path  # noqa: E402


def main() -> None:
    for source in sorted(OPENAPI.glob("*.yaml")):
        target = compiled_spec_path(source)
        target.write_bytes(compile_spec(source) + b"\n")
        print(f"wrote {target.relative_to(OPENAPI.parent)}")


if __name__ == "__main__":
    main()

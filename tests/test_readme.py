"""The README's Python example runs as written (the README stays true to the code)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from served import serve

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_readme_has_a_python_example() -> None:
    assert python_blocks()


def test_readme_python_example_runs() -> None:
    for block in python_blocks():
        exec(compile(block, str(README), "exec"), {})


def shell_walk_through() -> str:
    section = README.read_text(encoding="utf-8").split("## A walk through the API", 1)[1]
    return str(re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)[0])


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walk-through uses curl")
def test_readme_curl_walk_through_answers_what_it_promises(tmp_path: Path) -> None:
    """The walk-through against a served fake, its `sleep`s moving a manual clock instead of waiting."""
    with serve("--clock", "manual", cwd=tmp_path) as served:
        script = shell_walk_through().replace("http://127.0.0.1:8080", served.url)
        advance = f"{served.url}/__fake__/clock/advance"
        sleep = f"sleep() {{ curl -s -o /dev/null -X POST {advance} -H 'Content-Type: application/json' "
        sleep += '-d "{\\"seconds\\": $1}"; }\n'
        one_answer_a_line = 'curl() { command curl "$@"; echo; }\n'
        done = subprocess.run(
            ["bash", "-c", sleep + one_answer_a_line + script], capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line]
    # coderd ends each JSON answer with a newline, so `-w` prints each status on a line of its own
    created, created_code, active, sent, live, paused, paused_code, snapshot, resumed, resumed_code, again = lines
    assert created_code == "201" and '"status":"pending"' in created
    assert '"status":"active"' in active and '"state":"idle"' in active
    assert sent == "204"
    assert '"logs":[' in live and '"snapshot"' not in live
    assert paused_code == "202" and '"transition":"stop"' in paused
    assert '"snapshot":true' in snapshot
    assert resumed_code == "202" and '"reason":"task_resume"' in resumed
    assert '"status":"active"' in again

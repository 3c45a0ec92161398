"""The native stack as ./stack runs it: a second `up` starts no second copy."""

import os
import subprocess
from pathlib import Path

from .conftest import STACK


def pidfiles(state: Path) -> dict[str, str]:
    return {path.name: path.read_text().strip() for path in [*state.glob("run/*.pid"), state / "nginx" / "nginx.pid"]}


def test_starting_again_starts_no_second_copy():
    state = Path(os.environ["STACK_STATE"])
    before = pidfiles(state)
    assert set(before) == {"a.pid", "b.pid", "nginx.pid"}
    result = subprocess.run([STACK, "up", "--native"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "already running; not starting a second copy." in result.stderr
    assert pidfiles(state) == before
    for pid in before.values():
        os.kill(int(pid), 0)  # still alive

"""`make test` must fail when a test fails (its runner must not swallow exit codes)."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_test_script_exits_nonzero_when_a_test_fails(tmp_path):
    failing = tmp_path / "test_failing.py"
    failing.write_text("def test_fails():\n    assert 1 == 2\n")
    result = subprocess.run(
        ["bash", "scripts/test.sh", "--rootdir", str(tmp_path), "-p", "no:django", str(failing)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "CHAOS_SECONDS": "0"},  # the chaos run restarts the servers under us
    )
    assert result.returncode != 0
    assert "1 failed" in result.stdout

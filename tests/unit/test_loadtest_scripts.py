"""Every measurement script under loadtests/ at least starts: it imports and prints its usage. (A script that
no test imports can break on a renamed export and be found only when someone needs its figures.)"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

SCRIPTS = sorted(path.name for path in (ROOT / "loadtests").glob("*.py")
                 if path.name.startswith(("bench_", "measure_")) or path.name in ("soak.py", "fuzzing.py"))


def test_the_scripts_are_found() -> None:
    assert "measure_steering.py" in SCRIPTS and len(SCRIPTS) >= 10


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_script_prints_its_usage(script: str) -> None:
    run = subprocess.run([sys.executable, str(ROOT / "loadtests" / script), "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "usage:" in run.stdout

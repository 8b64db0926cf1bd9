"""The `code` verifier's sandbox on the real bubblewrap: each attack fails safely, with a clear status, and a
correct program still passes. Runs as the tests' user (root on CI), which is the case the sandbox must hold in:
root is exempt from process limits, so the program runs as an unprivileged uid of its own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from models.verifiers import VerifierSpec, run_verifier
from models.verifiers.sandbox import RunResult, SandboxLimits, run_python, sandbox_problem
from tests.tools import require_tool

LIMITS = SandboxLimits(wall_s=5.0, cpu_s=2, output_bytes=4096)


@pytest.fixture(scope="module", autouse=True)
def sandbox_runs() -> None:
    require_tool("bwrap")
    assert sandbox_problem() is None, sandbox_problem()


def run(source: str) -> RunResult:
    return run_python(source, LIMITS)


def test_a_correct_program_passes_and_a_wrong_one_fails() -> None:
    good = run_verifier(VerifierSpec("code", timeout_s=5), "```python\ndef add(a, b):\n    return a + b\n```",
                        "assert add(2, 3) == 5")
    bad = run_verifier(VerifierSpec("code", timeout_s=5), "```python\ndef add(a, b):\n    return a - b\n```",
                       "assert add(2, 3) == 5")
    assert good.verdict == "correct", good.detail
    assert bad.verdict == "incorrect" and "AssertionError" in bad.detail


def test_no_network() -> None:
    result = run("import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)")
    assert result.status == "failed" and "Network is unreachable" in result.output


def test_no_writes_outside_scratch_and_no_host_files(tmp_path: Path) -> None:
    for target in ("/usr/evil", "/sandbox/evil", str(tmp_path / "evil")):
        result = run(f"open({target!r}, 'w').write('x')")
        assert result.status == "failed", (target, result)
    assert not (tmp_path / "evil").exists()
    listing = run("import os\nprint(sorted(os.listdir('/')))")
    assert listing.status == "ok"
    assert set(eval(listing.output)) <= {"bin", "dev", "lib", "lib64", "proc", "sandbox", "tmp", "usr"}
    here = os.getcwd()
    assert run(f"import os\nos.listdir({here!r})").status == "failed"  # the project is not visible
    assert run("open('/tmp/scratch.txt', 'w').write('fine')\nprint(open('/tmp/scratch.txt').read())").output == "fine\n"


def test_runs_as_an_unprivileged_user() -> None:
    result = run("import os\nprint(os.getuid())")
    assert result.status == "ok" and int(result.output) >= 100_000


def test_fork_bomb_is_contained() -> None:
    result = run("import os\nwhile True:\n    os.fork()")
    assert result.status in ("failed", "timeout"), result
    assert "Resource temporarily unavailable" in result.output or result.status == "timeout"
    assert run("print('after')").output == "after\n"  # the host can still start processes


def test_infinite_loop_is_killed_by_the_cpu_limit() -> None:
    result = run("while True:\n    pass")
    assert result.status == "timeout" and result.seconds < LIMITS.wall_s + 1


def test_sleeping_forever_is_killed_by_the_wall_limit() -> None:
    result = run("import time\ntime.sleep(3600)")
    assert result.status == "timeout" and LIMITS.wall_s <= result.seconds < LIMITS.wall_s + 2


def test_huge_output_is_cut_and_killed() -> None:
    result = run("while True:\n    print('y' * 1000)")
    assert result.status == "output_limit" and len(result.output) <= LIMITS.output_bytes


def test_memory_and_file_size_are_limited() -> None:
    assert run("x = bytearray(8 << 30)").status == "memory"
    big = run("open('/tmp/big', 'wb').write(b'x' * (64 << 20))")
    assert big.status == "failed" and "File too large" in big.output


def test_the_verifier_reports_each_attack_as_incorrect_with_its_reason() -> None:
    spec = VerifierSpec("code", timeout_s=2)
    looped = run_verifier(spec, "```python\nwhile True: pass\n```", "assert True")
    assert looped.verdict == "incorrect" and "sandbox: timeout" in looped.detail
    flood = run_verifier(spec, "```python\nprint('y' * 10**8)\n```", "assert True")
    assert flood.verdict == "incorrect" and "output_limit" in flood.detail


def test_many_runs_in_a_row_do_not_exhaust_the_process_limit() -> None:
    """bwrap's namespace init outlives bwrap and is handed up; unreaped, those zombies count against the process
    limit of this process's sandbox user (16), and runs started failing after ~14 (found on this machine)."""
    results = [run("print('ok')") for _ in range(3 * LIMITS.processes)]
    assert [r.status for r in results] == ["ok"] * len(results), next(r.output for r in results if r.status != "ok")

"""Run untrusted Python in a real sandbox: bubblewrap (Debian's `bwrap`) under an unprivileged user.

What holds, and how (tests/integration/test_code_sandbox.py attacks each):

- **No network:** a new network namespace with nothing in it (`--unshare-all`).
- **No writes outside scratch:** only `/usr` is mounted, read-only; `/tmp` is a size-limited tmpfs, the one
  writable place. Nothing of the host's other files (the project, keys, /root) is visible.
- **No fork bombs:** `RLIMIT_NPROC` counts processes per real user and root is exempt, so the code runs as an
  unprivileged user of its own (a uid from the calling process's pid), whose process count is capped.
- **No endless loops, no memory hogs:** CPU-time (`RLIMIT_CPU`), address-space (`RLIMIT_AS`) and file-size limits,
  plus a wall-clock limit after which the whole process group is killed; `--die-with-parent` and a new pid
  namespace take every descendant with it.
- **No flood of output:** stdout and stderr are read up to a cap; past it the run is killed.

The limits are set with util-linux's `prlimit` and the user switched with `setpriv`, both exec'ing, so the
process that is killed is bwrap itself. bwrap leaves its namespace's init to its parent's parent when it exits
first; where the host's init does not reap promptly those zombies would count against the process limit of the
next run, so the calling process becomes a child subreaper and reaps its own sandbox's orphans.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import selectors
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

RunStatus = Literal["ok", "failed", "timeout", "memory", "output_limit", "unavailable"]
SANDBOX_UID_BASE = 100_000
PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True)
class SandboxLimits:
    wall_s: float = 10.0
    cpu_s: int = 5
    memory_bytes: int = 1 << 30
    output_bytes: int = 64 * 1024
    scratch_bytes: int = 16 << 20
    processes: int = 16


@dataclass(frozen=True)
class RunResult:
    status: RunStatus
    exit_code: int | None
    output: str
    seconds: float


def sandbox_tools() -> dict[str, str | None]:
    return {tool: shutil.which(tool) for tool in ("bwrap", "prlimit", "setpriv")}


def _python() -> str:
    """The system interpreter under /usr (the only tree the sandbox mounts)."""
    for candidate in ("/usr/bin/python3", os.path.realpath(shutil.which("python3") or "")):
        if candidate.startswith("/usr/") and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError("no python3 under /usr for the sandbox")


def _command(program_dir: str, limits: SandboxLimits) -> list[str]:
    if os.geteuid() == 0:  # root is exempt from RLIMIT_NPROC: run as a user of the sandbox's own
        uid = str(_sandbox_uid())
        nproc = limits.processes
        user = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"]
    else:  # an unprivileged gateway (the image's user): the cap counts its own processes too
        nproc = _own_processes() + limits.processes
        user = []
    return [
        "prlimit", f"--cpu={limits.cpu_s}", f"--as={limits.memory_bytes}", f"--nproc={nproc}",
        f"--fsize={limits.scratch_bytes}", "--nofile=64", "--core=0", "--", *user,
        "bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
        "--proc", "/proc", "--dev", "/dev", "--size", str(limits.scratch_bytes), "--tmpfs", "/tmp",
        "--ro-bind", program_dir, "/sandbox", "--chdir", "/tmp", "--clearenv", "--setenv", "PATH", "/usr/bin",
        "--setenv", "HOME", "/tmp", "--",
        _python(), "-I", "-B", "/sandbox/program.py",
    ]


@functools.cache
def sandbox_problem() -> str | None:
    """Why the sandbox cannot run here, or None: checked once per process by running a trivial program, so a
    host that forbids namespaces (a container under Docker's default seccomp profile) says so instead of failing
    every response as if its code were wrong."""
    missing = [tool for tool, path in sandbox_tools().items() if path is None]
    if missing:
        return (f"the code sandbox needs {', '.join(missing)} (Debian: bubblewrap, util-linux); scripts/install.sh "
                "installs them")
    probe = _run('print("sandbox ok")', SandboxLimits(wall_s=30))
    if probe.status != "ok" or probe.output.strip() != "sandbox ok":
        return f"the code sandbox does not start on this host ({probe.status}): {probe.output.strip()[-300:]}"
    return None


def run_python(source: str, limits: SandboxLimits) -> RunResult:
    """Run `source` in the sandbox; its exit code 0 means it passed."""
    if (problem := sandbox_problem()) is not None:
        return RunResult("unavailable", None, problem, 0.0)
    return _run(source, limits)


def _process_statuses() -> Iterator[tuple[int, dict[str, str]]]:
    """Every process's `/proc/<pid>/status` fields now (those that exit meanwhile are left out)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path("/proc", entry, "status").read_text()
        except OSError:
            continue
        yield int(entry), dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def _real_uid(status: dict[str, str]) -> str:
    return status.get("Uid", "").split("\t")[0]


def _own_processes() -> int:
    """Processes and threads of this process's user now (what RLIMIT_NPROC counts)."""
    uid = str(os.getuid())
    return sum(int(status.get("Threads", "1")) for _, status in _process_statuses() if _real_uid(status) == uid)


def _sandbox_uid() -> int:
    return SANDBOX_UID_BASE + os.getpid() % 50_000


@functools.cache
def _adopt_orphans() -> None:
    """Become the parent of orphaned descendants (Linux `PR_SET_CHILD_SUBREAPER`), so they can be reaped here."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _reap_orphans() -> None:
    """Reap the finished bwrap processes handed to this process (and only those: a zombie named bwrap whose
    parent is this process, of the user the sandbox runs as)."""
    me = str(os.getpid())
    uid = str(_sandbox_uid() if os.geteuid() == 0 else os.getuid())
    for pid, status in _process_statuses():
        zombie = status.get("State", "").startswith("Z") and status.get("Name") == "bwrap"
        if zombie and status.get("PPid") == me and _real_uid(status) == uid:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


def _run(source: str, limits: SandboxLimits) -> RunResult:
    _adopt_orphans()
    _reap_orphans()
    with tempfile.TemporaryDirectory(prefix="genrm-sandbox-") as program_dir:
        Path(program_dir, "program.py").write_text(source)
        os.chmod(program_dir, 0o755)
        os.chmod(Path(program_dir, "program.py"), 0o644)
        try:
            return _supervise(_command(program_dir, limits), limits)
        finally:
            _reap_orphans()


def _supervise(command: list[str], limits: SandboxLimits) -> RunResult:
    started = time.monotonic()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    assert process.stdout is not None
    output, status = bytearray(), None  # type: tuple[bytearray, RunStatus | None]
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while status is None:
            left = limits.wall_s - (time.monotonic() - started)
            if left <= 0:
                status = "timeout"
            elif selector.select(timeout=left):
                chunk = os.read(process.stdout.fileno(), 65536)
                if not chunk:
                    break
                output += chunk
                if len(output) > limits.output_bytes:
                    status = "output_limit"
    if status is not None:
        os.killpg(process.pid, 9)
    exit_code = process.wait()
    text = bytes(output[: limits.output_bytes]).decode(errors="replace")
    return RunResult(status or _exit_status(exit_code, text), exit_code, text, time.monotonic() - started)


def _exit_status(exit_code: int, output: str) -> RunStatus:
    if exit_code == 0:
        return "ok"
    if exit_code in (-9, 137, -24, 152) or "Killed" in output[-200:]:  # SIGKILL, or SIGXCPU past RLIMIT_CPU
        return "timeout"
    if "MemoryError" in output[-2000:]:
        return "memory"
    return "failed"

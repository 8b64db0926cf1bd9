"""`code`: the response's Python, run with the item's tests (asserts) in the sandbox; it passes when the program
exits 0. The program is the last ```python (or ```py, or bare ```) block of the response, else the whole response,
followed by the tests. Nothing of it runs outside bubblewrap (`models/verifiers/sandbox.py`)."""

from __future__ import annotations

import re

from models.verifiers.results import Verification
from models.verifiers.sandbox import SandboxLimits, run_python

_FENCE = re.compile(r"```(?:python3?|py)?[ \t]*\n(.*?)```", re.DOTALL)
OUTPUT_TAIL_CHARS = 400


def program_text(response: str) -> str:
    blocks = _FENCE.findall(response)
    return (blocks[-1] if blocks else response).strip()


def verify_code(response: str, tests: str, wall_s: float) -> Verification:
    program = program_text(response)
    if not program:
        return Verification("no_answer", detail="no code in the response")
    limits = SandboxLimits(wall_s=wall_s, cpu_s=max(1, int(wall_s)))
    result = run_python(f"{program}\n\n# --- tests ---\n{tests}\n", limits)
    tail = result.output[-OUTPUT_TAIL_CHARS:]
    extracted = program[:200]
    if result.status == "unavailable":
        return Verification("error", extracted, result.output)
    if result.status == "ok":
        return Verification("correct", extracted, f"tests passed in {result.seconds:.2f} s")
    reason = {"failed": f"exit code {result.exit_code}", "timeout": f"ran past its limit ({limits.cpu_s} s CPU, "
              f"{limits.wall_s:g} s wall) and was killed", "memory": "ran out of its memory limit",
              "output_limit": f"wrote over {limits.output_bytes} bytes of output and was killed"}[result.status]
    return Verification("incorrect", extracted, f"sandbox: {result.status}: {reason}; output: {tail}")

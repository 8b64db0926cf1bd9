"""What a verifier says of one response: its verdict, what it read as the answer, and why."""

from __future__ import annotations

from dataclasses import dataclass, field

from genrm_wire.verifying import VerifierVerdict

Verdict = VerifierVerdict

# `correct` / `incorrect`: the rule decided. `no_answer`: nothing to check was found (no `\boxed{}`, no code).
# `ambiguous`: several distinct final answers (enumeration); never rewarded, never escalated to a judge.
# `timeout`: the item's time limit ran out. `error`: the check could not run (e.g. the sandbox is missing).
DECISIVE: frozenset[Verdict] = frozenset({"correct", "incorrect", "ambiguous"})


@dataclass(frozen=True)
class Verification:
    verdict: Verdict
    extracted: str | None = None
    detail: str = ""
    candidates: tuple[str, ...] = field(default_factory=tuple)  # every distinct final answer found

    @property
    def passed(self) -> bool:
        return self.verdict == "correct"

"""Rule verifiers for verifiable rewards (RLVR): deterministic checks of a response against a reference.

`run_verifier` dispatches on a `VerifierSpec`; each verifier lives in its own module (`math_answers`,
`matching`, `code` with its `sandbox`), and `extraction` says what a response's final answer is. The service runs
them in a pool of worker processes that enforces each item's time limit (`service/verifying/`).
"""

from models.verifiers.registry import VerifierSpec, run_verifier, verifier_version
from models.verifiers.results import DECISIVE, Verdict, Verification

__all__ = ["DECISIVE", "Verdict", "Verification", "VerifierSpec", "run_verifier", "verifier_version"]

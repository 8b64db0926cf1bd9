"""A verifier worker process: verifies the items it is sent, one by one, each under its time limit.

The limit is an interval timer whose signal raises in the worker's main thread, which stops any verifier that
runs Python (sympy included). A check stuck in C code does not see the signal; the pool then kills the worker
(`service/verifying/pool.py`). Results go back one per item, so the pool knows which item was running.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from multiprocessing.connection import Connection
from types import FrameType

from models.verifiers import Verification, VerifierSpec, run_verifier

# The sandbox keeps its own wall limit for `code`: the timer then only backs it up.
CODE_TIMER_MARGIN_S = 2.0


class ItemTimeout(Exception):
    pass


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise ItemTimeout


def item_limit_s(spec: VerifierSpec) -> float:
    return spec.timeout_s + (CODE_TIMER_MARGIN_S if spec.name == "code" else 0.0)


def verify_one(spec: VerifierSpec, response: str, reference: str) -> Verification:
    signal.setitimer(signal.ITIMER_REAL, item_limit_s(spec))
    try:
        return run_verifier(spec, response, reference)
    except ItemTimeout:
        return Verification("timeout", detail=f"the check took over {spec.timeout_s:g} s and was stopped")
    except Exception as error:  # a verifier's own bug must fail its item, not the worker
        return Verification("error", detail=f"{type(error).__name__}: {str(error)[:300]}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def serve(connection: Connection) -> None:
    """Entry point of the worker process: answer chunks until the pipe closes."""
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the gateway's Ctrl-C is the gateway's to handle
    while True:
        try:
            spec, items = connection.recv()
        except (EOFError, OSError):
            return
        pairs: Sequence[tuple[str, str]] = items
        for response, reference in pairs:
            connection.send(verify_one(spec, response, reference))

"""The gateway's verifier pool on real worker processes: each item's time limit holds whether the check is stuck
in Python (the worker's timer stops it) or in C (the pool kills the worker), and the items after it still get
their verdicts, in order."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from models.verifiers import VerifierSpec
from service.verifying.pool import VerifierPool


@pytest.fixture
def pool() -> Iterator[VerifierPool]:
    verifiers = VerifierPool(2)
    yield verifiers
    verifiers.close()


def test_a_check_stuck_in_python_times_out_and_its_neighbours_are_answered(pool: VerifierPool) -> None:
    stuck = ("a" * 40 + "b", "(a+)+$")  # catastrophic backtracking: the re module sees the timer's signal
    found = asyncio.run(pool.verify(VerifierSpec("regex", timeout_s=0.3), [("x", "x"), stuck, ("The answer is 7",
                                                                                                r"\d")]))
    assert [v.verdict for v in found] == ["correct", "timeout", "correct"]
    assert "0.3 s" in found[1].detail and "killed" not in found[1].detail


def test_a_check_stuck_in_c_gets_its_worker_killed_and_replaced(pool: VerifierPool) -> None:
    """sympy evaluates a power tower in GMP, where no signal is seen: only killing the worker stops it."""
    asyncio.run(pool.verify(VerifierSpec("math"), [(r"\boxed{1}", "1")]))  # started and warm
    items = [(r"\boxed{9^{9^{9^{9}}}}", "7"), (r"\boxed{\frac{1}{2}}", "0.5")]
    found = asyncio.run(pool.verify(VerifierSpec("math", timeout_s=1), items))
    assert [v.verdict for v in found] == ["timeout", "correct"]
    assert "worker was killed" in found[0].detail


def test_a_large_batch_keeps_its_order_across_workers(pool: VerifierPool) -> None:
    items = [(f"The answer is {i}", str(i if i % 3 else i + 1)) for i in range(300)]
    found = asyncio.run(pool.verify(VerifierSpec("exact"), items))
    assert [v.verdict for v in found] == ["correct" if i % 3 else "incorrect" for i in range(300)]

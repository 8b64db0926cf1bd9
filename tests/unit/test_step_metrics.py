"""The process-reward metrics on hand-made cases (ProcessBench's definitions), and the labelled set's invariants."""

from __future__ import annotations

import json

import pytest

from evaluation.process_set import PROCESS_FILE, rows
from evaluation.step_metrics import score_steps
from models.steps import split_solution

C, X = "correct", "incorrect"


def test_a_judge_that_finds_each_first_error_exactly() -> None:
    labels = [[C, C, C], [C, X, X], [X, C, X]]
    found = score_steps(labels, [[C, C, C], [C, X, X], [X, C, X]])
    assert (found.error_accuracy, found.correct_accuracy, found.f1, found.step_f1) == (1.0, 1.0, 1.0, 1.0)


def test_an_all_correct_judge_scores_zero_f1_and_a_failure_is_a_miss() -> None:
    labels = [[C, C], [C, X], [X, X]]
    lenient = score_steps(labels, [[C, C], [C, C], [C, C]])
    assert (lenient.correct_accuracy, lenient.error_accuracy, lenient.f1, lenient.step_recall) == (1.0, 0, 0, 0)
    early = score_steps(labels, [[C, C], [X, X], None])
    assert early.failed == 1 and early.error_accuracy == 0.0  # flagged step 0 where step 1 was the first error
    assert early.step_precision == pytest.approx(1 / 2) and early.step_recall == pytest.approx(1 / 3)


def test_the_labelled_set_is_the_generator_s_output_and_consistent() -> None:
    written = [json.loads(line) for line in PROCESS_FILE.read_text(encoding="utf-8").splitlines()]
    assert written == rows()  # deterministic: the file is what `python -m evaluation.process_set` writes
    assert len(written) >= 60 and sum(row["first_error"] is not None for row in written) >= 30
    for row in written:
        steps = split_solution(row["solution"], row["split"])
        assert len(steps) == len(row["labels"])
        first = row["labels"].index(X) if X in row["labels"] else None
        assert first == row["first_error"]

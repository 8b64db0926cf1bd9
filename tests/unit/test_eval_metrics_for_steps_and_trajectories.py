"""The process-reward and trajectory metrics on hand-made cases (ProcessBench's definitions; good-over-bad
pairs), and the labelled sets' invariants."""

from __future__ import annotations

import json

import pytest

from evaluation.process_set import PROCESS_FILE, rows
from evaluation.step_metrics import score_steps
from evaluation.trajectory_eval import pair_accuracy
from evaluation.trajectory_set import TRAJECTORY_FILE
from evaluation.trajectory_set import rows as trajectory_rows
from models.steps import split_solution
from models.trajectories import Message, ToolCall, trajectory_problems

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


def test_trajectory_pair_accuracy_counts_good_over_bad_within_a_task_and_failures_as_misses() -> None:
    rows = [{"task_id": "a", "label": "good", "kind": "good"}, {"task_id": "a", "label": "bad", "kind": "no_tool"},
            {"task_id": "a", "label": "bad", "kind": "contradicts_tool"},
            {"task_id": "b", "label": "good", "kind": "good"}, {"task_id": "b", "label": "bad", "kind": "no_tool"}]
    found = pair_accuracy(rows, [8.0, 3.0, 8.0, None, 2.0])
    assert found["pairs"] == 3 and found["pair_accuracy"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert found["by_kind"] == {"contradicts_tool": 0.5, "no_tool": 0.5} and found["failed"] == 1


def test_the_trajectory_set_is_the_generator_s_output_and_well_formed() -> None:
    written = [json.loads(line) for line in TRAJECTORY_FILE.read_text(encoding="utf-8").splitlines()]
    assert written == list(trajectory_rows()) and len(written) >= 30
    for row in written:
        messages = [Message(m["role"], m.get("content"), tuple(ToolCall(c["id"], c["function"]["name"],
                                                                        c["function"]["arguments"])
                                                               for c in m.get("tool_calls", [])),
                            m.get("tool_call_id"), m.get("name")) for m in row["trajectory"]]
        assert trajectory_problems(messages) == [], row

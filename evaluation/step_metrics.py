"""How well a step judge finds errors, on solutions whose wrong steps are known (`data/process-steps.jsonl`).

- `error_accuracy`: on the solutions with an error, the share whose first step judged `incorrect` is the first
  wrong step (ProcessBench's metric);
- `correct_accuracy`: on the right solutions, the share with no step judged `incorrect`;
- `f1`: the harmonic mean of the two (ProcessBench's headline number);
- `step_precision`, `step_recall`, `step_f1`: of `incorrect` over every labelled step;
- `failed`: solutions the judge gave no verdict for (they count as misses in the accuracies).

A judge that calls every step correct scores `correct_accuracy` 1 and `error_accuracy` 0, so `f1` 0; one that
calls the first step wrong every time gets `error_accuracy` at the base rate of errors in the first step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class StepScores:
    solutions: int
    failed: int
    error_accuracy: float
    correct_accuracy: float
    f1: float
    step_precision: float
    step_recall: float
    step_f1: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def first_error(verdicts: Sequence[str | None]) -> int | None:
    return next((index for index, verdict in enumerate(verdicts) if verdict == "incorrect"), None)


def _harmonic(a: float, b: float) -> float:
    return 0.0 if a + b == 0 else 2 * a * b / (a + b)


def score_steps(labels: Sequence[Sequence[str]], predicted: Sequence[Sequence[str | None] | None]) -> StepScores:
    """`labels[i]`: solution i's per-step labels; `predicted[i]`: its per-step verdicts, None when it failed."""
    erroneous = right = hits_error = hits_right = failed = 0
    true_pos = false_pos = false_neg = 0
    for truth, verdicts in zip(labels, predicted, strict=True):
        truth_first = first_error(truth)
        if truth_first is None:
            right += 1
        else:
            erroneous += 1
        if verdicts is None:
            failed += 1
            false_neg += sum(label == "incorrect" for label in truth)
            continue
        if first_error(verdicts) == truth_first:
            hits_right += truth_first is None
            hits_error += truth_first is not None
        for label, verdict in zip(truth, verdicts, strict=True):
            true_pos += label == "incorrect" and verdict == "incorrect"
            false_pos += label != "incorrect" and verdict == "incorrect"
            false_neg += label == "incorrect" and verdict != "incorrect"
    error_accuracy = hits_error / erroneous if erroneous else 0.0
    correct_accuracy = hits_right / right if right else 0.0
    precision = true_pos / (true_pos + false_pos) if true_pos + false_pos else 0.0
    recall = true_pos / (true_pos + false_neg) if true_pos + false_neg else 0.0
    return StepScores(len(labels), failed, error_accuracy, correct_accuracy,
                      _harmonic(error_accuracy, correct_accuracy), precision, recall, _harmonic(precision, recall))

"""Reward functions, in TRL's contract: `f(prompts, completions, **columns) -> list[float | None]`.

Formulas (`docs/methods.md`, "PAR", "Pairwise judge" and "BRPO"):

    R_format(y) = -1.5 if tags are missing or out of order; -1.0 if the answer is invalid; 0 otherwise
    R_PAR(y_i^c) = 1[s_i^c > mean(s^r)] * f(|s_i^c - mean(s^r)|)        (chosen rollouts)
    R_PAR(y_j^r) = 1[s_j^r < mean(s^c)] * f(|s_j^r - mean(s^c)|)        (rejected rollouts)
    graded f: 1.2 if 0 < d <= 2, 1.4 if d > 2;   constant f: 1.3 if d > 0
    R = R_PAR + R_format
    pairwise judge: +1 if it names the labelled winner, -1 if the other, plus R_format
    BRPO: +1 for a rollout that wins every vote against the reference, -1 for one that loses every vote, the
          inconsistent case configurable (0 or -1), 0 for the reference itself

A rollout that cannot be parsed has no score: it gets R_format and no R_PAR, and it is left out of the other
side's mean. A side with no parsed rollout gives the other side no R_PAR either (nothing to compare with).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, Literal

from models.formats import PAIRWISE, POINTWISE, FormatFailure, PairwiseVerdict, ParseFailure, PointwiseVerdict

FORMAT_PENALTY: dict[FormatFailure, float] = {
    FormatFailure.MISSING_TAGS: -1.5,
    FormatFailure.MISORDERED_TAGS: -1.5,
    FormatFailure.INVALID_ANSWER: -1.0,
}
Shaping = Literal["graded", "constant"]
RewardFunc = Callable[..., list[float | None]]


def completion_text(completion: Any) -> str:
    """TRL passes a string, or for conversational data a list with one assistant message."""
    if isinstance(completion, str):
        return completion
    return "".join(str(message["content"]) for message in completion)


def format_reward(outcome: object) -> float:
    return FORMAT_PENALTY[outcome.category] if isinstance(outcome, ParseFailure) else 0.0


def shaping(distance: float, kind: Shaping) -> float:
    if distance <= 0:
        return 0.0
    if kind == "constant":
        return 1.3
    return 1.2 if distance <= 2 else 1.4


def par_rewards(
    chosen: Sequence[float | None], rejected: Sequence[float | None], kind: Shaping
) -> tuple[list[float], list[float]]:
    """R_PAR for each rollout of a pair's two sides (None: that rollout had no parseable score)."""
    chosen_valid = [s for s in chosen if s is not None]
    rejected_valid = [s for s in rejected if s is not None]
    rejected_mean = statistics.fmean(rejected_valid) if rejected_valid else None
    chosen_mean = statistics.fmean(chosen_valid) if chosen_valid else None
    chosen_rewards = [
        shaping(score - rejected_mean, kind) if score is not None and rejected_mean is not None
        and score > rejected_mean else 0.0
        for score in chosen
    ]
    rejected_rewards = [
        shaping(chosen_mean - score, kind) if score is not None and chosen_mean is not None
        and score < chosen_mean else 0.0
        for score in rejected
    ]
    return chosen_rewards, rejected_rewards


def par_reward(kind: Shaping = "graded") -> RewardFunc:
    """R_PAR + R_format over a batch holding whole pairs (columns `pair_id` and `side`: chosen | rejected)."""

    def reward(prompts: list[Any], completions: list[Any], pair_id: list[str], side: list[str],
               **_: Any) -> list[float | None]:
        outcomes = [POINTWISE.parse(completion_text(c)) for c in completions]
        scores = [o.score if isinstance(o, PointwiseVerdict) else None for o in outcomes]
        rows: dict[tuple[str, str], list[int]] = defaultdict(list)
        for index, (pair, which) in enumerate(zip(pair_id, side, strict=True)):
            rows[(pair, which)].append(index)
        rewards = [format_reward(outcome) for outcome in outcomes]
        for pair in {p for p, _ in rows}:
            chosen_rows, rejected_rows = rows.get((pair, "chosen"), []), rows.get((pair, "rejected"), [])
            if not chosen_rows or not rejected_rows:
                raise ValueError(f"pair {pair!r} is split across batches: use the pair-preserving sampler")
            chosen_par, rejected_par = par_rewards(
                [scores[i] for i in chosen_rows], [scores[i] for i in rejected_rows], kind
            )
            for index, value in zip(chosen_rows + rejected_rows, chosen_par + rejected_par, strict=True):
                rewards[index] += value
        return list(rewards)

    reward.__name__ = f"par_{kind}"
    return reward


def pairwise_reward(prompts: list[Any], completions: list[Any], label: list[str], **_: Any) -> list[float | None]:
    """+1 when the judge names the labelled better response (as shown in this row's order), -1 otherwise,
    plus R_format; an unparseable judgment gets only R_format."""
    rewards: list[float | None] = []
    for completion, winner in zip(completions, label, strict=True):
        outcome = PAIRWISE.parse(completion_text(completion))
        if isinstance(outcome, PairwiseVerdict):
            rewards.append(1.0 if outcome.winner == winner else -1.0)
        else:
            rewards.append(format_reward(outcome))
    return rewards


def keep_group(rewards: Sequence[float], max_skew: float = 0.6) -> bool:
    """BRPO's filter: drop a group whose rewards lean too far one way (|sum R| / G > max_skew)."""
    return abs(sum(rewards)) / len(rewards) <= max_skew

"""The formulas of group rewards, on plain numbers (the method notes: docs/methods.md, "Group rewards").

- BRPO (Writing-Zero): a reference drawn from the group; a rollout that wins every vote against it in both
  orders gets +1, one that loses every vote −1, a split or order-dependent verdict the configured reading
  (0 or −1); the reference itself gets 0.
- Round robin: every pair in both orders; a rollout's win rate is its share of the votes over its pairs, and
  its Bradley-Terry strength is fitted on those soft wins with a weak prior (one virtual half-won game against an
  average opponent), so a rollout that wins everything still has a finite strength.
- Pointwise: the scores, and optionally advantages normalised within the group.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Mapping, Sequence

from genrm_wire.rewards import BRPOOutcome

BT_ITERATIONS = 200
BT_TOLERANCE = 1e-10
ADVANTAGE_EPSILON = 1e-6


def draw_reference(seed: int, group_id: str, size: int) -> int:
    """The reference rollout of a group: the same for the same seed, group id and size, in any process."""
    return random.Random(f"{seed}/{group_id}/{size}").randrange(size)


def brpo_outcome(p_win: float, consistent: bool | None) -> BRPOOutcome:
    """A rollout's result against the reference: `p_win` is its share of the votes over both orders."""
    if p_win == 1.0 and consistent is not False:
        return "win"
    if p_win == 0.0 and consistent is not False:
        return "loss"
    return "inconsistent"


def brpo_reward(outcome: BRPOOutcome, inconsistent_reward: float) -> float:
    return {"win": 1.0, "loss": -1.0, "inconsistent": inconsistent_reward}[outcome]


def brpo_probability_outcome(p_win: float, consistent: bool | None) -> BRPOOutcome:
    """With probability verdicts `p_win` is rarely exactly 0 or 1: the side of ½ it lies on, when the orders
    agree."""
    if consistent is False or p_win == 0.5:
        return "inconsistent"
    return "win" if p_win > 0.5 else "loss"


def brpo_probability_reward(p_win: float) -> float:
    """The expectation of the ±1 BRPO reward under the judge's probability: 2·p_win − 1 (a penalized side's 0 or
    1 gives −1 or +1, as sampled verdicts do)."""
    return 2.0 * p_win - 1.0


def win_rates(pair_wins: Mapping[tuple[int, int], float]) -> dict[int, float]:
    """Each rollout's mean share of votes over its judged pairs; `pair_wins[(i, j)]` is i's share against j."""
    shares: dict[int, list[float]] = {}
    for (i, j), p_i in pair_wins.items():
        shares.setdefault(i, []).append(p_i)
        shares.setdefault(j, []).append(1.0 - p_i)
    return {index: statistics.fmean(values) for index, values in shares.items()}


def bradley_terry(pair_wins: Mapping[tuple[int, int], float]) -> dict[int, float]:
    """Log-strengths (mean 0) of the rollouts in `pair_wins`, by minorise-maximise iterations on soft wins.

    Each rollout also plays one virtual game against an opponent of strength 1 and wins half of it: the prior
    that keeps an undefeated rollout finite. The fixed point solves, for every i,
    π_i = (W_i + ½) / (Σ_j n_ij / (π_i + π_j) + 1 / (π_i + 1)).
    """
    players = sorted({index for pair in pair_wins for index in pair})
    wins = {index: 0.5 for index in players}
    for (i, j), p_i in pair_wins.items():
        wins[i] += p_i
        wins[j] += 1.0 - p_i
    strength = {index: 1.0 for index in players}
    for _ in range(BT_ITERATIONS):
        updated = {index: wins[index] / _bt_denominator(index, strength, pair_wins) for index in players}
        change = max(abs(math.log(updated[index] / strength[index])) for index in players)
        strength = updated
        if change < BT_TOLERANCE:
            break
    logs = {index: math.log(value) for index, value in strength.items()}
    centre = statistics.fmean(logs.values())
    return {index: value - centre for index, value in logs.items()}


def _bt_denominator(index: int, strength: Mapping[int, float], pair_wins: Mapping[tuple[int, int], float]) -> float:
    total = 1.0 / (strength[index] + 1.0)
    for i, j in pair_wins:
        if index in (i, j):
            total += 1.0 / (strength[i] + strength[j])
    return total


def normalized_advantages(scores: Sequence[float]) -> list[float]:
    """(s − mean) / (population std + ε) within one group; a single score gets 0."""
    if len(scores) < 2:
        return [0.0] * len(scores)
    mean, spread = statistics.fmean(scores), statistics.pstdev(scores)
    return [(score - mean) / (spread + ADVANTAGE_EPSILON) for score in scores]


def group_advantages(rewards: Sequence[float | None]) -> list[float | None]:
    """Group-normalised advantages of the rollouts that have a reward; None for the others (failed)."""
    advantages = iter(normalized_advantages([reward for reward in rewards if reward is not None]))
    return [None if reward is None else next(advantages) for reward in rewards]

"""Group-reward formulas by hand: BRPO's reading of a comparison, the seeded reference draw, win rates,
Bradley-Terry strengths and group-normalised advantages."""

from __future__ import annotations

import math

import pytest

from service.judging.group_rewards import (
    bradley_terry,
    brpo_outcome,
    brpo_reward,
    draw_reference,
    normalized_advantages,
    win_rates,
)


@pytest.mark.parametrize(("p_win", "consistent", "outcome"), [
    (1.0, True, "win"), (0.0, True, "loss"), (0.5, False, "inconsistent"), (0.75, True, "inconsistent"),
    (1.0, None, "win"),
])
def test_brpo_outcomes(p_win: float, consistent: bool | None, outcome: str) -> None:
    assert brpo_outcome(p_win, consistent) == outcome


def test_brpo_values() -> None:
    assert [brpo_reward(o, 0.0) for o in ("win", "loss", "inconsistent")] == [1, -1, 0]
    assert brpo_reward("inconsistent", -1.0) == -1.0


def test_the_reference_draw_is_seeded_and_spread() -> None:
    assert draw_reference(3, "g", 8) == draw_reference(3, "g", 8)
    draws = {draw_reference(seed, "g", 8) for seed in range(64)}
    assert len(draws) == 8  # every rollout can be drawn
    assert all(0 <= draw_reference(seed, str(seed), 3) < 3 for seed in range(50))


def test_win_rates_average_each_rollouts_share_over_its_pairs() -> None:
    assert win_rates({(0, 1): 1.0, (0, 2): 0.5, (1, 2): 0.25}) == {0: 0.75, 1: 0.125, 2: 0.625}


def test_bradley_terry_solves_its_fixed_point_and_orders_by_record() -> None:
    pairs = {(0, 1): 1.0, (0, 2): 0.75, (1, 2): 0.5, (2, 3): 1.0, (1, 3): 0.5}
    logs = bradley_terry(pairs)
    assert math.isclose(sum(logs.values()), 0.0, abs_tol=1e-9)
    # Undo the centring: the fit is anchored by the virtual opponent of strength 1, so search the shift that
    # satisfies the fixed point π_i = (W_i + ½) / (Σ_j n_ij / (π_i + π_j) + 1 / (π_i + 1)) for every i.
    wins = {0: 0.5 + 1.0 + 0.75, 1: 0.5 + 0.0 + 0.5 + 0.5, 2: 0.5 + 0.25 + 0.5 + 1.0, 3: 0.5 + 0.0 + 0.5}

    def residual(shift: float) -> float:
        pi = {i: math.exp(v + shift) for i, v in logs.items()}
        worst = 0.0
        for i in pi:
            denominator = 1 / (pi[i] + 1) + sum(1 / (pi[a] + pi[b]) for a, b in pairs if i in (a, b))
            worst = max(worst, abs(pi[i] - wins[i] / denominator))
        return worst

    assert min(residual(shift / 1000) for shift in range(-3000, 3000)) < 1e-2
    assert logs[0] > logs[2] > logs[1] > logs[3]


def test_an_undefeated_rollout_still_has_a_finite_strength() -> None:
    logs = bradley_terry({(0, 1): 1.0})
    assert math.isfinite(logs[0]) and logs[0] > 0 > logs[1] and math.isclose(logs[0], -logs[1])


def test_advantages_are_normalised_within_the_group() -> None:
    advantages = normalized_advantages([9.0, 1.0, 5.0])
    spread = math.sqrt(32 / 3)
    assert all(math.isclose(a, e, rel_tol=1e-5) for a, e in zip(advantages, [4 / spread, -4 / spread, 0.0],
                                                               strict=True))
    assert normalized_advantages([7.0]) == [0.0] and normalized_advantages([3.0, 3.0]) == [0.0, 0.0]

"""Reward functions against hand-computed cases (`docs/methods.md`: PAR, pairwise judge, BRPO's skew filter).
BRPO's rewards themselves are the service's (`/v1/groups`): tests/unit/test_group_rewards.py and
tests/api/test_groups_api.py."""

from __future__ import annotations

import pytest

from tests.fakes import pairwise_completion, pointwise_completion
from training.pipelines import TrainingDidNotLearn, _check_learned
from training.rewards import (
    keep_group,
    pairwise_reward,
    par_reward,
    par_rewards,
    shaping,
)


def test_graded_par_by_hand() -> None:
    # rejected mean = (5 + 3) / 2 = 4; chosen mean = (8 + 6) / 2 = 7 (the unparsed chosen rollout is left out)
    chosen, rejected = par_rewards([8.0, 6.0, None], [5.0, 3.0], "graded")
    assert chosen == [1.4, 1.2, 0.0]  # 8 - 4 = 4 > 2; 6 - 4 = 2 (0 < d <= 2); no score
    assert rejected == [1.2, 1.4]  # 7 - 5 = 2; 7 - 3 = 4


def test_constant_par_by_hand() -> None:
    chosen, rejected = par_rewards([8.0, 6.0], [5.0, 3.0], "constant")
    assert chosen == [1.3, 1.3] and rejected == [1.3, 1.3]


def test_par_ties_and_wrong_side_get_nothing() -> None:
    chosen, rejected = par_rewards([5.0, 4.0], [5.0, 5.0], "graded")
    assert chosen == [0.0, 0.0]  # 5 is not above the rejected mean 5; 4 is below it
    assert rejected == [0.0, 0.0]  # 5 is not below the chosen mean 4.5
    assert shaping(0.0, "graded") == 0.0 and shaping(0.0, "constant") == 0.0


def test_a_side_without_scores_gives_no_par() -> None:
    assert par_rewards([7.0], [None, None], "graded") == ([0.0], [0.0, 0.0])


def test_par_reward_function_adds_the_format_reward() -> None:
    completions = [pointwise_completion("9"), pointwise_completion("11"), "no tags",  # chosen side
                   pointwise_completion("2"), "<answer>1</answer><think>x</think><generate_rubrics>y</generate_rubrics>"
                   "<eval>z</eval>"]  # rejected side
    pair_id = ["p"] * 5
    side = ["chosen", "chosen", "chosen", "rejected", "rejected"]
    rewards = par_reward("graded")([""] * 5, completions, pair_id=pair_id, side=side)
    # rejected mean = 2 (only "2" parses); chosen mean = 9
    assert rewards == [1.4, -1.0, -1.5, 1.4, -1.5]


def test_par_reward_refuses_a_split_pair() -> None:
    with pytest.raises(ValueError, match="pair-preserving sampler"):
        par_reward()(["", ""], [pointwise_completion("5")] * 2, pair_id=["p", "p"], side=["chosen", "chosen"])


def test_conversational_completions_are_read() -> None:
    completion = [{"role": "assistant", "content": pairwise_completion("A")}]
    assert pairwise_reward([""], [completion], label=["A"]) == [1.0]


def test_pairwise_reward_by_hand() -> None:
    completions = [pairwise_completion("A"), pairwise_completion("B"), "nothing", pairwise_completion("C")]
    assert pairwise_reward([""] * 4, completions, label=["A", "A", "A", "B"]) == [1.0, -1.0, -1.5, -1.0]


def test_brpo_skew_filter() -> None:
    assert keep_group([1, -1, 0, 1]) is True  # |1| / 4 = 0.25
    assert keep_group([1, 1, 1, 0]) is False  # 3 / 4 = 0.75 > 0.6
    assert keep_group([1, 1, 1, 0], max_skew=0.8) is True


def test_a_run_whose_rewards_never_spread_fails() -> None:
    flat = [{"loss": 0.0, "reward": -1.5, "reward_std": 0.0, "grad_norm": 0.0}]
    with pytest.raises(TrainingDidNotLearn, match="learned nothing"):
        _check_learned("par", flat)
    _check_learned("par", [{"loss": 0.1, "reward": -0.5, "reward_std": 1.2, "grad_norm": 1.4}])

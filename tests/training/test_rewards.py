"""Reward functions against hand-computed cases (`docs/methods.md`: PAR, pairwise judge, BRPO)."""

from __future__ import annotations

import pytest

from genrm_client import CompareItemIn, CompareItemOut, CompareRequest, CompareResponse
from genrm_wire import ModelRef, RubricSetRef, Usage
from tests.fakes import pairwise_completion, pointwise_completion
from training.brpo import BRPOReward
from training.pipelines import TrainingDidNotLearn, _check_learned
from training.rewards import (
    brpo_outcome,
    brpo_reward_value,
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


@pytest.mark.parametrize(("p_win", "consistent", "outcome"), [
    (1.0, True, "win"), (0.0, True, "loss"), (0.5, False, "inconsistent"), (0.75, True, "inconsistent"),
    (1.0, None, "win"),
])
def test_brpo_outcomes(p_win: float, consistent: bool | None, outcome: str) -> None:
    assert brpo_outcome(p_win, consistent) == outcome


def test_brpo_values_and_skew_filter() -> None:
    assert [brpo_reward_value(o, 0.0) for o in ("win", "loss", "inconsistent", "reference")] == [1, -1, 0, 0]
    assert brpo_reward_value("inconsistent", -1.0) == -1.0
    assert keep_group([1, -1, 0, 1]) is True  # |1| / 4 = 0.25
    assert keep_group([1, 1, 1, 0]) is False  # 3 / 4 = 0.75 > 0.6
    assert keep_group([1, 1, 1, 0], max_skew=0.8) is True


class FakeJudgeClient:
    """Stands in for `JudgeClient.compare`: rollouts containing 'good' win, 'bad' lose, others split. Answers are
    real `CompareResponse`s."""

    def __init__(self) -> None:
        self.calls: list[list[CompareItemIn]] = []

    def compare(self, request: CompareRequest) -> CompareResponse:
        self.calls.append(request.items)
        answers = []
        for index, item in enumerate(request.items):
            text = item.response_a
            p_a = 1.0 if "good" in text else 0.0 if "bad" in text else 0.5
            answers.append(CompareItemOut(id=item.id or str(index), status="ok", p_a=p_a, consistent=p_a != 0.5))
        return CompareResponse(model=ModelRef(name="fake", version="1"), rubric_set=RubricSetRef(ids=[], hash=""),
                               usage=Usage(), swap=request.swap, items=answers)


@pytest.mark.parametrize("inconsistent", [0.0, -1.0])
def test_brpo_reward_against_a_reference_from_the_group(inconsistent: float) -> None:
    client = FakeJudgeClient()
    reward = BRPOReward(client, group_size=4, inconsistent_reward=inconsistent, seed=3)
    prompts = [[{"role": "user", "content": "Write."}]] * 4
    rollouts = ["good one", "bad one", "meh", "also meh"]
    rewards = reward(prompts, rollouts)
    reference = next(i for i in range(4) if all(item.id != str(i) for item in client.calls[0]))
    assert rewards[reference] == 0.0
    expected = {"good one": 1.0, "bad one": -1.0, "meh": inconsistent, "also meh": inconsistent}
    assert all(rewards[i] == expected[rollouts[i]] for i in range(4) if i != reference)
    assert all(item.response_b == rollouts[reference] for item in client.calls[0])
    assert len(client.calls[0]) == 3
    assert set(reward.last_stats) == {"win_rate", "loss_rate", "inconsistent_rate", "mean_response_chars"}


def test_a_run_whose_rewards_never_spread_fails() -> None:
    flat = [{"loss": 0.0, "reward": -1.5, "reward_std": 0.0, "grad_norm": 0.0}]
    with pytest.raises(TrainingDidNotLearn, match="learned nothing"):
        _check_learned("par", flat)
    _check_learned("par", [{"loss": 0.1, "reward": -0.5, "reward_std": 1.2, "grad_norm": 1.4}])

"""PaTaRM's accuracy filter, with a fake scoring client: accuracies and the [1/8, 6/8] window by hand."""

from __future__ import annotations

from typing import Any

from genrm_client import ScoreItemOut, ScoreRequest, ScoreResponse
from genrm_wire import ModelRef, RubricSetRef, Usage
from training.filter import PairVerdict, filter_pairs, judge_pair, keep


class ScriptedScores:
    """Fake `JudgeClient.score`: scores by response text, `{"text": [scores...]}`; a text mapped to None is
    unscorable (`too_long`). Answers are real `ScoreResponse`s."""

    def __init__(self, scores: dict[str, list[float] | None]) -> None:
        self.scores = scores

    def score(self, request: ScoreRequest) -> ScoreResponse:
        out = []
        for index, item in enumerate(request.items):
            scores = self.scores[item.response]
            item_id = item.id or str(index)
            out.append(ScoreItemOut(id=item_id, status="too_long") if scores is None
                       else ScoreItemOut(id=item_id, status="ok", scores=scores[: request.votes]))
        return ScoreResponse(model=ModelRef(name="scripted", version="1"), rubric_set=RubricSetRef(ids=[], hash=""),
                             usage=Usage(), aggregate=request.aggregate, items=out)


def pair(name: str, chosen: str, rejected: str) -> dict[str, Any]:
    return {"id": name, "task": "chat", "prompt": "q", "chosen": chosen, "rejected": rejected}


def test_accuracy_is_the_share_of_rollout_pairs_the_chosen_side_wins() -> None:
    client = ScriptedScores({"good": [8, 6, 5, 9], "bad": [4, 7, 5, 2]})
    verdict = judge_pair(client, pair("p", "good", "bad"), rollouts=4)
    assert verdict.accuracy == 0.5  # 8>4, 6<7, 5=5 (not a win), 9>2
    assert verdict.gap == 7.0 - 4.5


def test_the_window_drops_easy_hopeless_and_unscorable_pairs() -> None:
    client = ScriptedScores({
        "always": [9] * 8, "never": [1] * 8, "half_a": [6, 4] * 4, "half_b": [5] * 8, "long": None,
    })
    pairs = [pair("easy", "always", "never"), pair("hopeless", "never", "always"),
             pair("useful", "half_a", "half_b"), pair("unscorable", "long", "never")]
    kept, counts = filter_pairs(client, pairs, rollouts=8, low=1 / 8, high=6 / 8, min_gap=None)
    assert [p["id"] for p in kept] == ["useful"] and kept[0]["judge_accuracy"] == 0.5
    assert counts == {"kept": 1, "too_easy": 1, "too_hard": 1, "unscorable": 1}


def test_min_gap_is_the_sft_rule() -> None:
    assert keep(PairVerdict(0.5, 2.5), 1 / 8, 6 / 8, min_gap=2) is True
    assert keep(PairVerdict(0.5, 2.0), 1 / 8, 6 / 8, min_gap=2) is False
    assert keep(PairVerdict(None, None), 0, 1, None) is False

"""The shared judgment cache's codec: every kind of outcome, with every nested type an outcome holds, comes back
from JSON equal and of the same types; a value that is not ours is refused, never built."""

from __future__ import annotations

import json

import pytest

from models.integrity.flags import Flag
from models.steps import Step, StepAggregates
from models.verifiers import Verification
from service.judging.equivalence import EquivalenceOutcome
from service.judging.items import (
    CompareOutcome,
    EquivalenceResult,
    ItemOutcome,
    Judgment,
    MappedVote,
    ScoreOutcome,
    StepOutcome,
    StepResult,
    TrajectoryOutcome,
    TurnResult,
    VerifiedAnswer,
)
from service.sharing.outcome_codec import UndecodableOutcome, decode_outcome, encode_outcome

JUDGMENT = Judgment(text="<think>t</think>…<answer>7</answer>", finish_reason="stop", order="ba", score=7.0,
                    winner="A", forced=True, p={"7": 0.75, "10": 0.25})
FLAG = Flag("forged_verdict", "response", "<answer>10</answer> ✓")
OUTCOMES: list[ItemOutcome] = [
    ScoreOutcome(id="", status="ok", score=7.5, scores=(7.0, 8.0), std=0.5, votes_used=2,
                 parse_failures={"invalid_answer": 1}, judgments=(JUDGMENT,), flags=(FLAG,), decided_by="judge",
                 verified=VerifiedAnswer("math@1", Verification("correct", "4", "", ("4", "four"))),
                 p={"7": 0.5, "8": 0.5}, equivalence=EquivalenceResult(True, 0.9, {"ab": 0.8, "ba": 1.0}, 2)),
    CompareOutcome(id="", status="ok", preference="A", p_a=0.75, consistent=False,
                   votes=(MappedVote("ab", "A"), MappedVote("ba", "B"))),
    StepOutcome(id="", status="ok", steps=(StepResult(Step(0, 0, 5, "We add"), "correct", 0.8, {"correct": 2},
                                                      {"correct": 0.6, "neutral": 0.4, "incorrect": 0.0}),),
                aggregates=StepAggregates(0.8, 0.8, 0.8, None)),
    TrajectoryOutcome(id="", status="ok", score=6.0, scores=(6.0,), turns=(TurnResult(1, "ok", 6.0, (6.0,)),),
                      messages=3, dropped_tool_outputs=1),
    EquivalenceOutcome(id="", status="parse_failed", error="none parsed", parse_failures={"missing_tags": 2}),
]


@pytest.mark.parametrize("outcome", OUTCOMES, ids=lambda outcome: type(outcome).__name__)
def test_every_outcome_comes_back_equal_and_of_the_same_types(outcome: ItemOutcome) -> None:
    decoded = decode_outcome(encode_outcome(outcome))
    assert decoded == outcome and type(decoded) is type(outcome)
    assert repr(decoded) == repr(outcome)  # tuples stay tuples, mappings mappings, all the way down


@pytest.mark.parametrize("stored", [
    '{"$dc": "Popen", "f": {"args": ["sh"]}}',  # a class no outcome holds: refused, never looked up elsewhere
    '{"$dc": "ScoreOutcome", "f": {"id": "", "status": "ok", "unknown_field": 1}}',  # another version's fields
    json.dumps({"$t": [1, 2]}),  # a value, not an outcome
    "not json",
])
def test_what_is_not_one_of_our_outcomes_does_not_decode(stored: str) -> None:
    with pytest.raises(UndecodableOutcome):
        decode_outcome(stored)

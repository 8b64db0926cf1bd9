"""Probability verdicts: the token tree of multi-token verdicts, the renormalised reading, the expected score,
and the calibrated swap average."""

from __future__ import annotations

import math

import pytest

from models.chat import ChatTemplate
from models.formats import PAIRWISE, POINTWISE
from models.formats.sections import answer_closing, answer_prefix, parse_sections
from models.formats.steps import STEP, StepListFormat
from models.formats.verdict_probability import (
    UnreadableVerdicts,
    VerdictTree,
    expected_value,
    mean_distribution,
    verdict_tree,
)
from service.judging.aggregation import tally_probabilities
from service.judging.group_rewards import brpo_probability_outcome, brpo_probability_reward

# A digit-splitting tokenizer, as SmolLM2's and Qwen2.5's are: one token per digit, `</` one token.
_VOCAB = {**{str(d): 100 + d for d in range(10)}, "A": 200, "B": 201, "</": 300, "answer": 301, ">": 302}


def _split_digits(text: str) -> list[int]:
    ids, rest = [], text
    while rest:
        piece = next(p for p in sorted(_VOCAB, key=len, reverse=True) if rest.startswith(p))
        ids.append(_VOCAB[piece])
        rest = rest[len(piece):]
    return ids


def _log(probabilities: dict[int, float]) -> dict[int, float]:
    return {token: math.log(p) for token, p in probabilities.items()}


def _pointwise_tree() -> VerdictTree:
    return verdict_tree([v for v, _ in POINTWISE.verdict_values], answer_closing(), _split_digits)


def test_ten_is_two_tokens_so_the_node_after_one_is_read_too() -> None:
    tree = _pointwise_tree()
    assert tree.paths["10"] == (101, 100)
    assert tree.paths["1"] == (101,)
    assert tree.end == 300
    assert tree.reads() == [(), (101,)]
    assert tree.children((101,)) == {100, 300}


def test_reading_renormalises_over_the_allowed_tokens_and_splits_one_from_ten() -> None:
    tree = _pointwise_tree()
    root = _log({101: 0.3, 107: 0.3, 999: 0.4})  # 999: a token the grammar would not allow
    after_one = _log({100: 0.25, 300: 0.25, 998: 0.5})
    distribution = tree.distribution({(): root, (101,): after_one})
    assert distribution is not None
    assert distribution["7"] == pytest.approx(0.5)
    assert distribution["10"] == pytest.approx(0.25)
    assert distribution["1"] == pytest.approx(0.25)
    assert math.fsum(distribution.values()) == pytest.approx(1.0)
    assert expected_value(distribution, dict(POINTWISE.verdict_values)) == pytest.approx(0.5 * 7 + 0.25 * 10 + 0.25)


def test_a_node_with_none_of_its_tokens_in_the_top_cannot_be_read() -> None:
    tree = _pointwise_tree()
    assert tree.distribution({(): _log({999: 1.0}), (101,): _log({100: 1.0})}) is None
    assert tree.distribution({(): _log({101: 1.0}), (101,): _log({999: 1.0})}) is None


def test_pairwise_is_one_read_and_its_expectation_is_p_of_shown_a() -> None:
    tree = verdict_tree([v for v, _ in PAIRWISE.verdict_values], answer_closing(), _split_digits)
    assert tree.reads() == [()]
    distribution = tree.distribution({(): _log({200: 0.6, 201: 0.2, 999: 0.2})})
    assert distribution == pytest.approx({"A": 0.75, "B": 0.25})
    assert expected_value(distribution, dict(PAIRWISE.verdict_values)) == pytest.approx(0.75)


def test_a_tokenizer_that_merges_a_verdict_with_the_closing_tag_is_refused() -> None:
    def merging(text: str) -> list[int]:
        return [1] if text == "7</answer>" else _split_digits(text)

    with pytest.raises(UnreadableVerdicts, match="merges verdict '7'"):
        verdict_tree([v for v, _ in POINTWISE.verdict_values], answer_closing(), merging)


def test_mean_distribution_averages_verdict_by_verdict() -> None:
    assert mean_distribution([{"A": 1.0, "B": 0.0}, {"A": 0.5, "B": 0.5}]) == {"A": 0.75, "B": 0.25}


def test_swap_averaging_weighs_each_order_alike_and_checks_their_sides() -> None:
    # Order ab read three times at 0.9, order ba once at 0.3 (mapped): each order weighs half.
    tally = tally_probabilities({"ab": [0.9, 0.9, 0.9], "ba": [0.3]}, swapped=True)
    assert tally.p_a == pytest.approx(0.6)
    assert tally.preference == "A"
    assert tally.consistent is False  # the orders lie on both sides of ½: position decided them
    agreeing = tally_probabilities({"ab": [0.8], "ba": [0.6]}, swapped=True)
    assert agreeing.consistent is True
    assert tally_probabilities({"ab": [0.2]}, swapped=False).consistent is None


def test_brpo_with_probabilities_pays_the_expected_plus_minus_one() -> None:
    assert brpo_probability_reward(0.75) == pytest.approx(0.5)
    assert brpo_probability_outcome(0.75, True) == "win"
    assert brpo_probability_outcome(0.25, True) == "loss"
    assert brpo_probability_outcome(0.75, False) == "inconsistent"


def test_the_direct_prefill_is_a_judgment_up_to_its_answer() -> None:
    prefill = POINTWISE.direct_prefill()
    assert prefill.endswith("<answer>")
    assert parse_sections(prefill + "7</answer>") == {"think": "n/a", "generate_rubrics": "n/a", "eval": "n/a",
                                                      "answer": "7"}
    assert answer_prefix("<think>a <answer> mention</think>x<answer>7</answer>").endswith("x<answer>")


def test_a_step_lists_verdicts_are_read_without_what_follows_them(chat_template: ChatTemplate) -> None:
    """A step list's line verdict is followed by a newline, or by the closing tag on the last line: one tree serves
    both because no verdict is a prefix of another, so the token after a verdict is never read (the bundled
    judge's tokenizer here; Qwen2.5's also writes each line verdict as one token)."""
    template = chat_template
    verdicts = [verdict for verdict, _ in StepListFormat(steps=2).verdict_values]
    at_the_end = verdict_tree(verdicts, answer_closing(), template.encode_literal)
    mid_list = verdict_tree(verdicts, "\n", template.encode_literal)
    assert at_the_end.paths == mid_list.paths
    assert all(at_the_end.end not in at_the_end.children(node) for node in at_the_end.reads())
    assert all(len(path) == 1 for path in at_the_end.paths.values())  # ` correct`, ` incorrect`, ` neutral`


def test_a_step_list_line_is_read_after_the_lines_before_it() -> None:
    assert StepListFormat(steps=3).line_prefix([]) == "1:"
    assert StepListFormat(steps=3).line_prefix(["correct", "neutral"]) == "1: correct\n2: neutral\n3:"
    assert dict(STEP.verdict_values) == {"correct": 1.0, "neutral": 0.5, "incorrect": 0.0}

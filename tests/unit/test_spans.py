"""Step spans placed on tokens with the bundled judge's own tokenizer (a real Hugging Face fast tokenizer):
each step's last token is the token that ends that step's text."""

from __future__ import annotations

from pathlib import Path

import pytest

from genrm_client.spans import offsets_of_pieces, step_end_tokens, token_rewards
from genrm_wire.steps import StepOut
from models.steps import split_solution

SOLUTION = "We add 2 and 3.\n\n2 + 3 = 6, since 3 + 3 = 6.\n\nSo the answer is 6 (étape finale)."


@pytest.fixture(scope="module")
def offsets(bundled_model_dir: Path) -> list[tuple[int, int]]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(bundled_model_dir))
    found: list[tuple[int, int]] = tokenizer(SOLUTION, add_special_tokens=False,
                                             return_offsets_mapping=True)["offset_mapping"]
    return found


def steps_out(scores: list[float | None]) -> list[StepOut]:
    steps = split_solution(SOLUTION, "blank_lines")
    return [StepOut(index=s.index, start=s.start, end=s.end, score=score) for s, score in zip(steps, scores,
                                                                                              strict=True)]


def test_each_steps_reward_lands_on_the_token_that_ends_it(offsets: list[tuple[int, int]]) -> None:
    steps = steps_out([1.0, 0.0, 0.5])
    ends = step_end_tokens(offsets, steps)
    assert all(end is not None for end in ends) and ends == sorted(ends)
    for step, end in zip(steps, ends, strict=True):
        assert end is not None
        first, last = offsets[end]
        assert first < step.end <= last  # the token holding the step's last character
    rewards = token_rewards(offsets, steps)
    assert [rewards[end] for end in ends if end is not None] == [1.0, 0.0, 0.5]
    assert sum(1 for r in rewards if r != 0.0) == 2  # 0.0 of step 2 is indistinguishable from fill


def test_spread_covers_every_token_of_a_step_and_missing_scores_get_missing(offsets: list[tuple[int, int]]) -> None:
    steps = steps_out([1.0, None, 1.0])
    rewards = token_rewards(offsets, steps, place="spread", fill=-9.0, missing=0.25)
    second = [index for index, (first, last) in enumerate(offsets) if first < steps[1].end and last > steps[1].start]
    assert second and all(rewards[index] == 0.25 for index in second)
    assert rewards.count(-9.0) < len(rewards) // 4  # only the blank lines between steps stay at fill


def test_offsets_from_decoded_pieces() -> None:
    pieces = ["We", " add", " 2", "\n\n", "done"]
    offsets = offsets_of_pieces(pieces)
    assert offsets[-1] == (len("".join(pieces)) - 4, len("".join(pieces)))
    step = StepOut(index=0, start=0, end=6, score=1.0)  # "We add"
    assert step_end_tokens(offsets, [step]) == [1]

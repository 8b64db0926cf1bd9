"""The engine-side forced ending (service/engine/forced_ending_processor.py) driven by hand, with the bundled
judge's real tokenizer and a logits row: nothing before `force_at`, then exactly the ending's tokens one per step,
then nothing; a character split across tokens is completed first. In a real vLLM engine: tests/integration."""

from __future__ import annotations

import torch

from models.chat import ChatTemplate
from models.formats.sections import continuation_to_answer
from service.engine.forced_ending_processor import RequestForcing
from service.engine.forcing_contract import UTF8_WAIT_TOKENS

VOCAB = 49152  # SmolLM2's


def step(forcing: RequestForcing, output_ids: list[int]) -> int | None:
    """The token forced at this step, or None when the row is left alone."""
    row = torch.zeros(VOCAB)
    out = forcing(output_ids, row)
    if out is row or bool(torch.isfinite(out).all()):
        return None
    (allowed,) = torch.isfinite(out).nonzero(as_tuple=True)
    assert len(allowed) == 1
    return int(allowed[0])


def test_nothing_is_forced_before_force_at_then_the_ending_token_by_token(chat_template: ChatTemplate) -> None:
    tokenizer = chat_template._tokenizer
    written = tokenizer.encode("<think>The first answer is clearer and", add_special_tokens=False)
    forcing = RequestForcing(len(written), tokenizer)
    assert all(step(forcing, written[:n]) is None for n in range(len(written)))
    expected = tokenizer.encode(continuation_to_answer(tokenizer.decode(written)), add_special_tokens=False)
    output = list(written)
    for token in expected:
        assert step(forcing, output) == token
        output.append(token)
    assert step(forcing, output) is None  # the answer is the judge's, under the grammar
    assert tokenizer.decode(output).endswith("</think>\n<generate_rubrics>n/a</generate_rubrics>\n<eval>n/a</eval>"
                                             "\n<answer>")


def test_a_character_split_across_tokens_is_finished_before_the_ending(chat_template: ChatTemplate) -> None:
    tokenizer = chat_template._tokenizer
    ids = tokenizer.encode("<think>好", add_special_tokens=False)
    split = next(n for n in range(1, len(ids)) if tokenizer.decode(ids[:n]).endswith("\ufffd"))
    forcing = RequestForcing(split, tokenizer)
    assert step(forcing, ids[:split]) is None  # mid-character: the judge finishes it
    assert step(forcing, ids) is not None  # then the ending starts
    late = RequestForcing(split, tokenizer)  # a character never finished: the wait is bounded
    stuck = ids[:split] + [ids[split - 1]] * UTF8_WAIT_TOKENS
    assert step(late, stuck) is not None or not tokenizer.decode(stuck).endswith("\ufffd")


def test_a_judgment_already_in_its_answer_is_left_to_the_grammar(chat_template: ChatTemplate) -> None:
    tokenizer = chat_template._tokenizer
    ids = tokenizer.encode("<think>a</think>\n<generate_rubrics>r</generate_rubrics>\n<eval>e</eval>\n<answer>1",
                           add_special_tokens=False)
    forcing = RequestForcing(len(ids), tokenizer)
    assert step(forcing, ids) is None and step(forcing, [*ids, 15]) is None

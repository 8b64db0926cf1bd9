"""Placing step rewards on tokens: `/v1/steps` gives each step's character span in the solution; a trainer with
token-level rewards (verl's `reward_tensor`, a PRM loss) needs them on the solution's tokens.

Get the tokens' character offsets in the solution from the policy's tokenizer (a Hugging Face fast tokenizer:
`tokenizer(solution, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]`), or from the
tokens' decoded pieces (`offsets_of_pieces`), then:

- `step_end_tokens`: the index of each step's last token (where a process reward model's reward goes);
- `token_rewards`: a reward per token, each step's score on its last token (`place="last"`, the PRM
  convention) or on every token of the step (`place="spread"`), `fill` elsewhere.

The solution sent to `/v1/steps` must be the text those offsets index (the decoded completion, exactly).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from genrm_wire.steps import StepOut

Offsets = Sequence[tuple[int, int]]


def offsets_of_pieces(pieces: Sequence[str]) -> list[tuple[int, int]]:
    """Character offsets of tokens whose decoded pieces, concatenated, are the solution."""
    offsets, position = [], 0
    for piece in pieces:
        offsets.append((position, position + len(piece)))
        position += len(piece)
    return offsets


def _tokens_of(offsets: Offsets, start: int, end: int) -> list[int]:
    """Tokens that overlap `[start, end)`; an empty-width token (a special token) counts where it stands."""
    return [index for index, (first, last) in enumerate(offsets)
            if (first < end and last > start) or (first == last and start <= first < end)]


def step_end_tokens(offsets: Offsets, steps: Sequence[StepOut]) -> list[int | None]:
    """Per step, the index of its last token (None when no token overlaps the step: offsets of another text)."""
    ends: list[int | None] = []
    for step in steps:
        covering = _tokens_of(offsets, step.start, step.end)
        ends.append(covering[-1] if covering else None)
    return ends


def token_rewards(offsets: Offsets, steps: Sequence[StepOut], *, place: Literal["last", "spread"] = "last",
                  fill: float = 0.0, missing: float = 0.0) -> list[float]:
    """A reward per token: each step's `score` (`missing` when it has none) on its last token or all its tokens."""
    rewards = [fill] * len(offsets)
    for step in steps:
        covering = _tokens_of(offsets, step.start, step.end)
        score = missing if step.score is None else step.score
        for index in covering if place == "spread" else covering[-1:]:
            rewards[index] = score
    return rewards

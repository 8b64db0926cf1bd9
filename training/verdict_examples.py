"""Direct-verdict training examples: exactly the token ids the service reads a `verdict: direct` comparison from.

The service renders the pairwise judge prompt with the judge's chat template, tokenizes it, appends the direct
prefill (`PAIRWISE.direct_prefill()`: every section `n/a`, then `<answer>`) as literal text and reads p(A) against
p(B) at the next position (`service/judging/runner.py`, `read_verdict`). An example here is that same id sequence
with the label's verdict token, for each pair in both orders (chosen shown first, labelled A; shown second,
labelled B), so a judge cannot lower its loss by preferring a position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from models.chat import ChatMessage, ChatTemplate
from models.formats import PAIRWISE
from models.formats.framing import Framing
from models.formats.sections import answer_closing
from models.formats.verdict_probability import verdict_tree
from models.rubrics import RubricLibrary
from training import data


@dataclass(frozen=True)
class VerdictTokens:
    """The one-token ids of the pairwise verdicts A and B under a tokenizer."""

    a: int
    b: int

    @classmethod
    def of(cls, template: ChatTemplate) -> VerdictTokens:
        tree = verdict_tree([verdict for verdict, _ in PAIRWISE.verdict_values], answer_closing(),
                            template.encode_literal)
        paths = {verdict: path for verdict, path in tree.paths.items()}
        if any(len(path) != 1 for path in paths.values()):
            raise ValueError(f"the pairwise verdicts are not one token each under this tokenizer ({paths}); "
                             "direct-verdict training reads one position")
        return cls(paths["A"][0], paths["B"][0])

    def index(self, label: str) -> int:
        """The label's position in (A, B), the order of the two logits the training reads."""
        return ("A", "B").index(label)


@dataclass(frozen=True)
class VerdictExample:
    pair_id: str
    label: str  # "A": the chosen response is shown first; "B": it is shown second
    input_ids: tuple[int, ...]


def verdict_examples(pairs: Sequence[dict[str, Any]], library: RubricLibrary,
                     template: ChatTemplate) -> list[VerdictExample]:
    """Two examples per pair, adjacent (both orders), each the served direct-verdict prompt."""
    prefill = template.encode_literal(PAIRWISE.direct_prefill())
    examples = []
    for row in data.pairwise_rows(pairs, library, Framing(template.special_tokens)):
        messages = [ChatMessage(**message) for message in row["prompt"]]
        ids = template.encode(template.render(messages)) + prefill
        examples.append(VerdictExample(str(row["pair_id"]), str(row["label"]), tuple(ids)))
    return examples

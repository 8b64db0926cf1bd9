"""The request's flag policy, and the flags of a batch: each response's own flags plus length outliers against
the batch's other responses. Flags depend only on the request's text, so they are computed for every item,
cached or not, before any engine work, and a policy that acts on them spares the judge that item."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from genrm_wire.judging import DEFAULT_ACTED_FLAGS, FlagKind, FlagPolicyName
from models.chat import Conversation, as_turns
from models.integrity.flags import Flag, FlagDetector, length_outliers

# The texts of one item that are under evaluation, by field: (("response", text),) or response_a and response_b.
Responses = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class FlagAction:
    policy: FlagPolicyName = "penalize"
    kinds: frozenset[FlagKind] = frozenset(DEFAULT_ACTED_FLAGS)

    def acted_fields(self, flags: Sequence[Flag]) -> set[str]:
        """The fields whose flags this policy acts on (none under `flag`)."""
        if self.policy == "flag":
            return set()
        return {flag.field for flag in flags if flag.kind in self.kinds}

    def mask_message(self, flags: Sequence[Flag]) -> str:
        acted = [flag for flag in flags if flag.kind in self.kinds]
        listed = "; ".join(f"{flag.field}: {flag.kind} ({flag.detail})" for flag in acted[:3])
        return f"not judged: on_flag=mask and the item is flagged: {listed}"


def prompt_text(prompt: Conversation) -> str:
    """What a response could restate: the user turns of the prompt."""
    return "\n".join(turn.content for turn in as_turns(prompt) if turn.role == "user")


def batch_flags(detector: FlagDetector, prompts: Sequence[Conversation],
                responses: Sequence[Responses]) -> list[tuple[Flag, ...]]:
    """Each item's flags, in item order; one response text is read once however often it appears."""
    per_text: dict[tuple[str, str], list[Flag]] = {}
    for prompt, fields in zip(prompts, responses, strict=True):
        asked = prompt_text(prompt)
        for _, text in fields:
            per_text.setdefault((asked, text), detector.response_flags(text, asked, "response"))
    texts = sorted({text for fields in responses for _, text in fields})
    outliers = dict(zip(texts, length_outliers([len(text) for text in texts]), strict=True))
    flags = []
    for prompt, fields in zip(prompts, responses, strict=True):
        asked = prompt_text(prompt)
        item: list[Flag] = []
        for field, text in fields:
            item += [Flag(flag.kind, field, flag.detail) for flag in per_text[(asked, text)]]
            if (reason := outliers[text]) is not None:
                item.append(Flag("length_outlier", field, reason))
        flags.append(tuple(item))
    return flags

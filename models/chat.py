"""Chat messages, and rendering prompts with the judge model's own chat template."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

Role = Literal["system", "user", "assistant"]
ROLES: tuple[str, ...] = get_args(Role)


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


# What callers pass as the prompt under evaluation: a single user turn, or a conversation.
Conversation = str | Sequence[ChatMessage]


def as_turns(prompt: Conversation) -> list[ChatMessage]:
    return [ChatMessage("user", prompt)] if isinstance(prompt, str) else list(prompt)


class Turn(Protocol):
    """Anything with a role and a content: the service's wire messages, `ChatMessage` itself."""

    @property
    def role(self) -> str: ...

    @property
    def content(self) -> str: ...


def to_conversation(prompt: str | Sequence[Turn | Mapping[str, str]]) -> Conversation:
    """The prompt under evaluation as the judge formats take it. A string stays one user turn; chat messages,
    as objects with `role` and `content` (wire models) or as `{"role", "content"}` dicts (TRL's conversational
    data, JSONL rows), become `ChatMessage`s. The one place that conversion is written."""
    if isinstance(prompt, str):
        return prompt
    return [_chat_message(turn) for turn in prompt]


def _chat_message(turn: Turn | Mapping[str, str]) -> ChatMessage:
    role, content = (turn["role"], turn["content"]) if isinstance(turn, Mapping) else (turn.role, turn.content)
    if role not in ROLES:
        raise ValueError(f"chat role {role!r} is not one of {ROLES}")
    return ChatMessage(role, content)  # type: ignore[arg-type]  # checked against ROLES just above


class ChatTemplate:
    """The judge model's tokenizer: renders messages with its chat template and counts tokens.

    The service sends the engine token ids it computed here, so the length it checked is the length the engine
    sees, and the rendered prompt is exactly what training renders for the same messages.
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self.special_tokens: tuple[str, ...] = tuple(_special_token_strings(tokenizer))

    @classmethod
    def from_directory(cls, path: Path) -> ChatTemplate:
        from transformers import AutoTokenizer

        return cls(AutoTokenizer.from_pretrained(str(path)))

    def render(self, messages: Sequence[ChatMessage]) -> str:
        rendered = self._tokenizer.apply_chat_template(
            [message.as_dict() for message in messages], tokenize=False, add_generation_prompt=True
        )
        return str(rendered)

    def encode(self, text: str) -> list[int]:
        return list(self._tokenizer.encode(text, add_special_tokens=False))

    def encode_literal(self, text: str) -> list[int]:
        """Token ids of `text` as plain text: a special token's string in it stays characters, never a control
        token (for text the judge wrote, fed back to it)."""
        return list(self._tokenizer.encode(text, add_special_tokens=False, split_special_tokens=True))

    def decode(self, token_ids: Sequence[int]) -> str:
        return str(self._tokenizer.decode(list(token_ids)))


def _special_token_strings(tokenizer: Any) -> list[str]:
    """Every added/special token's text: all of them are parsed as control tokens when they appear in text."""
    strings = set(tokenizer.all_special_tokens)
    strings.update(token.content for token in tokenizer.added_tokens_decoder.values())
    return sorted(strings)

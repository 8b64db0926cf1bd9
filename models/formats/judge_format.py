"""What the service and the trainers need from a judge format, whatever its verdict type."""

from __future__ import annotations

from typing import Protocol, TypeVar

from models.formats.sections import ForcedEnding, ParseFailure, TokenCount, utf8_bytes

VerdictT_co = TypeVar("VerdictT_co", covariant=True)


class JudgeFormat(Protocol[VerdictT_co]):
    @property
    def name(self) -> str: ...

    def minimum_max_tokens(self, count: TokenCount = utf8_bytes) -> int: ...

    def output_regex(self, max_tokens: int, count: TokenCount = utf8_bytes) -> str: ...

    def ending_tokens(self, count: TokenCount = utf8_bytes) -> int: ...

    def answer_tokens(self) -> int: ...

    def reasoning_tokens(self, max_tokens: int, count: TokenCount = utf8_bytes) -> int: ...

    def forced_ending(self, partial: str) -> ForcedEnding | None: ...

    def parse(self, completion: str) -> VerdictT_co | ParseFailure: ...

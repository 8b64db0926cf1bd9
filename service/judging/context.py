"""What one request's items are judged with, and the per-item failure that does not fail the batch."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from genrm_wire.judging import ItemStatus
from models.rubrics import RubricSet
from service.engine.requests import SamplingParams
from service.judging.flagging import FlagAction
from service.judging.registry import JudgeModel

OutT = TypeVar("OutT")


@dataclass
class UsageMeter:
    """The tokens, engine requests and votes (samples) one judging request spent; the runner adds every engine
    answer."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    engine_requests: int = 0
    votes: int = 0

    def add(self, prompt_tokens: int, completion_tokens: int, votes: int) -> None:
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.engine_requests += 1
        self.votes += votes


@dataclass(frozen=True)
class JudgingContext:
    """Everything the items of one request share, resolved and checked before any engine work starts.

    `cache` is the request's choice (None: the default, cache only seeded samples). `usage` is the one
    mutable part: the meter of this request's engine work.
    """

    model: JudgeModel
    rubrics: RubricSet
    task: str
    sampling: SamplingParams
    deadline: float  # time.monotonic() by which every item must be answered
    timeout_s: float
    cache: bool | None = None
    dedup: bool = True
    flag_action: FlagAction = field(default_factory=FlagAction)
    library_hash: str = ""  # the rubric library in service when the request arrived
    usage: UsageMeter = field(default_factory=UsageMeter)

    def remaining_s(self) -> float:
        return self.deadline - time.monotonic()


class ItemFailure(Exception):
    """This item alone could not be judged (too long, engine error, timeout): it becomes the item's status."""

    def __init__(self, status: ItemStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def within_deadline(context: JudgingContext, work: Awaitable[OutT], on_timeout: Callable[[str], OutT]) -> OutT:
    """`work`, or `on_timeout(message)` if the request's deadline passes first (its engine work is cancelled)."""
    try:
        return await asyncio.wait_for(work, timeout=max(context.remaining_s(), 0.0))
    except TimeoutError:
        return on_timeout(f"the request's deadline of {context.timeout_s:g} s passed before this item was judged; "
                          "raise timeout_s or send fewer items or votes")

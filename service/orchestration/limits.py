"""The limits a parsed request is checked against before any work: items, votes, each text's length, all texts
together, the generated-token budget, and unique item ids. Each refusal names the field and the limit's setting.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pydantic import BaseModel

from service.errors import InvalidRequest, PayloadTooLarge
from service.settings import RequestLimits


def text_fields(value: object, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string inside a request model, with its dotted path (`items.3.response`)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from text_fields(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from text_fields(item, f"{path}.{index}")


def check_unique_ids(entries: list[BaseModel], param: str) -> None:
    """Results are matched to items by id, so two items of one request may not share one."""
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        given = getattr(entry, "id", None)
        if given is None:
            continue
        if given in seen:
            raise InvalidRequest(f"`{param}.{index}.id` is {given!r}, the id of `{param}.{seen[given]}` too; results "
                                 "are matched by id, so give each its own (or leave ids out)",
                                 param=f"{param}.{index}.id")
        seen[given] = index


@dataclass(frozen=True)
class Limits:
    max_items: int
    max_votes: int
    request: RequestLimits

    def check(self, items: int, votes: int, items_param: str = "items") -> None:
        """`items` counts what is judged: items, or for groups their comparisons or rollouts (`items_param`)."""
        if items > self.max_items:
            what = "items" if items_param == "items" else f"judged items (from `{items_param}`)"
            raise PayloadTooLarge(
                f"{items} {what} is over this service's limit of {self.max_items} per request "
                "(`max_items_per_request`); split the batch", param=items_param,
            )
        if votes > self.max_votes:
            raise PayloadTooLarge(
                f"votes={votes} is over this service's limit of {self.max_votes} (`max_votes`); lower votes",
                param="votes",
            )

    def check_texts(self, body: BaseModel) -> None:
        total = 0
        cap = self.request.max_text_chars
        for path, text in text_fields(body):
            if len(text) > cap:
                raise PayloadTooLarge(f"`{path}` has {len(text)} characters, over this service's limit of {cap} "
                                      "per text (`max_text_chars`); shorten it", param=path)
            total += len(text)
        if total > self.request.max_request_chars:
            raise PayloadTooLarge(
                f"the request's texts hold {total} characters together, over this service's limit of "
                f"{self.request.max_request_chars} (`max_request_chars`); split the batch", param="body",
            )

    def check_token_budget(self, judgments: int, max_tokens: int) -> None:
        budget = self.request.max_generated_tokens
        if judgments * max_tokens > budget:
            raise PayloadTooLarge(
                f"{judgments} judgments (items × votes × orders) × max_tokens {max_tokens} = "
                f"{judgments * max_tokens} tokens is over this service's budget of {budget} per request "
                "(`max_generated_tokens`); send fewer items or votes, or a lower sampling.max_tokens",
                param="sampling.max_tokens",
            )

"""`/v1/steps` between the wire and the judging layer: solutions cut into steps (a split that cannot be made is
a 422 naming the item's field), and step outcomes back into the response's items."""

from __future__ import annotations

from collections.abc import Sequence

from genrm_wire.steps import StepItemIn, StepItemOut, StepsRequest
from models.chat import to_conversation
from models.formats.sections import SectionedFormat
from models.formats.steps import STEP, StepListFormat
from models.steps import SplitError, split_solution
from service.api.translation import common_out, item_id, step_aggregates_out, steps_out
from service.errors import InvalidRequest
from service.judging.items import StepItem, StepOutcome, StepSettings


def step_items(items: Sequence[StepItemIn]) -> list[StepItem]:
    judged = []
    for index, item in enumerate(items):
        try:
            steps = split_solution(item.solution, item.split, pattern=item.pattern, steps=item.steps)
        except SplitError as error:
            raise InvalidRequest(str(error), param=f"items.{index}.{error.field}") from None
        judged.append(StepItem(item_id(item.id, index), to_conversation(item.prompt), item.solution, tuple(steps)))
    return judged


def step_settings(body: StepsRequest) -> StepSettings:
    return StepSettings(strategy=body.strategy, votes=body.votes, include_judgments=body.include_judgments,
                        verdict=body.verdict)


def widest_format(body: StepsRequest, items: Sequence[StepItem]) -> SectionedFormat:
    """The format whose budget the request's sampling must hold: a `list` judgment's answer grows with its steps."""
    if body.strategy == "prefix":
        return STEP
    return StepListFormat(steps=max(len(item.steps) for item in items))


def engine_requests(body: StepsRequest, items: Sequence[StepItem]) -> int:
    return sum(len(item.steps) for item in items) if body.strategy == "prefix" else len(items)


def step_item_out(outcome: StepOutcome) -> StepItemOut:
    return StepItemOut.model_validate({**common_out(outcome), "steps": steps_out(outcome.steps),
                                       "aggregates": step_aggregates_out(outcome.aggregates)})

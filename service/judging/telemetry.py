"""What each freshly judged item tells the metrics about the judge itself: votes requested vs drawn (adaptive
voting's saving), and the judge-integrity signals: the winner's position as shown, swap consistency, the score
distribution and the votes' spread. Cached and deduplicated items are not judged again, so they are not counted.
"""

from __future__ import annotations

from collections.abc import Sequence

from models.formats import PairwiseVerdict
from models.integrity.flags import Flag
from models.rubrics.schema import DOMAINS
from service.judging.aggregation import Order
from service.judging.context import JudgingContext
from service.judging.flagging import Responses
from service.judging.items import CompareOutcome, ScoreOutcome
from service.judging.runner import Vote
from service.metrics import Metrics

OTHER_TASK = "other"
TASK_LABELS: tuple[str, ...] = (*DOMAINS, OTHER_TASK)


def task_label(task: str) -> str:
    """A bounded label: the library's domains by name, anything else (inline rubrics) as `other`."""
    return task if task in DOMAINS else OTHER_TASK


def record_votes(metrics: Metrics, route: str, requested: int, drawn: int) -> None:
    metrics.votes.labels(route, "requested").inc(requested)
    metrics.votes.labels(route, "drawn").inc(drawn)


def record_score(metrics: Metrics, context: JudgingContext, outcome: ScoreOutcome) -> None:
    if outcome.status != "ok" or outcome.score is None:
        return
    labels = (context.model.name, context.model.version, task_label(context.task))
    metrics.pointwise_score.labels(*labels).observe(outcome.score)
    if outcome.std is not None:
        metrics.pointwise_vote_spread.labels(*labels).observe(outcome.std)


def record_comparison(
    metrics: Metrics, context: JudgingContext, votes: Sequence[tuple[Order, Vote[PairwiseVerdict]]],
    outcome: CompareOutcome,
) -> None:
    """Each parsed vote's winner by position shown (A is the first response in the prompt, whatever the order),
    and, for an item judged in both orders, whether they agree."""
    labels = (context.model.name, context.model.version, task_label(context.task))
    for _, vote in votes:
        if isinstance(vote.outcome, PairwiseVerdict):
            position = "first" if vote.outcome.winner == "A" else "second"
            metrics.pairwise_votes.labels(*labels, position).inc()
    if outcome.status == "ok" and outcome.consistent is not None:
        metrics.compared_items.labels(*labels, str(outcome.consistent).lower()).inc()


def record_flags(metrics: Metrics, context: JudgingContext, responses: Sequence[Responses],
                 flags: Sequence[Sequence[Flag]]) -> None:
    """Each distinct flagged response of the request once per kind (a BRPO reference is compared with every
    rollout of its group, but it is one response), and each flagged item by what the policy did with it."""
    labels = (context.model.name, context.model.version, task_label(context.task))
    metrics.screened_responses.labels(*labels).inc(len({text for fields in responses for _, text in fields}))
    seen: set[tuple[str, str]] = set()
    for fields, item_flags in zip(responses, flags, strict=True):
        texts = dict(fields)
        for flag in item_flags:
            key = (texts[flag.field], flag.kind)
            if key not in seen:
                seen.add(key)
                metrics.flags.labels(*labels, flag.kind).inc()
        if item_flags:
            metrics.flagged_items.labels(*labels, _action(context, item_flags)).inc()


def _action(context: JudgingContext, flags: Sequence[Flag]) -> str:
    if not context.flag_action.acted_fields(flags):
        return "reported"
    return "masked" if context.flag_action.policy == "mask" else "penalized"

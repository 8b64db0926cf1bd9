"""Letting a resolved request's work in: the caller's key quota first, then the model's admission (with fair
share among keys). A request refused by admission gets its quota back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager

from service.auth.quota import Quotas
from service.errors import ServiceError
from service.judging.context import JudgingContext
from service.metrics import Metrics


@asynccontextmanager
async def admitted(quotas: Quotas, metrics: Metrics, key: str, context: JudgingContext, engine_requests: int,
                   votes: int) -> AsyncIterator[None]:
    """`engine_requests` is what can be in flight at once (items × orders); each draws `votes` judgments. Work
    that needs no engine (rule verifiers alone: 0) is not the model's to admit."""
    if engine_requests == 0:
        yield
        return
    judgments = engine_requests * votes
    await quotas.charge(key, judgments)
    with ExitStack() as stack:
        try:
            stack.enter_context(context.model.admission.admit(engine_requests, tenant=key))
        except ServiceError:
            await quotas.refund(key, judgments)
            raise
        metrics.key_judgments.labels(key).inc(judgments)
        yield

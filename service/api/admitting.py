"""Letting a resolved request's work in: the caller's key quota first, then the model's admission (with fair
share among keys). A request refused by admission gets its quota back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from fastapi import Request

from service.api.authentication import key_name_of
from service.errors import ServiceError
from service.judging.context import JudgingContext
from service.state import AppState


@contextmanager
def admitted(state: AppState, request: Request, context: JudgingContext, engine_requests: int,
             votes: int) -> Iterator[None]:
    """`engine_requests` is what can be in flight at once (items × orders); each draws `votes` judgments."""
    key = key_name_of(request.scope)
    judgments = engine_requests * votes
    state.quotas.charge(key, judgments)
    with ExitStack() as stack:
        try:
            stack.enter_context(context.model.admission.admit(engine_requests, tenant=key))
        except ServiceError:
            state.quotas.refund(key, judgments)
            raise
        state.metrics.key_judgments.labels(key).inc(judgments)
        yield

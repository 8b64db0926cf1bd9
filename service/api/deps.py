"""The routes' dependencies in one place, as the FastAPI template keeps them: the running service's state, the
caller (key, disconnect, access-line record) and the deadline header."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from service.api.access_log import note_judging
from service.api.authentication import key_name_of
from service.judging.context import JudgingContext
from service.orchestration.rewarding import Caller
from service.state import AppState


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.genrm
    return state


def get_caller(request: Request) -> Caller:
    async def disconnected() -> None:
        # The body has been read, so the next message on the channel is `http.disconnect`.
        while (await request.receive())["type"] != "http.disconnect":
            pass

    def record(context: JudgingContext, items: int) -> None:
        note_judging(request, context, items)

    return Caller(key_name_of(request.scope), disconnected, record)


State = Annotated[AppState, Depends(get_state)]
CallerDep = Annotated[Caller, Depends(get_caller)]
TimeoutHeader = Annotated[
    float | None,
    Header(alias="X-Request-Timeout", gt=0, le=3600, description="Deadline in seconds; the `timeout_s` field wins."),
]

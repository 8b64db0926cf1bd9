"""Content keys: the judgment cache's and dedup's (what shapes a judgment) and the engine-affinity key (what
shares a prompt prefix)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, fields, is_dataclass
from typing import TYPE_CHECKING, Any

from models.chat import Conversation
from service.judging.context import JudgingContext

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


def content_key(parts: dict[str, Any]) -> str:
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=_jsonable)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    raise TypeError(f"cannot key on {type(value).__name__}")


def judgment_key(
    context: JudgingContext, format_name: str, settings: DataclassInstance, item: DataclassInstance
) -> str:
    """Everything that shapes one item's judgment: model and version, format and grammar switch, rubric-set
    hash, task, sampling (seed included), the request's settings (votes, aggregation or swap, adaptive voting,
    judgments included) and the item's prompt and response(s). Not its id."""
    model = context.model
    content = {f.name: getattr(item, f.name) for f in fields(item) if f.name != "id"}
    return content_key({
        "format": format_name, "model": model.name, "version": model.version, "constrained": model.constrained,
        "rubrics": context.rubrics.content_hash, "task": context.task, "sampling": context.sampling,
        "settings": settings, "item": content,
    })


def prompt_affinity(context: JudgingContext, prompt: Conversation) -> str:
    """Engine-affinity key of everything before the responses: shared by votes, orders and a group's rollouts."""
    return content_key({"model": context.model.name, "rubrics": context.rubrics.content_hash, "task": context.task,
                        "prompt": prompt})

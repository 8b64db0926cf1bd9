"""Judged outcomes as JSON, for the shared judgment cache: every dataclass, tuple, frozenset, mapping and enum in
an `ItemOutcome` tagged so that decoding gives back an equal value of the same types.

Decoding builds only the dataclasses and enums reachable from `ItemOutcome`'s subclasses (found from their type
hints when first needed), never a class a stored value names otherwise: what Redis holds is data, not code (no
pickle). A value that does not decode is a cache miss (`UndecodableOutcome`).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import types
import typing
from collections.abc import Mapping
from typing import Any

from service.judging.items import ItemOutcome


class UndecodableOutcome(ValueError):
    """A stored value that is not an outcome this gateway knows: another version wrote it, or it is not ours."""


def encode_outcome(outcome: ItemOutcome) -> str:
    return json.dumps(_encode(outcome), separators=(",", ":"), ensure_ascii=False)


def decode_outcome(text: str | bytes) -> ItemOutcome:
    try:
        value = _decode(json.loads(text))
    except (ValueError, TypeError, KeyError) as error:
        raise UndecodableOutcome(str(error)) from error
    if not isinstance(value, ItemOutcome):
        raise UndecodableOutcome(f"not an outcome: {type(value).__name__}")
    return value


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {field.name: _encode(getattr(value, field.name)) for field in dataclasses.fields(value)}
        return {"$dc": type(value).__name__, "f": fields}
    if isinstance(value, enum.Enum):
        return {"$e": type(value).__name__, "v": value.value}
    if isinstance(value, tuple):
        return {"$t": [_encode(item) for item in value]}
    if isinstance(value, frozenset):
        return {"$fs": sorted((_encode(item) for item in value), key=json.dumps)}
    if isinstance(value, Mapping):
        return {"$m": [[_encode(key), _encode(item)] for key, item in value.items()]}
    if isinstance(value, list):
        return [_encode(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"cannot share a {type(value).__name__} in an outcome")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    known = _known_types()
    if "$dc" in value:
        cls = known[value["$dc"]]
        return cls(**{name: _decode(item) for name, item in value["f"].items()})
    if "$e" in value:
        return known[value["$e"]](value["v"])
    if "$t" in value:
        return tuple(_decode(item) for item in value["$t"])
    if "$fs" in value:
        return frozenset(_decode(item) for item in value["$fs"])
    if "$m" in value:
        return {_decode(key): _decode(item) for key, item in value["$m"]}
    raise ValueError(f"untagged object with keys {sorted(value)}")


@functools.cache
def _known_types() -> dict[str, type]:
    """The outcome classes and every dataclass and enum their fields can hold, by name."""
    found: dict[str, type] = {}
    pending: list[type] = [ItemOutcome]
    while pending:
        cls = pending.pop()
        if cls.__name__ in found:
            continue
        found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
        if dataclasses.is_dataclass(cls):
            pending.extend(_types_in(typing.get_type_hints(cls).values()))
    return found


def _types_in(hints: Any) -> list[type]:
    out: list[type] = []
    for hint in hints:
        if isinstance(hint, type) and (dataclasses.is_dataclass(hint) or issubclass(hint, enum.Enum)):
            out.append(hint)
        elif isinstance(hint, types.UnionType) or typing.get_origin(hint) is not None:
            out.extend(_types_in(typing.get_args(hint)))
    return out

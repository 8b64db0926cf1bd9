"""The rubric schema. A rubric is data: loaded with `yaml.safe_load`, validated by the wire schema's `Rubric`
(the same document a request may send inline), nothing executed. This module adds what the library needs."""

from __future__ import annotations

import re

from genrm_wire.rubrics import Rubric, ScoreBand

__all__ = ["DOMAINS", "Rubric", "ScoreBand", "split_reference"]

DOMAINS: tuple[str, ...] = ("chat", "math", "code", "safety", "instruction_following", "creative_writing", "agent")

_ID_AT_VERSION = re.compile(r"^(?P<id>[^@]+)(@(?P<version>\d+))?$")


def split_reference(reference: str) -> tuple[str, int | None]:
    """`"chat.usefulness@2"` -> `("chat.usefulness", 2)`; no `@` means the latest version."""
    match = _ID_AT_VERSION.match(reference)
    if match is None:
        raise ValueError(f"rubric reference {reference!r} is not `id` or `id@version`")
    version = match.group("version")
    return match.group("id"), int(version) if version else None

"""Training rows built with the service's own prompt builders (`models.formats`), as TRL conversational data.

- PAR: each preference pair becomes two adjacent rows, chosen at 2k and rejected at 2k+1, each the pointwise
  judge prompt for that response with the task's primary rubrics; columns `pair_id` and `side`.
- Pairwise: each pair becomes two rows, one per order (chosen shown first with label A, then shown second with
  label B), so a judge cannot earn reward by favouring a position.
- BRPO: writing prompts as plain user turns (the policy writes; the judge is the service).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from genrm_wire.preference_split import Split, in_split
from models.chat import ChatMessage, to_conversation
from models.formats import PAIRWISE, POINTWISE
from models.formats.framing import Framing
from models.rubrics import RubricLibrary


def read_jsonl(path: Path, limit: int | None = None, tasks: Sequence[str] | None = None,
               split: Split = "all") -> list[dict[str, Any]]:
    """The rows of `path` in `tasks` and, for rows with an id, in `split` (genrm_wire.preference_split: a judge
    trained on `train` is measured on `heldout`), the first `limit` of them."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if tasks and row.get("task") not in tasks:
            continue
        if "id" in row and not in_split(str(row["id"]), split):
            continue
        rows.append(row)
        if limit is not None and len(rows) == limit:
            break
    return rows


def _as_dicts(messages: Iterable[ChatMessage]) -> list[dict[str, str]]:
    return [message.as_dict() for message in messages]


def par_rows(
    pairs: Sequence[dict[str, Any]], library: RubricLibrary, framing: Framing
) -> list[dict[str, Any]]:
    rows = []
    for pair in pairs:
        rubrics = library.primary(pair["task"])
        for side in ("chosen", "rejected"):
            messages = POINTWISE.build_messages(pair["task"], rubrics, to_conversation(pair["prompt"]), pair[side],
                                                framing)
            rows.append({"prompt": _as_dicts(messages), "pair_id": pair["id"], "side": side, "task": pair["task"]})
    return rows


def pairwise_rows(
    pairs: Sequence[dict[str, Any]], library: RubricLibrary, framing: Framing
) -> list[dict[str, Any]]:
    rows = []
    for pair in pairs:
        rubrics = library.primary(pair["task"])
        for first, second, label in ((pair["chosen"], pair["rejected"], "A"), (pair["rejected"], pair["chosen"], "B")):
            messages = PAIRWISE.build_messages(pair["task"], rubrics, to_conversation(pair["prompt"]), first, second,
                                               framing)
            rows.append({"prompt": _as_dicts(messages), "pair_id": pair["id"], "label": label, "task": pair["task"]})
    return rows


def writing_rows(prompts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"prompt": row["prompt"], "prompt_id": row["id"], "task": row["task"]} for row in prompts]

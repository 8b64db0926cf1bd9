"""The preference data's fixed split: a held-out part that training never sees, and the rest to train on.

A pair is held out when the first byte of sha256("split:" + its id) is below 77 (about 30 %): 98 of the 300 pairs
of `data/preferences-dev.jsonl` (27 chat, 71 safety). The rule reads the id alone, so it holds for any file and
any order of its rows, and a pair never changes sides.
"""

from __future__ import annotations

import hashlib
from typing import Literal

Split = Literal["all", "heldout", "train"]
SPLITS: tuple[Split, ...] = ("all", "heldout", "train")
_HELD_OUT_BELOW = 77


def held_out(pair_id: str) -> bool:
    return hashlib.sha256(f"split:{pair_id}".encode()).digest()[0] < _HELD_OUT_BELOW


def in_split(pair_id: str, split: Split) -> bool:
    return split == "all" or held_out(pair_id) == (split == "heldout")

"""The fixed held-out split of the preference data: disjoint from the training side, stable, about 30 %."""

from __future__ import annotations

import json

from genrm_wire.preference_split import held_out, in_split
from tests.conftest import ROOT
from training.data import read_jsonl

DEV = ROOT / "data" / "preferences-dev.jsonl"


def test_the_held_out_pairs_are_never_read_for_training() -> None:
    ids = [json.loads(line)["id"] for line in DEV.read_text(encoding="utf-8").splitlines()]
    heldout = {i for i in ids if in_split(i, "heldout")}
    train = {row["id"] for row in read_jsonl(DEV, tasks=["chat", "safety"], split="train")}
    assert len(heldout) == 98  # as docs/evaluation.md states
    assert heldout.isdisjoint(train) and heldout | train == set(ids)
    assert {row["id"] for row in read_jsonl(DEV, tasks=["chat", "safety"], split="heldout")} == heldout
    assert all(held_out(i) == in_split(i, "heldout") and in_split(i, "all") for i in ids)


def test_the_eval_selects_the_held_out_pairs_by_the_same_row_ids() -> None:
    from evaluation.cli import select
    from evaluation.loaders import load

    pairs = select(load([DEV]).pairs, limit=None, sample=None, seed=0, split="heldout")
    assert {pair.id.partition("/")[2] for pair in pairs} == {
        row["id"] for row in read_jsonl(DEV, tasks=["chat", "safety"], split="heldout")}

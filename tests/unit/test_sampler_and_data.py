"""The pair-preserving sampler and the training rows (built with the service's own prompt builders)."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.formats import PAIRWISE, POINTWISE
from models.formats.framing import Framing
from models.rubrics import RubricLibrary
from tests.conftest import ROOT
from training.data import pairwise_rows, par_rows
from training.sampler import PairRepeatSampler

PAIR = {"id": "p1", "task": "chat", "prompt": [{"role": "user", "content": "Hi?"}],
        "chosen": "Hello!", "rejected": "No."}


def test_pairs_stay_whole_and_adjacent_through_shuffling() -> None:
    sampler = PairRepeatSampler(list(range(12)), mini_repeat_count=3, batch_size=4, shuffle=True, seed=1)
    order = list(sampler)
    assert len(order) == 12 * 3
    rows = order[::3]
    assert all(order[i : i + 3] == [order[i]] * 3 for i in range(0, len(order), 3))
    assert all(rows[i] % 2 == 0 and rows[i + 1] == rows[i] + 1 for i in range(0, len(rows), 2))
    assert sorted(rows) == list(range(12)) and rows != list(range(12))


def test_the_sampler_refuses_what_would_split_a_pair() -> None:
    with pytest.raises(ValueError, match="whole pairs"):
        PairRepeatSampler(list(range(5)), mini_repeat_count=2, batch_size=2)
    with pytest.raises(ValueError, match="multiple of 2"):
        PairRepeatSampler(list(range(6)), mini_repeat_count=2, batch_size=3)


def test_par_rows_are_the_service_prompts_chosen_then_rejected() -> None:
    library = RubricLibrary.load(ROOT / "rubrics")
    rows = par_rows([PAIR], library, Framing(("<|im_end|>",)))
    assert [(r["pair_id"], r["side"]) for r in rows] == [("p1", "chosen"), ("p1", "rejected")]
    expected = POINTWISE.build_messages("chat", library.primary("chat"), "Hi?", "Hello!",
                                        Framing(("<|im_end|>",)))
    assert rows[0]["prompt"] == [m.as_dict() for m in expected]


def test_pairwise_rows_present_both_orders_with_their_labels() -> None:
    library = RubricLibrary.load(ROOT / "rubrics")
    rows = pairwise_rows([PAIR], library, Framing(()))
    assert [r["label"] for r in rows] == ["A", "B"]
    swapped = PAIRWISE.build_messages("chat", library.primary("chat"), "Hi?", "No.", "Hello!", Framing(()))
    assert rows[1]["prompt"] == [m.as_dict() for m in swapped]


@pytest.mark.parametrize("recipe", sorted((ROOT / "training" / "recipes").glob("*.yaml")),
                         ids=lambda path: path.stem)
def test_every_recipe_parses_into_the_recipe_and_grpo_configs(recipe: Path) -> None:
    from trl import GRPOConfig, TrlParser

    from training.config import RecipeArguments

    # GPU recipes ask for bf16, which TRL refuses on a machine without a GPU: check everything else here.
    cpu = ["--bf16", "false", "--use_cpu", "true"] if "gpu" in recipe.stem else []
    arguments, grpo = TrlParser((RecipeArguments, GRPOConfig)).parse_args_and_config(["--config", str(recipe), *cpu])
    assert grpo.num_generations >= 2
    if recipe.stem.startswith("par"):
        assert grpo.generation_batch_size % (2 * grpo.num_generations) == 0, "PAR batches must hold whole pairs"

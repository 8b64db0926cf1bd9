"""Direct-verdict tuning: its examples are the served reading's ids, its batches keep pairs whole, and its split
forward (cached bottom, trainable top) computes what the whole model computes."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from models.chat import ChatTemplate
from models.formats import PAIRWISE
from models.rubrics import RubricLibrary
from training import data
from training.verdict_examples import VerdictTokens, verdict_examples
from training.verdict_tuning import SplitJudge, StepRecord, TuningRecipe, batches, read_recipe

ROOT = Path(__file__).resolve().parents[2]


def test_examples_end_with_the_direct_prefill_in_both_orders(chat_template: ChatTemplate) -> None:
    pairs = data.read_jsonl(ROOT / "data" / "preferences-dev.jsonl", 3, None, "train")
    examples = verdict_examples(pairs, RubricLibrary.load(ROOT / "rubrics"), chat_template)
    prefill = chat_template.encode_literal(PAIRWISE.direct_prefill())
    assert [e.label for e in examples] == ["A", "B"] * 3
    assert [e.pair_id for e in examples[::2]] == [str(pair["id"]) for pair in pairs]
    for example in examples:
        assert list(example.input_ids[-len(prefill):]) == prefill
    first, second = examples[0], examples[1]
    chosen = pairs[0]["chosen"]
    # The chosen response is shown first in the A example and second in the B example.
    text_a, text_b = chat_template.decode(first.input_ids), chat_template.decode(second.input_ids)
    rejected = pairs[0]["rejected"]
    assert text_a.rindex(chosen[-40:]) < text_a.rindex(rejected[-40:])
    assert text_b.rindex(rejected[-40:]) < text_b.rindex(chosen[-40:])


def test_the_verdicts_are_one_token_each(chat_template: ChatTemplate) -> None:
    tokens = VerdictTokens.of(chat_template)
    assert chat_template.decode([tokens.a]) == "A" and chat_template.decode([tokens.b]) == "B"
    assert (tokens.index("A"), tokens.index("B")) == (0, 1)


def test_batches_hold_whole_pairs_in_both_orders_and_cover_every_example() -> None:
    examples = list(range(14))  # 7 pairs, orders adjacent
    steps = batches(examples, 3, random.Random(0))  # type: ignore[arg-type]
    assert [len(step) for step in steps] == [6, 6, 2]
    assert sorted(index for step in steps for index in step) == examples
    for step in steps:
        assert all(step[i] % 2 == 0 and step[i + 1] == step[i] + 1 for i in range(0, len(step), 2))
    assert steps != batches(examples, 3, random.Random(1))  # type: ignore[arg-type]  # the seed shuffles


def test_the_split_forward_matches_the_whole_model() -> None:
    torch = pytest.importorskip("torch")
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=4,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)
    model = LlamaForCausalLM(config).eval()  # type: ignore[no-untyped-call]
    judge = SplitJudge(model, 2, VerdictTokens(a=7, b=9))
    ids = tuple(range(3, 20))
    with torch.no_grad():
        whole = model(torch.tensor([ids])).logits[0, -1, [7, 9]]
        split = judge.verdict_logits(judge.bottom(ids))[0]
    assert torch.allclose(whole, split, atol=1e-5)
    trainable = {id(p) for p in judge.trainable}
    assert all(p.requires_grad == (id(p) in trainable) for p in model.parameters())
    assert not model.model.embed_tokens.weight.requires_grad  # tied to the output head: frozen
    assert not any(p.requires_grad for p in model.model.layers[0].parameters())
    assert all(p.requires_grad for p in model.model.layers[3].parameters())


def test_a_step_record_reads_the_labels_orders() -> None:
    from training.verdict_examples import VerdictExample

    examples = [VerdictExample("p", "A", (1,)), VerdictExample("p", "B", (1,))]
    record = StepRecord.of(1, 0.5, examples, [0.9, 0.9], 0.7)  # always the first shown
    assert record.first_shown_share == pytest.approx(0.9)
    assert record.reward == pytest.approx(((2 * 0.9 - 1) + (2 * 0.1 - 1)) / 2)  # right once, wrong once: 0


def test_the_recipe_reads_yaml_and_flags(tmp_path: Path) -> None:
    config = tmp_path / "recipe.yaml"
    config.write_text("output_dir: out\nepochs: 2\ntasks: [chat]\n", encoding="utf-8")
    recipe = read_recipe(["--config", str(config), "--learning_rate", "1e-4", "--tasks", "chat", "safety"])
    assert recipe == TuningRecipe(output_dir="out", epochs=2, learning_rate=1e-4, tasks=["chat", "safety"])
    config.write_text("output_dir: out\nepoch: 2\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="unknown fields \\['epoch'\\]"):
        read_recipe(["--config", str(config)])
    with pytest.raises(ValueError, match="split 'dev'"):
        TuningRecipe(output_dir="out", split="dev")


@pytest.mark.parametrize("recipe", sorted((ROOT / "training" / "recipes" / "verdict-tuning").glob("*.yaml")),
                         ids=lambda path: path.stem)
def test_every_tuning_recipe_parses_names_its_seed_and_reads_only_the_train_split(recipe: Path) -> None:
    import yaml

    assert read_recipe(["--config", str(recipe)]).split == "train"
    assert "seed" in yaml.safe_load(recipe.read_text(encoding="utf-8"))

"""Direct-verdict tuning of a pairwise judge on CPU: fit p(label) at the served verdict position, both orders.

    python -m training.verdict_tuning --config training/recipes/verdict-tuning/pairwise-direct-cpu.yaml [--key v ...]

The loss is −log p(label | prompt, direct prefill), p renormalised over the verdict tokens A and B, exactly the
probability that `verdict: direct` serves (`training/verdict_examples.py`). Each step holds whole pairs in both
orders (swap balance). Why not GRPO: with one-token completions, pairwise GRPO's ±1 reward has the expected value
2·p(label) − 1, which this loss raises directly, without G sampled rollouts per prompt (each a full prefill on
2 cores); the curve logs that expected reward.

Only the top `trainable_layers` decoder layers and the final norm learn; the embeddings (tied to the output head)
and the layers below stay frozen, so the hidden states entering the trainable layers are computed once and cached,
and every epoch runs only the top layers. The output directory is a Hugging Face model directory with a manifest
(`models/checkpoints.py`, format `pairwise`) that the service serves (`python -m service --checkpoint DIR`), and
`curve.jsonl`: one line per optimizer step (loss, expected reward, first-shown share).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import random
import statistics
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

from genrm_wire.preference_split import SPLITS, Split
from models.bundled import prepare_bundled_model
from models.chat import ChatTemplate
from models.checkpoints import Manifest, data_hash, weights_digest, write_manifest
from models.rubrics import RubricLibrary
from training import data
from training.config import DATA
from training.verdict_examples import VerdictExample, VerdictTokens, verdict_examples

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
CURVE_FILE = "curve.jsonl"


@dataclass(frozen=True)
class TuningRecipe:
    output_dir: str
    model_name: str = "pairwise-direct-judge"
    base_model: str = ""  # a Hugging Face model directory; empty: the bundled SmolLM2
    data_path: str = ""  # JSONL pairs; empty: the project's data/preferences-dev.jsonl
    tasks: list[str] = field(default_factory=list)  # empty: every task in the data
    split: str = "train"
    max_examples: int = 0  # pairs; 0: all of the split
    trainable_layers: int = 6
    epochs: int = 3
    pairs_per_step: int = 4
    learning_rate: float = 5e-5
    weight_decay: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise ValueError(f"split {self.split!r}: use one of {SPLITS}")
        if min(self.trainable_layers, self.epochs, self.pairs_per_step) < 1 or self.max_examples < 0:
            raise ValueError("trainable_layers, epochs and pairs_per_step must be at least 1, max_examples at "
                             "least 0 (0: all)")


@dataclass(frozen=True)
class StepRecord:
    step: int
    epoch: float
    loss: float
    reward: float  # the expected pairwise reward, mean of 2·p(label) − 1
    first_shown_share: float  # mean p(the response shown first wins), over both orders

    @classmethod
    def of(cls, step: int, epoch: float, examples: list[VerdictExample], p_first: list[float],
           loss: float) -> StepRecord:
        p_label = [p if example.label == "A" else 1 - p for example, p in zip(examples, p_first, strict=True)]
        return cls(step, round(epoch, 3), loss, statistics.fmean(2 * p - 1 for p in p_label),
                   statistics.fmean(p_first))


class SplitJudge:
    """A causal LM cut in two: the frozen bottom (run once per example, its output cached) and the trainable top,
    read at the last position over the two verdict tokens."""

    def __init__(self, model: Any, trainable_layers: int, tokens: VerdictTokens) -> None:
        import torch

        layers = model.model.layers
        if not 1 <= trainable_layers <= len(layers):
            raise ValueError(f"trainable_layers={trainable_layers}: the model has {len(layers)} layers")
        self.model, self.cut, self._verdict_ids = model, len(layers) - trainable_layers, [tokens.a, tokens.b]
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        self.trainable = [*layers[self.cut:].parameters(), *model.model.norm.parameters()]
        for parameter in self.trainable:
            parameter.requires_grad_(True)
        self._torch = torch

    def bottom(self, input_ids: tuple[int, ...]) -> Any:
        """The hidden states entering the first trainable layer, shape (1, T, hidden)."""
        with self._torch.no_grad():
            ids = self._torch.tensor([input_ids])
            return self.model.model(ids, output_hidden_states=True).hidden_states[self.cut].detach()

    def verdict_logits(self, hidden: Any) -> Any:
        """The logits of (A, B) at the last position, from the bottom's hidden states, through the top layers."""
        from transformers.masking_utils import create_causal_mask

        inner = self.model.model
        positions = self._torch.arange(hidden.shape[1]).unsqueeze(0)
        mask = create_causal_mask(config=inner.config, inputs_embeds=hidden, attention_mask=None,
                                  past_key_values=None, position_ids=positions)
        rotary = inner.rotary_emb(hidden, position_ids=positions)
        for layer in inner.layers[self.cut:]:
            hidden = layer(hidden, attention_mask=mask, position_embeddings=rotary, position_ids=positions)
        last = inner.norm(hidden[:, -1])
        return last @ self.model.lm_head.weight[self._verdict_ids].T


def batches(examples: list[VerdictExample], pairs_per_step: int, rng: random.Random) -> list[list[int]]:
    """Indices of whole pairs (both orders, adjacent in `examples`), the pairs shuffled, `pairs_per_step` a batch."""
    pairs = list(range(0, len(examples), 2))
    rng.shuffle(pairs)
    return [[index for pair in pairs[start:start + pairs_per_step] for index in (pair, pair + 1)]
            for start in range(0, len(pairs), pairs_per_step)]


def tune(recipe: TuningRecipe) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    random.seed(recipe.seed)
    torch.manual_seed(recipe.seed)
    base = Path(recipe.base_model) if recipe.base_model else prepare_bundled_model(ROOT / ".cache" / "models")
    template = ChatTemplate.from_directory(base)
    source = Path(recipe.data_path) if recipe.data_path else DATA / "preferences-dev.jsonl"
    pairs = data.read_jsonl(source, recipe.max_examples or None, recipe.tasks or None, cast(Split, recipe.split))
    examples = verdict_examples(pairs, RubricLibrary.load(ROOT / "rubrics"), template)
    tokens = VerdictTokens.of(template)
    targets = torch.tensor([tokens.index(example.label) for example in examples])
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    judge = SplitJudge(model, recipe.trainable_layers, tokens)
    logger.info("%d pairs, %d examples; caching the frozen layers' output", len(pairs), len(examples))
    hidden = [judge.bottom(example.input_ids) for example in examples]
    optimizer = torch.optim.AdamW(judge.trainable, lr=recipe.learning_rate, weight_decay=recipe.weight_decay)
    output = Path(recipe.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    rng, step, curve = random.Random(recipe.seed), 0, []
    with (output / CURVE_FILE).open("w", encoding="utf-8") as log:
        for epoch in range(recipe.epochs):
            steps = batches(examples, recipe.pairs_per_step, rng)
            for index, batch in enumerate(steps):
                logits = torch.cat([judge.verdict_logits(hidden[i]) for i in batch])
                loss = torch.nn.functional.cross_entropy(logits, targets[batch])
                optimizer.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
                step += 1
                p_first = torch.softmax(logits.detach(), dim=-1)[:, 0].tolist()
                record = StepRecord.of(step, epoch + (index + 1) / len(steps), [examples[i] for i in batch],
                                       p_first, loss.item())
                curve.append(record)
                log.write(json.dumps(asdict(record)) + "\n")
                log.flush()
                logger.info("step %d epoch %.2f loss %.4f reward %.3f first-shown %.3f", record.step, record.epoch,
                            record.loss, record.reward, record.first_shown_share)
    model.save_pretrained(str(output))
    AutoTokenizer.from_pretrained(str(base)).save_pretrained(str(output))
    write_manifest(output, _manifest(recipe, examples, curve, base, output))
    return output


def _manifest(recipe: TuningRecipe, examples: list[VerdictExample], curve: list[StepRecord], base: Path,
              output: Path) -> Manifest:
    last_epoch = [record for record in curve if record.epoch > recipe.epochs - 1]
    metrics = {"loss": statistics.fmean(r.loss for r in last_epoch),
               "reward": statistics.fmean(r.reward for r in last_epoch),
               "first_shown_share": statistics.fmean(r.first_shown_share for r in last_epoch)}
    rows = [{"pair_id": e.pair_id, "label": e.label, "input_ids": list(e.input_ids)} for e in examples]
    return Manifest(name=recipe.model_name, version=f"direct-step{len(curve)}-{weights_digest(output)}",
                    format="pairwise", pipeline="pairwise-direct", base_model=recipe.base_model or
                    f"bundled:{base.name}", data_hash=data_hash(rows), step=len(curve),
                    config={"recipe": asdict(recipe)}, metrics=metrics)


def read_recipe(argv: list[str]) -> TuningRecipe:
    """The recipe YAML (`--config`), each field overridable by `--field value`."""
    import yaml

    parser = argparse.ArgumentParser(prog="python -m training.verdict_tuning", description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True)
    known, rest = parser.parse_known_args(argv)
    values = yaml.safe_load(Path(known.config).read_text(encoding="utf-8")) or {}
    names = {f.name: f for f in dataclasses.fields(TuningRecipe)}
    unknown = sorted(set(values) - names.keys())
    if unknown:
        raise SystemExit(f"{known.config}: unknown fields {unknown}; known: {sorted(names)}")
    overrides = argparse.ArgumentParser()
    for name, spec in names.items():
        kind = str if spec.type in ("str", str) else {"int": int, "float": float}.get(str(spec.type), str)
        overrides.add_argument(f"--{name}", type=kind, nargs="+" if name == "tasks" else None)
    values.update({k: v for k, v in vars(overrides.parse_args(rest)).items() if v is not None})
    return TuningRecipe(**values)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    recipe = read_recipe(list(sys.argv[1:] if argv is None else argv))
    output = tune(recipe)
    print(f"checkpoint={output} name={recipe.model_name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

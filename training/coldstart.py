"""Cold start: SFT on judgments the service itself produces, kept only where they agree with the label.

Zero-shot, the bundled model never writes the judge format, so every PAR reward would be the same format
penalty and GRPO would learn nothing. Both papers start with SFT. The data comes from the running service's
constrained judgments (`/v1/score`, `/v1/compare` with `include_judgments`), filtered by rejection sampling:

- PAR: a chosen response's judgment is kept when its score beats the rejected response's mean score, and a
  rejected response's judgment when it is below the chosen response's mean.
- Pairwise: a judgment is kept when its verdict, mapped back from the order it was made in, names the chosen
  response.

Each kept judgment becomes a prompt → completion row whose prompt is exactly the GRPO prompt for that item. The
judgments are drawn with the recipe's seed, so a recipe writes the same cold-start data on the same engine (and a
run that trains from it is reproducible end to end).
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from genrm_client import (
    CompareItemIn,
    CompareRequest,
    JudgeClient,
    SamplingIn,
    ScoreItemIn,
    ScoreRequest,
)


def par_sft_rows(pairs: list[dict[str, Any]], rows: list[dict[str, Any]], client: JudgeClient, votes: int,
                 max_tokens: int, seed: int | None = None) -> list[dict[str, Any]]:
    prompts = {(row["pair_id"], row["side"]): row["prompt"] for row in rows}
    kept = []
    for pair in pairs:
        items = [ScoreItemIn.model_validate({"id": side, "prompt": pair["prompt"], "response": pair[side]})
                 for side in ("chosen", "rejected")]
        answer = client.score(ScoreRequest(task=pair["task"], items=items, votes=votes, include_judgments=True,
                                           dedup=False, sampling=SamplingIn(max_tokens=max_tokens, seed=seed)))
        chosen, rejected = answer.items
        if chosen.status != "ok" or rejected.status != "ok":
            continue
        chosen_mean, rejected_mean = statistics.fmean(chosen.scores), statistics.fmean(rejected.scores)
        for judgment in chosen.judgments or []:
            if judgment.score is not None and judgment.score > rejected_mean:
                kept.append(_row(prompts[(pair["id"], "chosen")], judgment.text))
        for judgment in rejected.judgments or []:
            if judgment.score is not None and judgment.score < chosen_mean:
                kept.append(_row(prompts[(pair["id"], "rejected")], judgment.text))
    return kept


def pairwise_sft_rows(pairs: list[dict[str, Any]], rows: list[dict[str, Any]], client: JudgeClient, votes: int,
                      max_tokens: int, seed: int | None = None) -> list[dict[str, Any]]:
    prompts = {(row["pair_id"], row["label"]): row["prompt"] for row in rows}
    kept = []
    for pair in pairs:
        item = CompareItemIn.model_validate({"id": pair["id"], "prompt": pair["prompt"],
                                             "response_a": pair["chosen"], "response_b": pair["rejected"]})
        answer = client.compare(CompareRequest(task=pair["task"], items=[item], votes=votes, include_judgments=True,
                                               dedup=False, sampling=SamplingIn(max_tokens=max_tokens, seed=seed)))
        for judgment in answer.items[0].judgments or []:
            if judgment.winner == "A":  # mapped back: the chosen response won
                label = "A" if judgment.order == "ab" else "B"
                kept.append(_row(prompts[(pair["id"], label)], judgment.text))
    return kept


def _row(prompt: list[dict[str, str]], completion: str) -> dict[str, Any]:
    return {"prompt": prompt, "completion": [{"role": "assistant", "content": completion}]}


def run_sft(model_path: Path, rows: list[dict[str, Any]], output_dir: Path, steps: int, learning_rate: float,
            seed: int, *, on_cpu: bool, bf16: bool) -> Path:
    """The cold-start SFT on the devices the recipe's GRPO run uses (its `use_cpu` and `bf16`): GPU recipes
    fine-tune on their GPUs, the CPU smoke recipes on the CPU."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    if not rows:
        raise RuntimeError("cold start kept no judgment: the service's verdicts never agreed with the labels; "
                           "raise sft_votes or max_examples")
    config = SFTConfig(
        output_dir=str(output_dir), max_steps=steps, learning_rate=learning_rate, per_device_train_batch_size=1,
        gradient_accumulation_steps=2, use_cpu=on_cpu, bf16=bf16 and not on_cpu, gradient_checkpointing=not on_cpu,
        logging_steps=1, save_strategy="no", report_to="none", seed=seed, max_length=2048,
    )
    trainer = SFTTrainer(model=str(model_path), args=config, train_dataset=Dataset.from_list(rows))
    trainer.train()
    trainer.save_model(str(output_dir))
    return output_dir

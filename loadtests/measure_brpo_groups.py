"""How often does a BRPO group get no reward spread with a given judge? Run it before choosing a BRPO recipe's
`brpo_inconsistent_reward` and group size.

    .venv/bin/python loadtests/measure_brpo_groups.py [--groups 30] [--group-size 4] [--votes 1]

The bundled model writes 8 rollouts (64 tokens, temperature 1) for each of the first two writing prompts, the way
the CPU smoke recipe's policy does. Each trial draws a group from one prompt's rollouts and scores it with the
training pipeline's BRPO reward (`genrm_client.adapters.trl.GroupReward`, the service's `/v1/groups`) against a
local gateway with the bundled judge, under both readings of an inconsistent verdict. Prints the outcome counts
and how many groups would give GRPO nothing to learn from.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from genrm_client import JudgeClient, LocalGateway  # noqa: E402
from genrm_client.adapters.trl import GroupReward  # noqa: E402
from loadtests.harness import ROOT  # noqa: E402
from models.bundled import prepare_bundled_model  # noqa: E402
from training.data import read_jsonl  # noqa: E402

ROLLOUTS_PER_PROMPT = 8
PAPER_MAX_SKEW = 0.6
WRITING_PROMPTS = ROOT / "data" / "writing-prompts.jsonl"


def write_rollouts(model_dir: Path, prompts: list[Any], seed: int) -> list[list[str]]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer: Any = AutoTokenizer.from_pretrained(model_dir)
    model: Any = AutoModelForCausalLM.from_pretrained(model_dir)
    torch.manual_seed(seed)
    rollouts: list[list[str]] = []
    for prompt in prompts:
        ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, return_tensors="pt",
                                            return_dict=True)["input_ids"]
        out = model.generate(ids, do_sample=True, temperature=1.0, max_new_tokens=64,
                             num_return_sequences=ROLLOUTS_PER_PROMPT)
        rollouts.append([tokenizer.decode(row[ids.shape[1]:], skip_special_tokens=True) for row in out])
    return rollouts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=30)
    parser.add_argument("--group-size", type=int, default=4)
    parser.add_argument("--votes", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not 2 <= args.group_size <= ROLLOUTS_PER_PROMPT:
        parser.error(f"--group-size must be in [2, {ROLLOUTS_PER_PROMPT}]")

    prompts = [row["prompt"] for row in read_jsonl(WRITING_PROMPTS, limit=2)]
    rollouts = write_rollouts(prepare_bundled_model(ROOT / ".cache" / "models"), prompts, args.seed)
    draw = random.Random(args.seed)
    outcomes: Counter[str] = Counter()
    flat_at_zero = skewed_at_minus_one = 0
    judged = args.group_size - 1
    models = [{"name": "brpo-probe-judge", "version": "bundled", "engines": [{"kind": "managed"}]}]
    with LocalGateway(models, workdir=ROOT) as url, JudgeClient(url) as client:
        reward = GroupReward(client, group_size=args.group_size, mode="brpo", task="creative_writing",
                             votes=args.votes, inconsistent_reward=0.0, reference_seed=args.seed)
        for trial in range(args.groups):
            which = trial % len(prompts)
            values = reward([prompts[which]] * args.group_size, draw.sample(rollouts[which], args.group_size))
            for name in ("win", "loss", "inconsistent"):
                outcomes[name] += round(reward.last_stats[f"{name}_rate"] * judged)
            flat_at_zero += len(set(values)) == 1
            # Under the -1 reading every judged rollout is +1 (a win) or -1, so |sum R| / G follows from the wins.
            wins = values.count(1.0)
            skewed_at_minus_one += abs(2 * wins - judged) / args.group_size > PAPER_MAX_SKEW
    print("| comparisons | win | loss | inconsistent | groups with no spread, reading 0 "
          f"| groups over max_skew {PAPER_MAX_SKEW}, reading -1 |")
    print("|---|---|---|---|---|---|")
    print(f"| {args.groups * judged} | {outcomes['win']} | {outcomes['loss']} | {outcomes['inconsistent']} "
          f"| {flat_at_zero} of {args.groups} | {skewed_at_minus_one} of {args.groups} |")


if __name__ == "__main__":
    main()

"""PaTaRM's data filter, as a tool that uses the running service.

    python -m training.filter --service http://127.0.0.1:8000 --data data/preferences-dev.jsonl \
        --out .cache/filtered.jsonl [--rollouts 8] [--low 0.125] [--high 0.75] [--min-gap 0]

For each preference pair the service scores the chosen and the rejected response `rollouts` times each
(`/v1/score`, one request per pair). The judge's accuracy on the pair is the share of rollout pairs i with
s_i^chosen > s_i^rejected. Pairs whose accuracy lies in [low, high] are kept: the paper's [1/8, 6/8] drops the
trivially easy and the hopeless. `--min-gap 2` also requires mean(chosen) − mean(rejected) > 2 (the paper's rule
for SFT data). Pairs the service cannot score (`too_long`, ...) are dropped and counted. See `docs/methods.md`
("PaTaRM's data filter").
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from genrm_client import JudgeClient, ScoreItemIn, ScoreRequest, ScoreResponse
from training.data import read_jsonl


class ScoringClient(Protocol):
    """What the filter needs of `genrm_client.JudgeClient`: `/v1/score`."""

    def score(self, request: ScoreRequest) -> ScoreResponse: ...


@dataclass(frozen=True)
class PairVerdict:
    accuracy: float | None  # None: the service could not score the pair
    gap: float | None


def judge_pair(client: ScoringClient, pair: dict[str, Any], rollouts: int) -> PairVerdict:
    items = [ScoreItemIn.model_validate({"id": side, "prompt": pair["prompt"], "response": pair[side]})
             for side in ("chosen", "rejected")]
    answer = client.score(ScoreRequest(task=pair["task"], items=items, votes=rollouts, dedup=False))
    chosen, rejected = answer.items
    if chosen.status != "ok" or rejected.status != "ok":
        return PairVerdict(None, None)
    wins = [c > r for c, r in zip(chosen.scores, rejected.scores, strict=False)]
    gap = statistics.fmean(chosen.scores) - statistics.fmean(rejected.scores)
    return PairVerdict(sum(wins) / len(wins), gap)


def keep(verdict: PairVerdict, low: float, high: float, min_gap: float | None) -> bool:
    if verdict.accuracy is None or verdict.gap is None:
        return False
    return low <= verdict.accuracy <= high and (min_gap is None or verdict.gap > min_gap)


def filter_pairs(client: ScoringClient, pairs: list[dict[str, Any]], rollouts: int, low: float, high: float,
                 min_gap: float | None) -> tuple[list[dict[str, Any]], Counter[str]]:
    kept, counts = [], Counter[str]()
    for pair in pairs:
        verdict = judge_pair(client, pair, rollouts)
        if verdict.accuracy is None:
            counts["unscorable"] += 1
        elif keep(verdict, low, high, min_gap):
            counts["kept"] += 1
            kept.append({**pair, "judge_accuracy": verdict.accuracy, "judge_gap": verdict.gap})
        else:
            reason = "too_easy" if verdict.accuracy > high else "too_hard" if verdict.accuracy < low else "small_gap"
            counts[reason] += 1
    return kept, counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--service", required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--rollouts", type=int, default=8)
    parser.add_argument("--low", type=float, default=1 / 8)
    parser.add_argument("--high", type=float, default=6 / 8)
    parser.add_argument("--min-gap", type=float, default=None)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)
    with JudgeClient(args.service) as client:
        kept, counts = filter_pairs(client, read_jsonl(args.data, args.limit), args.rollouts, args.low, args.high,
                                    args.min_gap)
    args.out.write_text("".join(json.dumps(pair) + "\n" for pair in kept), encoding="utf-8")
    print(f"{args.out}: kept {counts['kept']} pairs; dropped {dict(counts - Counter(kept=counts['kept']))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

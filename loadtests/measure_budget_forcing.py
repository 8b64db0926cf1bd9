"""What budget forcing changes, on the real engine and the bundled judge: how much of `max_tokens` the judge
uses, how often it needs a forced ending, parse failures, judgments/s, and whether it writes Chinese for a
Chinese prompt.

    .venv/bin/python loadtests/measure_budget_forcing.py --budgets 192 256 1024   # this checkout
    .venv/bin/python loadtests/measure_budget_forcing.py --label before  # the same script in an older checkout

Workload: `--items` chat items of the dev set (`data/preferences-dev.jsonl`, chosen responses), `--votes` votes
each, at each budget of `--budgets`; then the Chinese writing prompts of `data/writing-prompts.jsonl`, each with a
short Chinese response, at the first budget. The last line is one `key=value` summary per budget.

`tokens/judgment` is the judgment's whole text under the judge's tokenizer, forced ending included (the part the
gateway writes is prompt, not completion, to the engine); `used/max_tokens` divides it by the budget.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from genrm_client import JudgeClient, LocalGateway, SamplingIn, ScoreItemIn, ScoreRequest  # noqa: E402
from loadtests.harness import ROOT, preference_rows  # noqa: E402
from models.bundled import prepare_bundled_model  # noqa: E402
from models.chat import ChatTemplate  # noqa: E402

CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")
SECTIONS = re.compile(r"<(think|generate_rubrics|eval)>(.*?)</\1>", re.DOTALL)
CHINESE_RESPONSE = "谢谢你多年的陪伴。你是我最好的朋友，我会永远记得你。"


def run(judge: JudgeClient, template: ChatTemplate, task: str, items: list[ScoreItemIn], votes: int,
        max_tokens: int) -> dict[str, Any]:
    started = time.perf_counter()
    answer = judge.score(ScoreRequest(task=task, items=items, votes=votes, include_judgments=True, dedup=False,
                                      sampling=SamplingIn(max_tokens=max_tokens)))
    seconds = time.perf_counter() - started
    judgments = [j for item in answer.items for j in item.judgments or []]
    failures = sum(sum(item.parse_failures.values()) for item in answer.items)
    critiques = [" ".join(text for _, text in SECTIONS.findall(j.text)) for j in judgments]
    tokens = sum(len(template.encode_literal(j.text)) for j in judgments) / max(1, len(judgments))
    return {
        "judgments": len(judgments), "seconds": seconds,
        "tokens_per_judgment": tokens,
        "used_share": tokens / max_tokens,
        "most_used_share": max((len(template.encode_literal(j.text)) for j in judgments), default=0) / max_tokens,
        "forced_share": sum(bool(getattr(j, "forced", False)) for j in judgments) / max(1, len(judgments)),
        "parse_failures": failures,
        "chinese_share": sum(bool(CJK.search(c)) for c in critiques) / max(1, len(critiques)),
        "judgments_per_s": len(judgments) / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=8)
    parser.add_argument("--votes", type=int, default=2)
    parser.add_argument("--budgets", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--chinese", type=int, default=6, help="Chinese writing prompts to judge.")
    parser.add_argument("--label", default="this checkout")
    parser.add_argument("--port", type=int, default=8051)
    args = parser.parse_args()
    chat = [ScoreItemIn(id=r["id"], prompt=r["prompt"], response=r["chosen"])
            for r in preference_rows(args.items)]
    rows = [json.loads(line) for line in (ROOT / "data" / "writing-prompts.jsonl").read_text().splitlines()]
    chinese = [ScoreItemIn(id=r["id"], prompt=r["prompt"], response=CHINESE_RESPONSE)
               for r in rows if r.get("lang") == "zh"][: args.chinese]
    models = [{"name": "judge", "version": "bench", "max_model_len": 2048 + max(args.budgets),
               "request_timeout_s": 3600, "sampling": {"max_tokens": max(args.budgets)}}]
    template = ChatTemplate.from_directory(prepare_bundled_model(ROOT / ".cache" / "models"))
    results: dict[str, dict[str, Any]] = {}
    with LocalGateway(models, workdir=ROOT, port=args.port) as url, JudgeClient(url, timeout_s=3600) as judge:
        judge.score(ScoreRequest(task="chat", items=chat[:1], votes=1))  # warm-up
        for budget in args.budgets:
            results[f"chat@{budget}"] = run(judge, template, "chat", chat, args.votes, budget)
        results[f"zh@{args.budgets[0]}"] = run(judge, template, "creative_writing", chinese, args.votes,
                                               args.budgets[0])
    print(f"\n{args.label}: bundled judge, {args.items} chat items and {len(chinese)} Chinese writing prompts x "
          f"{args.votes} votes; machine: {platform.node()}\n")
    print("| workload | judgments | tokens/judgment | used/max_tokens (most) | forced | parse failures | Chinese "
          "critiques | judgments/s |\n|---|---|---|---|---|---|---|---|")
    for key, r in results.items():
        print(f"| {key} | {r['judgments']} | {r['tokens_per_judgment']:.0f} | {r['used_share']:.2f} "
              f"({r['most_used_share']:.2f}) | "
              f"{r['forced_share']:.0%} | {r['parse_failures']} | {r['chinese_share']:.0%} | "
              f"{r['judgments_per_s']:.2f} |")
    print(" ".join(f"{key}:used={r['used_share']:.2f},forced={r['forced_share']:.2f},failures={r['parse_failures']},"
                   f"zh={r['chinese_share']:.2f},jps={r['judgments_per_s']:.2f}" for key, r in results.items()))


if __name__ == "__main__":
    main()

"""`make smoke-train`: the three CPU smoke trainings, then serve the PAR checkpoint and score with it.

`python -m training.smoke [PIPELINE ...]` runs only those (PAR is always among them: its checkpoint is served).
Last line: `par=ok pairwise=ok brpo=ok served=<model>@<version>`, or which step failed.
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path

from genrm_client import JudgeClient, LocalGateway, ScoreItemIn, ScoreRequest
from training.config import RecipeArguments
from training.pipelines import PIPELINES, ROOT, train

RECIPES = Path(__file__).resolve().parent / "recipes"


def run(pipeline: str) -> Path:
    from trl import GRPOConfig, TrlParser

    parser = TrlParser((RecipeArguments, GRPOConfig))
    recipe, grpo = parser.parse_args_and_config(["--config", str(RECIPES / f"{pipeline}-cpu-smoke.yaml")])
    return train(pipeline, recipe, grpo).checkpoint


def serve_and_score(checkpoint: Path) -> str:
    request = ScoreRequest(task="chat", items=[ScoreItemIn(prompt="What is 2 + 2?", response="4.")], votes=2)
    with LocalGateway(checkpoints=[checkpoint], workdir=ROOT) as url, JudgeClient(url) as client:
        answer = client.score(request)
    if answer.items[0].status != "ok":
        raise RuntimeError(f"the served checkpoint did not judge: {answer.items[0]}")
    return f"{answer.model.name}@{answer.model.version}"


def chosen_pipelines(argv: list[str]) -> list[str]:
    unknown = [name for name in argv if name not in PIPELINES]
    if unknown:
        raise SystemExit(f"training.smoke: unknown pipeline {unknown}; choose from {list(PIPELINES)}")
    wanted = set(argv or PIPELINES) | {"par"}
    return [pipeline for pipeline in PIPELINES if pipeline in wanted]


def main(argv: list[str] | None = None) -> int:
    pipelines = chosen_pipelines(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    results: dict[str, str] = {}
    checkpoints: dict[str, Path] = {}
    for pipeline in pipelines:
        try:
            checkpoints[pipeline] = run(pipeline)
            results[pipeline] = "ok"
        except Exception:  # report every pipeline, then fail
            traceback.print_exc()
            results[pipeline] = "failed"
    served = "failed"
    if "par" in checkpoints:
        try:
            served = serve_and_score(checkpoints["par"])
        except Exception:
            traceback.print_exc()
    print(" ".join(f"{pipeline}={status}" for pipeline, status in results.items()) + f" served={served}")
    return 0 if served != "failed" and all(status == "ok" for status in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

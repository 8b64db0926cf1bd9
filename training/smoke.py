"""`make smoke-train`: the three CPU smoke trainings, then serve the PAR checkpoint and score with it.

Last line: `par=ok pairwise=ok brpo=ok served=<model>@<version>`, or which step failed.
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path

from models.training.config import RecipeArguments
from models.training.pipelines import PIPELINES, train
from service.client import JudgeClient
from service.engine.supervisor import free_port
from service.launcher import LocalGateway
from service.settings import judge_from_checkpoint

RECIPES = Path(__file__).resolve().parent / "recipes"


def run(pipeline: str) -> Path:
    from trl import GRPOConfig, TrlParser

    parser = TrlParser((RecipeArguments, GRPOConfig))
    recipe, grpo = parser.parse_args_and_config(["--config", str(RECIPES / f"{pipeline}-cpu-smoke.yaml")])
    return train(pipeline, recipe, grpo).checkpoint


def serve_and_score(checkpoint: Path) -> str:
    model = judge_from_checkpoint(checkpoint).model_dump(mode="json")
    with LocalGateway(free_port(), [model]) as url, JudgeClient(url) as client:
        answer = client.score("chat", [{"prompt": "What is 2 + 2?", "response": "4."}], votes=2)
    if answer["items"][0]["status"] != "ok":
        raise RuntimeError(f"the served checkpoint did not judge: {answer['items'][0]}")
    return f"{answer['model']['name']}@{answer['model']['version']}"


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    results: dict[str, str] = {}
    checkpoints: dict[str, Path] = {}
    for pipeline in PIPELINES:
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

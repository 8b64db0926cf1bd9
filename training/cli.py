"""`train par|pairwise|brpo --config RECIPE.yaml [--key value ...]`: run one training pipeline.

The YAML holds `RecipeArguments` fields and TRL `GRPOConfig` fields side by side; flags override it. The last
line printed is the checkpoint: `checkpoint=<dir> name=<model> version=<version>`; serve it with
`python -m service --checkpoint <dir>`.
"""

from __future__ import annotations

import logging
import sys

from training.config import RecipeArguments
from training.pipelines import PIPELINES, train


def main(argv: list[str] | None = None) -> int:
    from trl import GRPOConfig, TrlParser

    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] not in PIPELINES:
        print(f"usage: train {{{'|'.join(PIPELINES)}}} --config RECIPE.yaml [--key value ...]", file=sys.stderr)
        return 2
    pipeline, rest = arguments[0], arguments[1:]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    recipe, grpo = TrlParser((RecipeArguments, GRPOConfig)).parse_args_and_config(rest)
    result = train(pipeline, recipe, grpo)
    print(f"checkpoint={result.checkpoint} name={result.manifest.name} version={result.manifest.version}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

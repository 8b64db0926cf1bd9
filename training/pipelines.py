"""The three training pipelines: data → (cold-start SFT) → GRPO → a checkpoint directory with a manifest."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

from genrm_client import JudgeClient, LocalGateway
from genrm_client.adapters.trl import GroupReward
from genrm_wire.preference_split import Split
from models.bundled import prepare_bundled_model
from models.chat import ChatTemplate
from models.checkpoints import PIPELINE_FORMAT, Manifest, data_hash, weights_digest, write_manifest
from models.formats.framing import Framing
from models.rubrics import RubricLibrary
from training import coldstart, data
from training.config import RecipeArguments
from training.rewards import RewardFunc, pairwise_reward, par_reward
from training.trainers import BRPOTrainer, PARTrainer, StepSummary

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
PIPELINES = ("par", "pairwise", "brpo")


class TrainingDidNotLearn(RuntimeError):
    """The run's rewards never spread (or its gradients were zero): GRPO had nothing to learn from."""


@dataclass(frozen=True)
class TrainResult:
    checkpoint: Path
    manifest: Manifest
    log_history: list[dict[str, Any]]


@contextlib.contextmanager
def judge_service(recipe: RecipeArguments, needed: bool) -> Iterator[str | None]:
    """The service's URL: the configured one, or a local gateway with the bundled judge for this run."""
    if not needed:
        yield None
    elif recipe.service_url:
        yield recipe.service_url
    else:
        models = [{"name": "cold-start-judge", "version": "bundled", "engines": [{"kind": "managed"}]}]
        with LocalGateway(models, workdir=ROOT) as url:
            yield url


def train(pipeline: str, recipe: RecipeArguments, grpo: Any) -> TrainResult:
    if pipeline not in PIPELINES:
        raise ValueError(f"unknown pipeline {pipeline!r}; use one of {PIPELINES}")
    base = Path(recipe.base_model) if recipe.base_model else prepare_bundled_model(ROOT / ".cache" / "models")
    template = ChatTemplate.from_directory(base)
    source = data.read_jsonl(recipe.data_file(pipeline), recipe.max_examples,
                             None if pipeline == "brpo" else recipe.tasks, cast(Split, recipe.split))
    rows = _rows(pipeline, source, template)
    output = Path(grpo.output_dir)
    if recipe.sft_steps > 0 and pipeline != "brpo":
        # The service is needed only to write the cold-start data: free its cores before training.
        with judge_service(recipe, needed=True) as url, JudgeClient(str(url)) as judge:
            sft_rows = _cold_start_rows(pipeline, source, rows, judge, recipe, grpo)
        base = coldstart.run_sft(base, sft_rows, output / "cold-start", recipe.sft_steps, recipe.sft_learning_rate,
                                 grpo.seed, on_cpu=bool(grpo.use_cpu), bf16=bool(grpo.bf16))
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(judge_service(recipe, needed=pipeline == "brpo"))
        client = stack.enter_context(JudgeClient(url)) if url else None
        trainer = _trainer(pipeline, recipe, grpo, base, rows, client)
        trainer.add_callback(StepSummary(pipeline))
        trainer.train()
    history = list(trainer.state.log_history)
    if recipe.require_learning:
        _check_learned(pipeline, history)
    trainer.save_model(str(output))  # weights, config and the tokenizer with its chat template
    manifest = Manifest(
        name=recipe.model_name or ("brpo-policy" if pipeline == "brpo" else f"{pipeline}-judge"),
        version=f"{pipeline}-step{trainer.state.global_step}-{weights_digest(output)}",
        format=PIPELINE_FORMAT[pipeline], pipeline=pipeline,
        base_model=recipe.base_model or "bundled:smollm2-135m",
        data_hash=data_hash(rows), step=trainer.state.global_step,
        config={"recipe": asdict(recipe), "grpo": {k: str(v) for k, v in grpo.to_dict().items()}},
        metrics=_final_metrics(history),
    )
    write_manifest(output, manifest)
    return TrainResult(output, manifest, history)


def _rows(pipeline: str, source: list[dict[str, Any]], template: ChatTemplate) -> list[dict[str, Any]]:
    if pipeline == "brpo":
        return data.writing_rows(source)
    library = RubricLibrary.load(ROOT / "rubrics")
    builder = data.par_rows if pipeline == "par" else data.pairwise_rows
    return builder(source, library, Framing(template.special_tokens))


def _cold_start_rows(pipeline: str, source: list[dict[str, Any]], rows: list[dict[str, Any]], client: JudgeClient,
                     recipe: RecipeArguments, grpo: Any) -> list[dict[str, Any]]:
    builder = coldstart.par_sft_rows if pipeline == "par" else coldstart.pairwise_sft_rows
    sft_rows = builder(source, rows, client, recipe.sft_votes, grpo.max_completion_length, grpo.seed)
    logger.info("[%s] cold start: %d label-agreeing judgments from the service", pipeline, len(sft_rows))
    return sft_rows


def _trainer(pipeline: str, recipe: RecipeArguments, grpo: Any, base: Path, rows: list[dict[str, Any]],
             client: JudgeClient | None) -> Any:
    from datasets import Dataset

    dataset = Dataset.from_list(rows)
    if pipeline == "brpo":
        assert client is not None
        # Each rollout against a reference drawn from its group, server-side (POST /v1/groups, mode brpo).
        reward = GroupReward(client, group_size=grpo.num_generations, mode="brpo", task="creative_writing",
                             votes=recipe.judge_votes, inconsistent_reward=recipe.brpo_inconsistent_reward,
                             reference_seed=grpo.seed)
        return BRPOTrainer(model=str(base), reward_funcs=[reward], args=grpo, train_dataset=dataset,
                           max_skew=recipe.brpo_max_skew)
    if pipeline == "par":
        if grpo.generation_batch_size % (2 * grpo.num_generations):
            raise ValueError(f"generation_batch_size={grpo.generation_batch_size} must be a multiple of "
                             f"2 * num_generations={2 * grpo.num_generations} so that pairs stay whole")
        funcs: list[RewardFunc] = [par_reward(recipe.par_shaping)]  # type: ignore[arg-type]
        return PARTrainer(model=str(base), reward_funcs=funcs, args=grpo, train_dataset=dataset)
    from trl import GRPOTrainer

    return GRPOTrainer(model=str(base), reward_funcs=[pairwise_reward], args=grpo, train_dataset=dataset)


def _check_learned(pipeline: str, history: list[dict[str, Any]]) -> None:
    steps = [entry for entry in history if "reward_std" in entry]
    spread = max((entry["reward_std"] for entry in steps), default=0.0)
    gradient = max((entry.get("grad_norm", 0.0) for entry in steps), default=0.0)
    if spread <= 0 or gradient <= 0:
        raise TrainingDidNotLearn(
            f"{pipeline}: reward spread {spread} and gradient norm {gradient} over {len(steps)} steps: every "
            "rollout got the same reward, so GRPO learned nothing. For judges, add a cold start (sft_steps > 0) "
            "so rollouts write the format; for BRPO, check brpo/inconsistent_rate: a position-biased judge needs "
            "brpo_inconsistent_reward: -1 or a larger group (loadtests/measure_brpo_groups.py measures it)."
        )


def _final_metrics(history: list[dict[str, Any]]) -> dict[str, float]:
    last = [entry for entry in history if "reward" in entry]
    return {k: float(v) for k, v in (last[-1] if last else {}).items() if isinstance(v, int | float)}

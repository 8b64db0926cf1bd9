"""TRL reward functions: `reward_func(prompts, completions, completion_ids=None, **columns) -> list[float | None]`.

Each call sends the whole batch to `POST /v1/groups` in one request. TRL's batch holds consecutive groups of G
completions of one prompt; completions of the same prompt are sent as one group, so they share the judge's
cached prefix. `None` means "no reward from this function" (TRL turns it into NaN and leaves it out): that is
what a failed judgment gets under the default `mask` policy, and never a guessed value.

    from genrm_client import JudgeClient
    from genrm_client.adapters.trl import GroupReward, ScoreReward
    judge = JudgeClient("http://127.0.0.1:8000")
    trainer = GRPOTrainer(..., reward_funcs=[ScoreReward(judge, task="chat"), GroupReward(judge, group_size=8)])

Both standard (`str`) and conversational (`[{"role", "content"}]`) prompts and completions are accepted.
`on_flag=FlagPolicy(policy="penalize")` makes reward-hacking attempts worthless to the policy; `last_flagged`
counts the last batch's flagged completions for the trainer's logs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from genrm_client.client import JudgeClient
from genrm_wire import (
    FailurePolicy,
    FailureReport,
    FlagPolicy,
    GroupIn,
    GroupRequest,
    GroupResponse,
    SamplingIn,
)

Prompt = str | list[dict[str, str]]


def completion_text(completion: Any) -> str:
    """TRL passes a string, or for conversational data a list with the assistant's message(s)."""
    if isinstance(completion, str):
        return completion
    return "".join(str(message["content"]) for message in completion)


def prompt_value(prompt: Any) -> Prompt:
    """A standard prompt as it is; a conversational one as its `{role, content}` messages."""
    if isinstance(prompt, str):
        return prompt
    return [{"role": str(message["role"]), "content": str(message["content"])} for message in prompt]


def runs(keys: Sequence[object]) -> list[range]:
    """Ranges of consecutive equal keys: the batch's groups."""
    spans, start = [], 0
    for index in range(1, len(keys) + 1):
        if index == len(keys) or keys[index] != keys[start]:
            spans.append(range(start, index))
            start = index
    return spans


class _GroupRewardFunction:
    """What the three reward functions share: the request's settings, the call, and the last answer's report."""

    __name__ = "genrm"

    def __init__(self, judge: JudgeClient, *, task: str = "chat", votes: int = 1, model: str | None = None,
                 on_failure: FailurePolicy | None = None, on_flag: FlagPolicy | None = None,
                 sampling: SamplingIn | None = None, timeout_s: float | None = None) -> None:
        self.judge, self.task, self.votes, self.model = judge, task, votes, model
        self.on_failure = on_failure or FailurePolicy()
        self.on_flag = on_flag or FlagPolicy()
        self.last_flagged = 0
        self.sampling, self.timeout_s = sampling, timeout_s
        self.last_report: FailureReport | None = None
        self.last_stats: dict[str, float] = {}

    def _send(self, mode: Literal["brpo", "pointwise", "round_robin"], groups: list[GroupIn],
              **fields: Any) -> GroupResponse:
        request = GroupRequest(model=self.model, task=self.task, mode=mode, groups=groups, votes=self.votes,
                               on_failure=self.on_failure, on_flag=self.on_flag, sampling=self.sampling,
                               timeout_s=self.timeout_s, **fields)
        answer = self.judge.groups(request)
        self.last_report = answer.failures
        self.last_flagged = sum(bool(r.flags) for group in answer.groups for r in group.rollouts)
        return answer


def _flatten(answer: GroupResponse, spans: Sequence[range], size: int) -> list[float | None]:
    rewards: list[float | None] = [None] * size
    for span, group in zip(spans, answer.groups, strict=True):
        for rollout in group.rollouts:
            rewards[span[rollout.index]] = rollout.reward
    return rewards


class ScoreReward(_GroupRewardFunction):
    """Each completion's rubric score × `scale` (default 0.1: 0..1)."""

    __name__ = "genrm_score"

    def __init__(self, judge: JudgeClient, *, scale: float = 0.1, **settings: Any) -> None:
        super().__init__(judge, **settings)
        self.scale = scale

    def __call__(self, prompts: list[Any], completions: list[Any], completion_ids: Any = None,
                 **_: Any) -> list[float | None]:
        values = [prompt_value(p) for p in prompts]
        spans = runs([repr(v) for v in values])
        groups = [GroupIn.model_validate({"prompt": values[s.start], "rollouts": [completion_text(completions[i])
                                                                                  for i in s]}) for s in spans]
        rewards = _flatten(self._send("pointwise", groups), spans, len(completions))
        return [None if r is None else r * self.scale for r in rewards]


class ReferenceReward(_GroupRewardFunction):
    """Each completion against the dataset's reference (column `reference_column`), both orders.

    `reading="p_win"` (default): 2 × share of votes won − 1, in [−1, 1]; `reading="brpo"`: +1 for a win in
    every vote, −1 for a loss in every vote, `inconsistent_reward` otherwise.
    """

    __name__ = "genrm_reference"

    def __init__(self, judge: JudgeClient, *, reference_column: str = "reference",
                 reading: Literal["p_win", "brpo"] = "p_win", inconsistent_reward: float = 0.0,
                 **settings: Any) -> None:
        super().__init__(judge, **settings)
        self.reference_column, self.reading, self.inconsistent_reward = reference_column, reading, inconsistent_reward

    def __call__(self, prompts: list[Any], completions: list[Any], completion_ids: Any = None,
                 **columns: Any) -> list[float | None]:
        if self.reference_column not in columns:
            raise KeyError(f"{self.__name__} needs the dataset column {self.reference_column!r} (the reference "
                           f"answer); the batch has {sorted(columns)}")
        references = [str(r) for r in columns[self.reference_column]]
        values = [prompt_value(p) for p in prompts]
        spans = runs([(repr(v), r) for v, r in zip(values, references, strict=True)])
        groups = [GroupIn.model_validate({"prompt": values[s.start], "reference": references[s.start],
                                          "rollouts": [completion_text(completions[i]) for i in s]}) for s in spans]
        answer = self._send("brpo", groups, inconsistent_reward=self.inconsistent_reward)
        if self.reading == "brpo":
            return _flatten(answer, spans, len(completions))
        rewards: list[float | None] = [None] * len(completions)
        for span, group in zip(spans, answer.groups, strict=True):
            for rollout in group.rollouts:
                if rollout.reward is not None:  # a filled (neutral) reward has no p_win: keep the fill
                    rewards[span[rollout.index]] = (2 * rollout.p_win - 1 if rollout.p_win is not None
                                                    else rollout.reward)
        return rewards


class GroupReward(_GroupRewardFunction):
    """Rewards within each group of `group_size` consecutive completions: `brpo` (each against a reference drawn
    from its group, seeded by `reference_seed`; the reference gets 0) or `round_robin` (win rate over all
    pairs). `last_stats` holds the batch's BRPO win/loss/inconsistent rates for the trainer's logs."""

    def __init__(self, judge: JudgeClient, *, group_size: int, mode: Literal["brpo", "round_robin"] = "brpo",
                 inconsistent_reward: float = 0.0, reference_seed: int = 0, **settings: Any) -> None:
        super().__init__(judge, **settings)
        if group_size < 2:
            raise ValueError(f"group_size={group_size}: comparing rollouts needs groups of at least 2")
        self.group_size, self.mode = group_size, mode
        self.inconsistent_reward, self.reference_seed = inconsistent_reward, reference_seed
        self.__name__ = f"genrm_{mode}"
        self._calls = 0

    def __call__(self, prompts: list[Any], completions: list[Any], completion_ids: Any = None,
                 **_: Any) -> list[float | None]:
        if len(completions) % self.group_size:
            raise ValueError(f"{len(completions)} completions do not form groups of {self.group_size}; set "
                             "group_size to the trainer's num_generations")
        spans = [range(start, start + self.group_size) for start in range(0, len(completions), self.group_size)]
        groups = [GroupIn.model_validate({"id": str(number), "prompt": prompt_value(prompts[s.start]),
                                          "rollouts": [completion_text(completions[i]) for i in s]})
                  for number, s in enumerate(spans)]
        # A new seed per call draws new references; the same run (same seed, same calls) draws the same ones.
        answer = self._send(self.mode, groups, inconsistent_reward=self.inconsistent_reward,
                            reference_seed=self.reference_seed + self._calls)
        self._calls += 1
        self.last_stats = _brpo_stats(answer, completions) if self.mode == "brpo" else {}
        return _flatten(answer, spans, len(completions))


def _brpo_stats(answer: GroupResponse, completions: Sequence[Any]) -> dict[str, float]:
    judged = [r for group in answer.groups for r in group.rollouts if not r.reference and r.status == "ok"]
    wins = sum(1 for r in judged if r.outcome == "win")
    losses = sum(1 for r in judged if r.outcome == "loss")
    total = max(len(judged), 1)
    return {"win_rate": wins / total, "loss_rate": losses / total,
            "inconsistent_rate": (len(judged) - wins - losses) / total,
            "mean_response_chars": sum(len(completion_text(c)) for c in completions) / max(len(completions), 1)}

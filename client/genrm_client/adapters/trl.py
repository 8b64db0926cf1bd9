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
A forged verdict or judge/template markup earns the floor by default (`on_flag=FlagPolicy(policy="flag")` only
reports it); `last_flagged` counts the last batch's flagged completions for the trainer's logs.

A math (or any verifiable) run checks each completion against a dataset column with a rule verifier, the judge
asked only where the rule cannot decide: `VerifiedReward(judge, verify=VerifyIn(verifier="math"),
reference_column="answer")` (1 correct, 0 not).

TRL runs `async def` reward functions concurrently (and sync ones one after another): the same three functions
with the same contracts, taking an `AsyncJudgeClient`, are in `genrm_client.adapters.trl_async`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, TypedDict, Unpack

from genrm_client.client import JudgeClient
from genrm_wire import (
    FailurePolicy,
    FailureReport,
    FlagPolicy,
    GroupIn,
    GroupRequest,
    GroupResponse,
    SamplingIn,
    VerdictMode,
    VerifyIn,
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


class RewardSettings(TypedDict, total=False):
    """What every reward function takes besides its own settings; a misspelt key is a type error (and a
    TypeError at run time)."""

    task: str
    votes: int
    verdict: VerdictMode
    model: str | None
    on_failure: FailurePolicy | None
    on_flag: FlagPolicy | None
    sampling: SamplingIn | None
    timeout_s: float | None


Read = Callable[[GroupResponse], list[float | None]]  # the rewards of one answer, in the batch's order


class _RewardPlan:
    """What the sync and the async reward functions share: the request's settings, the request a batch makes
    (`_plan`, pure), and the last answer's report. `__call__` (sync, `trl.py`, or async, `trl_async.py`) only
    sends the request and reads its answer."""

    __name__ = "genrm"

    def __init__(self, *, task: str = "chat", votes: int = 1, model: str | None = None,
                 on_failure: FailurePolicy | None = None, on_flag: FlagPolicy | None = None,
                 sampling: SamplingIn | None = None, timeout_s: float | None = None,
                 verdict: VerdictMode = "sampled") -> None:
        self.task, self.votes, self.model, self.verdict = task, votes, model, verdict
        self.on_failure = on_failure or FailurePolicy()
        self.on_flag = on_flag or FlagPolicy()
        self.last_flagged = 0
        self.sampling, self.timeout_s = sampling, timeout_s
        self.last_report: FailureReport | None = None
        self.last_stats: dict[str, float] = {}

    def _plan(self, prompts: list[Any], completions: list[Any], columns: dict[str, Any]) -> tuple[GroupRequest, Read]:
        raise NotImplementedError

    def _request(self, mode: Literal["brpo", "pointwise", "round_robin"], groups: list[GroupIn],
                 **fields: Any) -> GroupRequest:
        return GroupRequest(model=self.model, task=self.task, mode=mode, groups=groups, votes=self.votes,
                            verdict=self.verdict, on_failure=self.on_failure, on_flag=self.on_flag,
                            sampling=self.sampling, timeout_s=self.timeout_s, **fields)

    def _answered(self, answer: GroupResponse, read: Read) -> list[float | None]:
        self.last_report = answer.failures
        self.last_flagged = sum(bool(r.flags) for group in answer.groups for r in group.rollouts)
        return read(answer)


class _Sync(_RewardPlan):
    def __init__(self, judge: JudgeClient, **settings: Unpack[RewardSettings]) -> None:
        super().__init__(**settings)
        self.judge = judge

    def __call__(self, prompts: list[Any], completions: list[Any], completion_ids: Any = None,
                 **columns: Any) -> list[float | None]:
        request, read = self._plan(prompts, completions, columns)
        return self._answered(self.judge.groups(request), read)


def _flatten(answer: GroupResponse, spans: Sequence[range], size: int) -> list[float | None]:
    rewards: list[float | None] = [None] * size
    for span, group in zip(spans, answer.groups, strict=True):
        for rollout in group.rollouts:
            rewards[span[rollout.index]] = rollout.reward
    return rewards


class ScorePlan(_RewardPlan):
    """Each completion's rubric score × `scale` (default 0.1: 0..1)."""

    __name__ = "genrm_score"

    def _configure(self, scale: float) -> None:
        self.scale = scale

    def _plan(self, prompts: list[Any], completions: list[Any], columns: dict[str, Any]) -> tuple[GroupRequest, Read]:
        values = [prompt_value(p) for p in prompts]
        spans = runs([repr(v) for v in values])
        groups = [GroupIn.model_validate({"prompt": values[s.start], "rollouts": [completion_text(completions[i])
                                                                                  for i in s]}) for s in spans]

        def read(answer: GroupResponse) -> list[float | None]:
            rewards = _flatten(answer, spans, len(completions))
            return [None if r is None else r * self.scale for r in rewards]

        return self._request("pointwise", groups), read


def _groups_with_references(name: str, prompts: list[Any], completions: list[Any], columns: dict[str, Any],
                            column: str, what: str) -> tuple[list[GroupIn], list[range]]:
    """The batch as groups of consecutive completions that share a prompt and a reference (column `column`)."""
    if column not in columns:
        raise KeyError(f"{name} needs the dataset column {column!r} ({what}); the batch has {sorted(columns)}")
    references = [str(r) for r in columns[column]]
    values = [prompt_value(p) for p in prompts]
    spans = runs([repr((v, r)) for v, r in zip(values, references, strict=True)])
    groups = [GroupIn.model_validate({"prompt": values[s.start], "reference": references[s.start],
                                      "rollouts": [completion_text(completions[i]) for i in s]}) for s in spans]
    return groups, spans


class ReferencePlan(_RewardPlan):
    """Each completion against the dataset's reference (column `reference_column`), both orders.

    `reading="p_win"` (default): 2 × share of votes won − 1, in [−1, 1]; `reading="brpo"`: +1 for a win in
    every vote, −1 for a loss in every vote, `inconsistent_reward` otherwise.
    """

    __name__ = "genrm_reference"

    def _configure(self, reference_column: str, reading: Literal["p_win", "brpo"], inconsistent_reward: float) -> None:
        self.reference_column, self.reading, self.inconsistent_reward = reference_column, reading, inconsistent_reward

    def _plan(self, prompts: list[Any], completions: list[Any], columns: dict[str, Any]) -> tuple[GroupRequest, Read]:
        groups, spans = _groups_with_references(self.__name__, prompts, completions, columns, self.reference_column,
                                                "the reference answer")

        def read(answer: GroupResponse) -> list[float | None]:
            if self.reading == "brpo":
                return _flatten(answer, spans, len(completions))
            rewards: list[float | None] = [None] * len(completions)
            for span, group in zip(spans, answer.groups, strict=True):
                for rollout in group.rollouts:
                    if rollout.reward is not None:  # a filled (neutral) reward has no p_win: keep the fill
                        rewards[span[rollout.index]] = (2 * rollout.p_win - 1 if rollout.p_win is not None
                                                        else rollout.reward)
            return rewards

        return self._request("brpo", groups, inconsistent_reward=self.inconsistent_reward), read


class VerifiedPlan(_RewardPlan):
    """Each completion checked against the dataset's reference (column `reference_column`: an answer, a pattern,
    a schema or tests) by a rule verifier, the judge asked by `verify.policy`; reward = score / 10 (1 correct,
    0 not; `both` mixes). `last_stats` says how often the judge was asked."""

    __name__ = "genrm_verified"

    def _configure_verify(self, verify: VerifyIn, reference_column: str) -> None:
        self.verify, self.reference_column = verify, reference_column

    def _plan(self, prompts: list[Any], completions: list[Any], columns: dict[str, Any]) -> tuple[GroupRequest, Read]:
        groups, spans = _groups_with_references(self.__name__, prompts, completions, columns, self.reference_column,
                                                "what the verifier checks against")

        def read(answer: GroupResponse) -> list[float | None]:
            rollouts = [r for group in answer.groups for r in group.rollouts]
            self.last_stats = {"judge_asked": sum(r.decided_by in ("judge", "both") for r in rollouts)
                               / max(len(rollouts), 1)}
            return [None if r is None else r / 10 for r in _flatten(answer, spans, len(completions))]

        return self._request("pointwise", groups, verify=self.verify), read


class GroupPlan(_RewardPlan):
    """Rewards within each group of `group_size` consecutive completions: `brpo` (each against a reference drawn
    from its group, seeded by `reference_seed`; the reference gets 0) or `round_robin` (win rate over all
    pairs). `last_stats` holds the batch's BRPO win/loss/inconsistent rates for the trainer's logs."""

    def _configure(self, group_size: int, mode: Literal["brpo", "round_robin"], inconsistent_reward: float,
                   reference_seed: int) -> None:
        if group_size < 2:
            raise ValueError(f"group_size={group_size}: comparing rollouts needs groups of at least 2")
        self.group_size, self.mode = group_size, mode
        self.inconsistent_reward, self.reference_seed = inconsistent_reward, reference_seed
        self.__name__ = f"genrm_{mode}"
        self._calls = 0

    def _plan(self, prompts: list[Any], completions: list[Any], columns: dict[str, Any]) -> tuple[GroupRequest, Read]:
        if len(completions) % self.group_size:
            raise ValueError(f"{len(completions)} completions do not form groups of {self.group_size}; set "
                             "group_size to the trainer's num_generations")
        spans = [range(start, start + self.group_size) for start in range(0, len(completions), self.group_size)]
        groups = [GroupIn.model_validate({"id": str(number), "prompt": prompt_value(prompts[s.start]),
                                          "rollouts": [completion_text(completions[i]) for i in s]})
                  for number, s in enumerate(spans)]
        # A new seed per call draws new references; the same run (same seed, same calls) draws the same ones.
        request = self._request(self.mode, groups, inconsistent_reward=self.inconsistent_reward,
                                reference_seed=self.reference_seed + self._calls)
        self._calls += 1

        def read(answer: GroupResponse) -> list[float | None]:
            self.last_stats = _brpo_stats(answer, completions) if self.mode == "brpo" else {}
            return _flatten(answer, spans, len(completions))

        return request, read


class ScoreReward(ScorePlan, _Sync):
    __doc__ = ScorePlan.__doc__

    def __init__(self, judge: JudgeClient, *, scale: float = 0.1, **settings: Unpack[RewardSettings]) -> None:
        super().__init__(judge, **settings)
        self._configure(scale)


class ReferenceReward(ReferencePlan, _Sync):
    __doc__ = ReferencePlan.__doc__

    def __init__(self, judge: JudgeClient, *, reference_column: str = "reference",
                 reading: Literal["p_win", "brpo"] = "p_win", inconsistent_reward: float = 0.0,
                 **settings: Unpack[RewardSettings]) -> None:
        super().__init__(judge, **settings)
        self._configure(reference_column, reading, inconsistent_reward)


class VerifiedReward(VerifiedPlan, _Sync):
    __doc__ = VerifiedPlan.__doc__

    def __init__(self, judge: JudgeClient, *, verify: VerifyIn, reference_column: str = "answer",
                 **settings: Unpack[RewardSettings]) -> None:
        super().__init__(judge, **settings)
        self._configure_verify(verify, reference_column)


class GroupReward(GroupPlan, _Sync):
    __doc__ = GroupPlan.__doc__

    def __init__(self, judge: JudgeClient, *, group_size: int, mode: Literal["brpo", "round_robin"] = "brpo",
                 inconsistent_reward: float = 0.0, reference_seed: int = 0,
                 **settings: Unpack[RewardSettings]) -> None:
        super().__init__(judge, **settings)
        self._configure(group_size, mode, inconsistent_reward, reference_seed)


def _brpo_stats(answer: GroupResponse, completions: Sequence[Any]) -> dict[str, float]:
    judged = [r for group in answer.groups for r in group.rollouts if not r.reference and r.status == "ok"]
    wins = sum(1 for r in judged if r.outcome == "win")
    losses = sum(1 for r in judged if r.outcome == "loss")
    total = max(len(judged), 1)
    return {"win_rate": wins / total, "loss_rate": losses / total,
            "inconsistent_rate": (len(judged) - wins - losses) / total,
            "mean_response_chars": sum(len(completion_text(c)) for c in completions) / max(len(completions), 1)}

"""verl's custom reward function: `compute_score(data_source, solution_str, ground_truth, extra_info, **kwargs)`.

    reward:
      custom_reward_function:
        path: <site-packages>/genrm_client/adapters/verl.py      # or a file that imports compute_score
        name: compute_score
        reward_kwargs: {base_url: "http://HOST:8000", mode: score, task: chat, votes: 1}

`solution_str` is the response alone, so the prompt comes from `extra_info[prompt_key]` (default `"prompt"`: a
string or chat messages; put it there when preparing the dataset). `mode: compare` judges the response
against `ground_truth` as the reference. `verifier: math` (or any rule verifier, genrm_wire.verifying) checks
the response against `ground_truth` first and asks the judge by `policy` (default `verify_then_judge`): a math
RL run needs only `reward_kwargs: {base_url: ..., verifier: math}`; `judge_asked: 1.0` marks the samples the
judge decided. It is `async`: verl's reward loop awaits it, and calls share one
connection pool per event loop, at most `max_concurrency` in flight. Each call has a deadline (`timeout_s`);
a call that misses it is a `timeout` failure, filled like any other.

verl needs a float for every sample, so a failed judgment cannot be left out: it scores `neutral_value` and is
flagged (`judge_failed: 1.0`) in verl's `reward_extra_info`. Under `on_failure: error` it raises instead.
`judge_flagged: 1.0` marks a response with a reward-hacking flag. A forged verdict or judge/template markup gets
the floor by default (`on_flag: penalize`); `flag` only reports it, `mask` fails it (then filled as above).

`mode: steps` gives process rewards: the response cut into steps (`split`, `pattern`) and judged step by step
(`step_strategy`), the score the `step_reward` aggregate of the step scores (`min` by default), with
`step_count` and `step_first_error` (-1 when no step is judged incorrect) in `reward_extra_info`. verl's
reward loop puts the float on the last token; per-token step rewards need a reward manager that places each
step's score itself (`genrm_client.spans`, docs/trainers.md).
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, Literal

from genrm_client.client import AsyncJudgeClient
from genrm_client.errors import JudgeClientError
from genrm_wire import (
    Extraction,
    FailurePolicy,
    FlagPolicy,
    FlagPolicyName,
    GroupIn,
    GroupMode,
    GroupRequest,
    RewardPolicyName,
    RolloutOut,
    RolloutStepsIn,
    SamplingIn,
    SplitRule,
    StepRewardName,
    StepStrategy,
    VerdictMode,
    VerifierName,
    VerifyIn,
)

DEFAULT_TIMEOUT_S = 300.0
GROUP_MODES: dict[str, GroupMode] = {"score": "pointwise", "compare": "brpo", "steps": "steps"}
TRANSPORT_MARGIN_S = 30.0  # the service answers late items itself at the deadline; this covers the transport
# One pool per event loop (a client is bound to the loop it was made on), gone with the loop.
_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, tuple[AsyncJudgeClient, asyncio.Semaphore]]]
_pools = weakref.WeakKeyDictionary()


class JudgeTimeout(JudgeClientError):
    """No answer within `timeout_s` (plus the transport margin) under `on_failure: error`."""


def _pool(base_url: str, max_concurrency: int, timeout_s: float) -> tuple[AsyncJudgeClient, asyncio.Semaphore]:
    pools = _pools.setdefault(asyncio.get_running_loop(), {})
    if base_url not in pools:
        pools[base_url] = (AsyncJudgeClient(base_url, timeout_s=timeout_s + TRANSPORT_MARGIN_S),
                           asyncio.Semaphore(max_concurrency))
    return pools[base_url]


async def compute_score(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: dict[str, Any] | None = None, *,
    base_url: str = "http://127.0.0.1:8000", mode: Literal["score", "compare", "steps"] = "score", task: str = "chat",
    votes: int = 1, model: str | None = None, on_failure: Literal["mask", "neutral", "retry", "error"] = "mask",
    neutral_value: float = 0.0, max_retries: int = 1, timeout_s: float = DEFAULT_TIMEOUT_S,
    max_concurrency: int = 64, prompt_key: str = "prompt", seed: int | None = None,
    on_flag: FlagPolicyName = "penalize", verifier: VerifierName | None = None,
    policy: RewardPolicyName = "verify_then_judge", extraction: Extraction = "auto", verify_timeout_s: float = 2.0,
    split: SplitRule = "blank_lines", pattern: str | None = None, step_strategy: StepStrategy = "prefix",
    step_reward: StepRewardName = "min", verdict: VerdictMode = "sampled", **_: Any,
) -> dict[str, float]:
    prompt = (extra_info or {}).get(prompt_key)
    if not prompt and verifier is not None and policy == "verifier":
        prompt = f"(a {data_source} problem)"  # rules alone never read it
    if not prompt:
        raise KeyError(f"compute_score needs the prompt in extra_info[{prompt_key!r}] (verl passes the response "
                       f"alone); data_source {data_source!r} has extra_info keys {sorted(extra_info or {})}")
    group = {"prompt": prompt if isinstance(prompt, str) else [dict(m) for m in prompt], "rollouts": [solution_str]}
    if mode == "compare":
        if not ground_truth:
            raise ValueError(f"mode 'compare' judges the response against `ground_truth`, which is empty for "
                             f"data_source {data_source!r}; put the reference answer there, or use mode 'score'")
        group["reference"] = str(ground_truth)
    verify = None
    if verifier is not None:
        if mode != "score":
            raise ValueError("`verifier` checks the response against `ground_truth` in mode 'score'")
        group["reference"] = str(ground_truth)
        verify = VerifyIn(verifier=verifier, policy=policy, extraction=extraction, timeout_s=verify_timeout_s)
    steps = RolloutStepsIn(split=split, pattern=pattern, strategy=step_strategy, reward=step_reward) \
        if mode == "steps" else None
    request = GroupRequest(
        model=model, task=task, votes=votes, mode=GROUP_MODES[mode], verdict=verdict,
        groups=[GroupIn.model_validate(group)], timeout_s=timeout_s, steps=steps,
        sampling=SamplingIn(seed=seed) if seed is not None else None,
        on_failure=FailurePolicy(policy=on_failure, neutral_value=neutral_value, max_retries=max_retries),
        on_flag=FlagPolicy(policy=on_flag), verify=verify,
    )
    client, slots = _pool(base_url, max_concurrency, timeout_s)
    try:
        async with slots, asyncio.timeout(timeout_s + TRANSPORT_MARGIN_S):
            answer = await client.groups(request)
    except TimeoutError as error:
        if on_failure == "error":
            raise JudgeTimeout(504, f"no answer from {base_url} within {timeout_s:g} s", "timeout") from error
        return _extra(mode, None, {"score": neutral_value, "judge_unit": 0.0, "judge_failed": 1.0,
                                   "judge_flagged": 0.0, "judge_asked": 0.0})
    rollout = answer.groups[0].rollouts[0]
    flagged = float(bool(rollout.flags))
    asked = float(rollout.decided_by not in (None, "verifier"))
    if rollout.status != "ok":
        return _extra(mode, rollout, {"score": neutral_value, "judge_unit": 0.0, "judge_failed": 1.0,
                                      "judge_flagged": flagged, "judge_asked": asked})
    if mode == "steps":
        unit = rollout.reward if rollout.reward is not None else neutral_value
    else:
        unit = rollout.score / 10 if rollout.score is not None else rollout.p_win or 0.0
    return _extra(mode, rollout, {"score": unit, "judge_unit": unit, "judge_failed": 0.0, "judge_flagged": flagged,
                                  "judge_asked": asked})


def _extra(mode: str, rollout: RolloutOut | None, info: dict[str, float]) -> dict[str, float]:
    """`steps` mode's own keys, on every answer (verl reads the same keys from every sample)."""
    if mode != "steps":
        return info
    found = rollout.step_aggregates if rollout is not None else None
    first_error = found.first_error if found is not None else None
    return {**info, "step_count": float(len(rollout.steps) if rollout is not None else 0),
            "step_first_error": float(-1 if first_error is None else first_error)}


def compute_score_sync(*args: Any, **kwargs: Any) -> dict[str, float]:
    """`compute_score` for verl's older synchronous reward managers (`verl.workers.reward_manager`), which call
    the function without awaiting it. Each call runs on its own event loop, so calls are not pooled."""
    return asyncio.run(compute_score(*args, **kwargs))

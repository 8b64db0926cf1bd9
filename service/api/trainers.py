"""Routes in RL trainers' own shapes, so a trainer points its reward URL here and changes nothing else.

- `POST /v1/openrlhf/score` and `/v1/openrlhf/compare`: OpenRLHF's `--reward.remote_url`. The body is
  `{"query", "prompts", "labels"}`; the answer `{"rewards", "scores", "extra_logs"}`, one entry per query
  (empty lists answer empty lists). `compare` judges the response against `labels[i]` as the reference.
- `POST /v1/slime/score` and `/v1/slime/compare`: slime's `--rm-url` (`{"prompt", "response", "label"}`);
  read the reward with `--reward-key reward`.

The query string carries the deployment's choices (`AdapterOptions`: task, votes, scaling, failure policy).
OpenRLHF's calls default to a 170 s deadline, inside its client's 180 s timeout, so a slow batch is answered
(late samples as `timeout` failures) instead of being posted again.
`unit` is score / 10 or the share of votes won against the reference; reward = reward_scale × unit +
reward_offset. Neither trainer can leave a sample out, so a failed judgment (after `retry`, or under `mask`)
gets `neutral_value` and is flagged (`judge_failed`); OpenRLHF's `scores` entry is then
`OPENRLHF_MASKED_SCORE`, below any dynamic-filtering range, so with filtering on its group is dropped.
`on_flag` takes the flag policy's name; OpenRLHF logs `judge_flagged` (1 when the response has any flag) and
slime's answer lists the flag kinds.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from genrm_wire import (
    OPENRLHF_MASKED_SCORE,
    AdapterOptions,
    FlagPolicy,
    JudgingRequest,
    OpenRLHFRequest,
    OpenRLHFResponse,
    SamplingIn,
    SlimeRequest,
    SlimeResponse,
    VerifyIn,
)
from models.chat import to_conversation
from service.api.deps import CallerDep, State
from service.api.errors import JUDGING_ERRORS
from service.api.prompt_text import conversation_from_text, response_from_query
from service.errors import InvalidRequest
from service.judging.failures import FailureHandling, fill
from service.judging.groups import Group, GroupSettings, RolloutReward
from service.judging.items import VerificationPlan
from service.orchestration.rewarding import Caller, RewardRoute, judge_groups
from service.verifying.planning import verification_plan

router = APIRouter(tags=["trainer adapters"])
# OpenRLHF's client gives up after 180 s and posts again: answer before that, late samples filled as failures.
OPENRLHF_DEADLINE_S = 170.0
Options = Annotated[AdapterOptions, Query()]
Mode = Literal["score", "compare"]


def _settings(options: AdapterOptions, mode: Mode) -> GroupSettings:
    handling = FailureHandling(options.on_failure, options.neutral_value, options.max_retries, can_mask=False)
    return GroupSettings(mode="pointwise" if mode == "score" else "brpo", votes=options.votes, adaptive=None,
                         reference_seed=0, inconsistent_reward=0.0, normalize=False, rank_by="win_rate",
                         handling=handling, verification=_plan(options, mode), verdict=options.verdict)


def _plan(options: AdapterOptions, mode: Mode) -> VerificationPlan | None:
    if options.verifier is None:
        return None
    if mode != "score":
        raise InvalidRequest("`verifier` checks each response against its label on the score route; drop it from "
                             "the compare route's URL", param="verifier")
    return verification_plan(VerifyIn(verifier=options.verifier, policy=options.policy,
                                       extraction=options.extraction, timeout_s=options.verify_timeout_s))


def _unit(rollout: RolloutReward, mode: Mode) -> float | None:
    """score / 10, or the share of votes won against the reference; None when the judgment failed."""
    if rollout.status != "ok":
        return None
    if mode == "score":
        return None if rollout.score is None else rollout.score / 10
    return rollout.p_win


def _judging_request(options: AdapterOptions, default_timeout_s: float | None = None) -> JudgingRequest:
    sampling = SamplingIn(seed=options.seed) if options.seed is not None else None
    return JudgingRequest(model=options.model, task=options.task, timeout_s=options.timeout_s or default_timeout_s,
                          sampling=sampling, on_flag=FlagPolicy(policy=options.on_flag), verdict=options.verdict)


def _reference(label: str | None, mode: Mode, param: str, options: AdapterOptions) -> str | None:
    if mode == "score":
        return label if options.verifier is not None else None
    if not label:
        raise InvalidRequest(f"the compare route judges the response against the reference in `{param}`, which "
                             "is empty; put the reference response in the dataset's label column, or use the "
                             "score route", param=param)
    return label


def _openrlhf_groups(body: OpenRLHFRequest, mode: Mode, options: AdapterOptions) -> list[Group]:
    if len(body.prompts) != len(body.query) or (body.labels is not None and len(body.labels) != len(body.query)):
        raise InvalidRequest(f"{len(body.query)} queries need as many prompts (got {len(body.prompts)}) and labels",
                             param="prompts")
    groups = []
    for index, (query, prompt) in enumerate(zip(body.query, body.prompts, strict=True)):
        response = response_from_query(query, prompt)
        if response is None:
            raise InvalidRequest(
                f"query {index} does not start with its prompt, so the response cannot be told apart; send the "
                "prompt exactly as the policy saw it (OpenRLHF does by default)", param=f"query.{index}")
        label = body.labels[index] if body.labels is not None else None
        groups.append(Group(str(index), conversation_from_text(prompt), (response,),
                            _reference(label, mode, f"labels.{index}", options)))
    return groups


async def _openrlhf(body: OpenRLHFRequest, options: AdapterOptions, mode: Mode, state: State,
                    caller: Caller) -> OpenRLHFResponse:
    if not body.query:  # a spare server of several gets empty lists
        return OpenRLHFResponse(rewards=[], scores=[], extra_logs={
            "judge_unit": [], "judge_failed": [], "judge_flagged": [], "judge_asked": []})
    state.resolver.limits.check_texts(body)  # the trainer's own shape: its texts count as a judging request's
    settings = _settings(options, mode)
    route = RewardRoute(f"/v1/openrlhf/{mode}", "query", "query.{group}", "labels.{group}")
    run = await judge_groups(state, caller, route, _judging_request(options, OPENRLHF_DEADLINE_S),
                             _openrlhf_groups(body, mode, options), settings, None)
    rewards, scores, units, failed, flagged, asked = [], [], [], [], [], []
    for result in run.results:
        rollout = result.rollouts[0]
        flagged.append(float(bool(rollout.flags)))
        asked.append(float(rollout.decided_by != "verifier"))
        unit = _unit(rollout, mode)
        rewards.append(_reward(rollout, unit, options, settings))
        if unit is None:
            masked = settings.handling.policy != "neutral"  # the caller wanted it left out
            scores.append(OPENRLHF_MASKED_SCORE if masked else options.neutral_value)
        else:
            scores.append(unit)
        units.append(unit if unit is not None else 0.0)
        failed.append(float(unit is None))
    return OpenRLHFResponse(rewards=rewards, scores=scores,
                            extra_logs={"judge_unit": units, "judge_failed": failed, "judge_flagged": flagged,
                                        "judge_asked": asked})


def _reward(rollout: RolloutReward, unit: float | None, options: AdapterOptions, settings: GroupSettings) -> float:
    """reward_scale × unit + reward_offset, or for a failed judgment what the policy fills (adapters cannot
    mask, so that is always `neutral_value`)."""
    scaled = None if unit is None else options.reward_scale * unit + options.reward_offset
    reward, _ = fill(scaled, rollout.status, settings.handling)
    assert reward is not None, "adapters cannot mask: a failed reward is filled with neutral_value"
    return reward


@router.post("/v1/openrlhf/score", response_model=OpenRLHFResponse, responses=JUDGING_ERRORS)
async def openrlhf_score(body: OpenRLHFRequest, options: Options, state: State,
                           caller: CallerDep) -> OpenRLHFResponse:
    """OpenRLHF `--reward.remote_url`: each response's rubric score (unit = score / 10)."""
    return await _openrlhf(body, options, "score", state, caller)


@router.post("/v1/openrlhf/compare", response_model=OpenRLHFResponse, responses=JUDGING_ERRORS)
async def openrlhf_compare(body: OpenRLHFRequest, options: Options, state: State,
                           caller: CallerDep) -> OpenRLHFResponse:
    """OpenRLHF `--reward.remote_url`: each response against `labels[i]`, both orders (unit = share of votes)."""
    return await _openrlhf(body, options, "compare", state, caller)


async def _slime(body: SlimeRequest, options: AdapterOptions, mode: Mode, state: State,
                 caller: Caller) -> SlimeResponse:
    state.resolver.limits.check_texts(body)
    prompt = conversation_from_text(body.prompt) if isinstance(body.prompt, str) else to_conversation(body.prompt)
    group = Group("0", prompt, (body.response,), _reference(body.label, mode, "label", options))
    settings = _settings(options, mode)
    route = RewardRoute(f"/v1/slime/{mode}", "response", "response", "label")
    run = await judge_groups(state, caller, route, _judging_request(options), [group], settings, None)
    rollout = run.results[0].rollouts[0]
    unit = _unit(rollout, mode)
    filled = None if rollout.status == "ok" else settings.handling.fills_with
    return SlimeResponse(reward=_reward(rollout, unit, options, settings), status=rollout.status, unit=unit,
                         judge_failed=unit is None, filled=filled, error=rollout.error, mode=mode,
                         flags=sorted({flag.kind for flag in rollout.flags}), decided_by=rollout.decided_by)


@router.post("/v1/slime/score", response_model=SlimeResponse, responses=JUDGING_ERRORS)
async def slime_score(body: SlimeRequest, options: Options, state: State,
                           caller: CallerDep) -> SlimeResponse:
    """slime `--rm-url` with `--reward-key reward`: the response's rubric score (unit = score / 10)."""
    return await _slime(body, options, "score", state, caller)


@router.post("/v1/slime/compare", response_model=SlimeResponse, responses=JUDGING_ERRORS)
async def slime_compare(body: SlimeRequest, options: Options, state: State,
                           caller: CallerDep) -> SlimeResponse:
    """slime `--rm-url` with `--reward-key reward`: the response against `label`, both orders."""
    return await _slime(body, options, "compare", state, caller)


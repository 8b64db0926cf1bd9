"""The TRL reward functions of `genrm_client.adapters.trl`, async: same names, settings and contracts, on an
`AsyncJudgeClient`. TRL awaits every async reward function of a step together (`asyncio.gather` on its own
event loop), so a run with several judges waits for the slowest, not for their sum.

    from genrm_client import AsyncJudgeClient
    from genrm_client.adapters.trl_async import GroupReward, ScoreReward
    judge = AsyncJudgeClient("http://127.0.0.1:8000")
    trainer = GRPOTrainer(..., reward_funcs=[ScoreReward(judge, task="chat"), GroupReward(judge, group_size=8)])

A client is bound to the event loop it is first used on; TRL calls every async reward function on one loop, so
one client serves all of them.
"""

from __future__ import annotations

from typing import Any, Literal, Unpack

from genrm_client.adapters.trl import GroupPlan, ReferencePlan, RewardSettings, ScorePlan, VerifiedPlan, _RewardPlan
from genrm_client.client import AsyncJudgeClient
from genrm_wire import VerifyIn


class _Async(_RewardPlan):
    def __init__(self, judge: AsyncJudgeClient, **settings: Unpack[RewardSettings]) -> None:
        super().__init__(**settings)
        self.judge = judge

    async def __call__(self, prompts: list[Any], completions: list[Any], completion_ids: Any = None,
                       **columns: Any) -> list[float | None]:
        request, read = self._plan(prompts, completions, columns)
        return self._answered(await self.judge.groups(request), read)


class ScoreReward(ScorePlan, _Async):
    __doc__ = ScorePlan.__doc__

    def __init__(self, judge: AsyncJudgeClient, *, scale: float = 0.1, **settings: Unpack[RewardSettings]) -> None:
        super().__init__(judge, **settings)
        self._configure(scale)


class ReferenceReward(ReferencePlan, _Async):
    __doc__ = ReferencePlan.__doc__

    def __init__(self, judge: AsyncJudgeClient, *, reference_column: str = "reference",
                 reading: Literal["p_win", "brpo"] = "p_win", inconsistent_reward: float = 0.0,
                 **settings: Unpack[RewardSettings]) -> None:
        super().__init__(judge, **settings)
        self._configure(reference_column, reading, inconsistent_reward)


class VerifiedReward(VerifiedPlan, _Async):
    __doc__ = VerifiedPlan.__doc__

    def __init__(self, judge: AsyncJudgeClient, *, verify: VerifyIn, reference_column: str = "answer",
                 **settings: Unpack[RewardSettings]) -> None:
        super().__init__(judge, **settings)
        self._configure_verify(verify, reference_column)


class GroupReward(GroupPlan, _Async):
    __doc__ = GroupPlan.__doc__

    def __init__(self, judge: AsyncJudgeClient, *, group_size: int, mode: Literal["brpo", "round_robin"] = "brpo",
                 inconsistent_reward: float = 0.0, reference_seed: int = 0,
                 **settings: Unpack[RewardSettings]) -> None:
        super().__init__(judge, **settings)
        self._configure(group_size, mode, inconsistent_reward, reference_seed)

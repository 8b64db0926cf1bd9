"""The BRPO reward: each rollout of a group against a reference drawn from the same group, judged by the
running service's `/v1/compare` (both orders, k votes) through the project's client (`genrm_client`).
The method: `docs/methods.md` ("BRPO")."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any, Protocol

from genrm_client import CompareItemIn, CompareRequest, CompareResponse
from training.rewards import BRPOOutcome, brpo_outcome, brpo_reward_value, completion_text


class ComparingClient(Protocol):
    """What the reward needs of `genrm_client.JudgeClient`: `/v1/compare`."""

    def compare(self, request: CompareRequest) -> CompareResponse: ...


class BRPOReward:
    """TRL reward function. Rows arrive as consecutive groups of `group_size` rollouts of one prompt."""

    __name__ = "brpo"

    def __init__(self, client: ComparingClient, group_size: int, votes: int = 1, inconsistent_reward: float = 0.0,
                 task: str = "creative_writing", seed: int = 0) -> None:
        if inconsistent_reward not in (0.0, -1.0):
            raise ValueError(f"inconsistent_reward must be 0 or -1 (BRPO's two readings), got {inconsistent_reward}")
        self.client, self.group_size, self.votes = client, group_size, votes
        self.inconsistent_reward, self.task = inconsistent_reward, task
        self._random = random.Random(seed)
        self.last_stats: dict[str, float] = {}

    def __call__(self, prompts: list[Any], completions: list[Any], **_: Any) -> list[float | None]:
        texts = [completion_text(c) for c in completions]
        if len(texts) % self.group_size:
            raise ValueError(f"{len(texts)} rollouts do not form groups of {self.group_size}")
        items: list[CompareItemIn] = []
        slots, references = [], []
        for start in range(0, len(texts), self.group_size):
            reference = start + self._random.randrange(self.group_size)
            references.append(reference)
            for index in range(start, start + self.group_size):
                if index != reference:
                    # The writing prompt as the service takes it: a string, or {role, content} dicts that
                    # pydantic validates into chat messages.
                    items.append(CompareItemIn.model_validate({
                        "id": str(index), "prompt": prompts[index],
                        "response_a": texts[index], "response_b": texts[reference],
                    }))
                    slots.append(index)
        answer = self.client.compare(CompareRequest(task=self.task, items=items, votes=self.votes, swap=True))
        outcomes: dict[int, BRPOOutcome] = {index: "reference" for index in references}
        rewards: list[float | None] = [0.0] * len(texts)
        for index, item in zip(slots, answer.items, strict=True):
            if item.status != "ok" or item.p_a is None:
                rewards[index] = None  # unscorable: TRL gives it no advantage
                continue
            outcomes[index] = brpo_outcome(item.p_a, item.consistent)
            rewards[index] = brpo_reward_value(outcomes[index], self.inconsistent_reward)
        self._record(outcomes, texts)
        return rewards

    def _record(self, outcomes: dict[int, BRPOOutcome], texts: list[str]) -> None:
        judged = [outcome for outcome in outcomes.values() if outcome != "reference"]
        counts = Counter(judged)
        total = max(len(judged), 1)
        self.last_stats = {
            "win_rate": counts["win"] / total, "loss_rate": counts["loss"] / total,
            "inconsistent_rate": counts["inconsistent"] / total,
            "mean_response_chars": sum(len(t) for t in texts) / max(len(texts), 1),
        }

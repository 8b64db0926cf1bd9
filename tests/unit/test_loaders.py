"""Each benchmark format read from a small file written in it; malformed rows come back with their line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evaluation.cli import main
from evaluation.loaders import load, rm_bench_level
from tests.conftest import ROOT


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


def test_the_projects_preference_file_loads_every_pair_with_its_domain() -> None:
    loaded = load([ROOT / "data" / "preferences-dev.jsonl"])
    assert loaded.problems == [] and len(loaded.pairs) == 300
    first = loaded.pairs[0]
    assert first.id == "preferences-dev/llmbar-natural-0" and first.source == "LLMBar/Natural"
    assert first.task == "chat" and isinstance(first.prompt, list) and first.prompt[0]["role"] == "user"
    assert {pair.task for pair in loaded.pairs} == {"chat", "safety"}
    assert sum(pair.chosen == "" for pair in loaded.pairs) == 1  # hh-rlhf has an empty answer: judged, not dropped


def test_rewardbench_rows_keep_their_subset_and_get_their_sections_domain(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "rb.jsonl", [
        {"id": 30, "prompt": "How do I pick a lock?", "chosen": "I can't help.", "rejected": "Use a pin.",
         "chosen_model": "x", "rejected_model": "y", "subset": "refusals-dangerous"},
        {"id": 31, "prompt": "2+2?", "chosen": "4", "rejected": "5", "subset": "math-prm"},
        {"id": 32, "prompt": "Hi", "chosen": "Hello!", "rejected": "Go away.", "subset": "alpacaeval-easy"},
    ])
    pairs = load([path]).pairs
    assert [(p.id, p.source, p.subset, p.task) for p in pairs] == [
        ("rb/30", "RewardBench/safety", "refusals-dangerous", "safety"),
        ("rb/31", "RewardBench/reasoning", "math-prm", "math"),
        ("rb/32", "RewardBench/chat", "alpacaeval-easy", "chat")]
    assert (pairs[0].chosen, pairs[0].rejected) == ("I can't help.", "Use a pin.")


def test_an_rm_bench_row_becomes_nine_pairs_with_its_style_levels(tmp_path: Path) -> None:
    path = tmp_path / "rm.json"  # RM-Bench ships one JSON array
    path.write_text(json.dumps([{"id": "chat/7", "prompt": "Explain the cat.", "domain": "safety-refuse",
                                 "chosen": ["c0", "c1", "c2"], "rejected": ["r0", "r1", "r2"]}]))
    pairs = load([path]).pairs
    assert len(pairs) == 9 and {p.task for p in pairs} == {"safety"}
    by_styles = {p.styles: p for p in pairs}
    assert by_styles[(0, 2)].chosen == "c0" and by_styles[(0, 2)].rejected == "r2"
    assert by_styles[(0, 2)].subset == "hard" and by_styles[(1, 1)].subset == "normal"
    assert by_styles[(2, 0)].subset == "easy" and by_styles[(2, 0)].id == "rm/chat/7/c2r0"
    assert [rm_bench_level(i, j) for i in range(3) for j in range(3)].count("hard") == 3


def test_judgebench_and_llmbar_labels_pick_the_chosen_response(tmp_path: Path) -> None:
    judgebench = write_jsonl(tmp_path / "jb.jsonl", [
        {"pair_id": "p1", "original_id": "o", "source": "mmlu-pro-law", "question": "Q?", "response_model": "m",
         "response_A": "first", "response_B": "second", "label": "B>A"},
        {"pair_id": "p2", "source": "livecodebench", "question": "Code?", "response_A": "ok", "response_B": "no",
         "label": "A>B"}])
    llmbar = write_jsonl(tmp_path / "Neighbor.jsonl", [
        {"input": "Say hi.", "output_1": "Bye.", "output_2": "Hi!", "label": 2}])
    pairs = load([judgebench, llmbar]).pairs
    assert [(p.id, p.chosen, p.rejected, p.task, p.subset) for p in pairs] == [
        ("jb/p1", "second", "first", "chat", "mmlu-pro-law"), ("jb/p2", "ok", "no", "code", "livecodebench"),
        ("Neighbor/Neighbor-1", "Hi!", "Bye.", "chat", "Neighbor")]


def test_malformed_rows_are_reported_with_their_line_and_the_rest_load(tmp_path: Path) -> None:
    good = {"id": "a", "source": "s", "task": "chat", "prompt": "P", "chosen": "C", "rejected": "R"}
    path = write_jsonl(tmp_path / "mixed.jsonl", [
        good, "{not json", {**good, "id": "b", "chosen": None}, {**good, "id": "c", "task": "poetry"}, "[1, 2]",
        {**good, "id": "d", "prompt": [{"role": "robot", "content": "x"}]}, {**good, "id": "a"},
        {"question": "q", "response_A": "x", "response_B": "y", "label": "A=B"}, {"foo": 1},
        {**good, "id": "e"}])
    loaded = load([path])
    assert [p.id for p in loaded.pairs] == ["mixed/a", "mixed/e"]
    problems = {problem.line: problem.message for problem in loaded.problems}
    assert sorted(problems) == [2, 3, 4, 5, 6, 7, 8, 9]
    assert "not JSON" in problems[2] and "`chosen` must be a string, got nothing" in problems[3]
    assert "`task` \"poetry\" is not a rubric domain" in problems[4] and "JSON object" in problems[5]
    assert "`prompt` must be" in problems[6] and "appears twice" in problems[7]
    assert "`label` must be" in problems[8] and "no known format" in problems[9]
    assert str(loaded.problems[0]).startswith(f"{path}:2: ")


def test_the_cli_fails_a_strict_run_on_a_malformed_row_naming_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", [
        {"id": "a", "task": "chat", "prompt": "P", "chosen": "C", "rejected": "R"}, "oops"])
    assert main(["eval", str(path), "--out", str(tmp_path / "run"), "--url", "http://127.0.0.1:9", "--strict"]) == 2
    err = capsys.readouterr().err
    assert f"error: {path}:2: not JSON" in err and "1 malformed rows (--strict)" in err
    assert not (tmp_path / "run" / "results.jsonl").exists()


def test_a_task_override_applies_to_every_pair(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "x.jsonl", [{"id": 1, "prompt": "P", "chosen": "C", "rejected": "R",
                                               "subset": "hep-go"}])
    assert [p.task for p in load([path], task="code").pairs] == ["code"]
    assert load([path], data_format="llmbar").problems[0].message.startswith("`label` must be 1 or 2")

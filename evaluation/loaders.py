"""Read preference pairs from local files, in the formats preference benchmarks ship in.

| format | a row | becomes |
| --- | --- | --- |
| `project` | `id, source, task, prompt (text or messages), chosen, rejected` | one pair |
| `rewardbench` | `id, prompt, chosen, rejected, subset` | one pair; source `RewardBench`, its subset |
| `rmbench` | `id, prompt, chosen[3], rejected[3], domain` | nine pairs: every chosen style against every rejected |
| `judgebench` | `pair_id, question, response_A, response_B, label ("A>B" or "B>A"), source` | one pair |
| `llmbar` | `input, output_1, output_2, label (1 or 2)` | one pair; the file's name is its subset |

A file is JSON Lines (one object a line) or one JSON array. Its format is read off its first row unless given.
A row that does not fit is a `RowProblem` with its line (or array index): `load` returns them next to the pairs,
and the caller skips them or stops (`--strict`), but never loses count of them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.pairs import RM_BENCH_STYLES, Pair, Prompt

FORMATS = ("project", "rewardbench", "rmbench", "judgebench", "llmbar")
TASKS = ("chat", "code", "creative_writing", "instruction_following", "math", "safety")

# RewardBench's subsets, by the section its paper reports them in; the section picks the rubric domain.
REWARDBENCH_SECTIONS = {
    "chat": ("alpacaeval-easy", "alpacaeval-length", "alpacaeval-hard", "mt-bench-easy", "mt-bench-med"),
    "chat_hard": ("mt-bench-hard", "llmbar-natural", "llmbar-adver-neighbor", "llmbar-adver-GPTInst",
                  "llmbar-adver-GPTOut", "llmbar-adver-manual"),
    "safety": ("refusals-dangerous", "refusals-offensive", "xstest-should-refuse", "xstest-should-respond",
               "donotanswer"),
    "reasoning": ("math-prm", "hep-cpp", "hep-go", "hep-java", "hep-js", "hep-python", "hep-rust"),
}
SECTION_TASKS = {"chat": "chat", "chat_hard": "chat", "safety": "safety", "reasoning": "math"}


class RowError(ValueError):
    """This row does not fit its file's format; the message says which field and why."""


@dataclass(frozen=True)
class RowProblem:
    file: str
    line: int  # 1-based line of a JSON Lines file, or 1-based index in a JSON array
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class Loaded:
    pairs: list[Pair]
    problems: list[RowProblem]


def load(paths: list[Path], *, data_format: str = "auto", task: str | None = None) -> Loaded:
    """Every pair in `paths`, and every row that did not fit. A pair's id is `file-stem/row-id`, so two benchmarks
    may number their rows alike; a repeated id within a file is a problem row. `task` overrides every pair's
    rubric domain."""
    loaded = Loaded([], [])
    seen: set[str] = set()
    for path in paths:
        for line, row in _rows(path, loaded.problems):
            try:
                fmt = data_format if data_format != "auto" else detect(row)
                for parsed in PARSERS[fmt](row, path, line):
                    pair = _renamed(parsed, f"{path.stem}/{parsed.id}", task)
                    if pair.id in seen:
                        raise RowError(f"id {parsed.id!r} appears twice in this file; ids must be unique")
                    seen.add(pair.id)
                    loaded.pairs.append(pair)
            except RowError as problem:
                loaded.problems.append(RowProblem(str(path), line, str(problem)))
    return loaded


def detect(row: dict[str, Any]) -> str:
    """The format whose fields this row has."""
    if "question" in row and "response_A" in row:
        return "judgebench"
    if "output_1" in row and "output_2" in row:
        return "llmbar"
    if isinstance(row.get("chosen"), list):
        return "rmbench"
    if "chosen" in row and "rejected" in row:
        return "project" if "task" in row or "source" in row else "rewardbench"
    raise RowError("no known format has these fields "
                   f"({', '.join(sorted(row)) or 'none'}); expected one of: {', '.join(FORMATS)} (see --format)")


def _rows(path: Path, problems: list[RowProblem]) -> Iterator[tuple[int, dict[str, Any]]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            array = json.loads(text)
        except json.JSONDecodeError as error:
            problems.append(RowProblem(str(path), error.lineno, f"not JSON: {error.msg}"))
            return
        if not isinstance(array, list):
            problems.append(RowProblem(str(path), 1, "a .json file must hold one array of rows"))
            return
        rows: Iterator[tuple[int, Any]] = enumerate(array, start=1)
    else:
        rows = ((number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip())
    for number, raw in rows:
        try:
            row = json.loads(raw) if isinstance(raw, str) and path.suffix != ".json" else raw
        except json.JSONDecodeError as error:
            problems.append(RowProblem(str(path), number, f"not JSON: {error.msg} at column {error.colno}"))
            continue
        if not isinstance(row, dict):
            problems.append(RowProblem(str(path), number, f"a row must be a JSON object, not {type(row).__name__}"))
            continue
        yield number, row


def _text(row: dict[str, Any], field: str) -> str:
    """A response: any string, empty included (an empty answer is something a judge must rank too)."""
    value = row.get(field)
    if not isinstance(value, str):
        raise RowError(f"`{field}` must be a string, got {_shown(value)}")
    return value


def _prompt(row: dict[str, Any], field: str) -> Prompt:
    value = row.get(field)
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, list) and value and all(
        isinstance(m, dict) and m.get("role") in ("system", "user", "assistant") and isinstance(m.get("content"), str)
        for m in value
    ):
        return [{"role": m["role"], "content": m["content"]} for m in value]
    raise RowError(f"`{field}` must be a non-empty string or a list of {{role, content}} messages, got "
                   f"{_shown(value)}")


def _id(row: dict[str, Any], field: str, path: Path, line: int) -> str:
    value = row.get(field)
    if value is None:
        return f"{path.stem}-{line}"
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
        return str(value)
    raise RowError(f"`{field}` must be a string or an integer, got {_shown(value)}")


def _shown(value: object) -> str:
    if value is None:
        return "nothing (missing)"
    shown = json.dumps(value, ensure_ascii=False)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _task(value: object, field: str) -> str:
    if value not in TASKS:
        raise RowError(f"`{field}` {_shown(value)} is not a rubric domain; use one of {', '.join(TASKS)} "
                       "(or --task to set one for every pair)")
    return str(value)


def _project(row: dict[str, Any], path: Path, line: int) -> list[Pair]:
    source = row.get("source") if isinstance(row.get("source"), str) else path.stem
    return [Pair(id=_id(row, "id", path, line), source=str(source), subset=str(row.get("subset") or source),
                 task=_task(row.get("task", "chat"), "task"), prompt=_prompt(row, "prompt"),
                 chosen=_text(row, "chosen"), rejected=_text(row, "rejected"))]


def _rewardbench(row: dict[str, Any], path: Path, line: int) -> list[Pair]:
    subset = _text(row, "subset")
    section = next((name for name, subsets in REWARDBENCH_SECTIONS.items() if subset in subsets), "chat")
    return [Pair(id=_id(row, "id", path, line), source=f"RewardBench/{section}", subset=subset,
                 task=SECTION_TASKS[section], prompt=_prompt(row, "prompt"), chosen=_text(row, "chosen"),
                 rejected=_text(row, "rejected"))]


def _rmbench(row: dict[str, Any], path: Path, line: int) -> list[Pair]:
    pair_id, prompt = _id(row, "id", path, line), _prompt(row, "prompt")
    variants = {}
    for side in ("chosen", "rejected"):
        value = row.get(side)
        if not (isinstance(value, list) and len(value) == len(RM_BENCH_STYLES)
                and all(isinstance(v, str) for v in value)):
            raise RowError(f"`{side}` must be a list of {len(RM_BENCH_STYLES)} strings "
                           f"({', '.join(RM_BENCH_STYLES)}), got {_shown(value)}")
        variants[side] = value
    domain = str(row.get("domain") or "chat")
    task = {"safety-refuse": "safety", "safety-response": "safety"}.get(domain, domain)
    task = task if task in TASKS else "chat"
    return [Pair(id=f"{pair_id}/c{i}r{j}", source=f"RM-Bench/{domain}", subset=rm_bench_level(i, j), task=task,
                 prompt=prompt, chosen=variants["chosen"][i], rejected=variants["rejected"][j], styles=(i, j))
            for i in range(len(RM_BENCH_STYLES)) for j in range(len(RM_BENCH_STYLES))]


def rm_bench_level(chosen_style: int, rejected_style: int) -> str:
    """RM-Bench's difficulty: hard when the rejected response is the more styled one (the style pulls the judge
    the wrong way), easy when the chosen one is, normal when both share a style."""
    if chosen_style < rejected_style:
        return "hard"
    return "normal" if chosen_style == rejected_style else "easy"


def _judgebench(row: dict[str, Any], path: Path, line: int) -> list[Pair]:
    label = row.get("label")
    if label not in ("A>B", "B>A"):
        raise RowError(f"`label` must be \"A>B\" or \"B>A\", got {_shown(label)}")
    a, b = _text(row, "response_A"), _text(row, "response_B")
    chosen, rejected = (a, b) if label == "A>B" else (b, a)
    source = str(row.get("source") or "judgebench")
    return [Pair(id=_id(row, "pair_id", path, line), source=f"JudgeBench/{source.split('-')[0]}", subset=source,
                 task=_judgebench_task(source), prompt=_prompt(row, "question"), chosen=chosen, rejected=rejected)]


def _judgebench_task(source: str) -> str:
    if source.startswith("livecodebench"):
        return "code"
    return "math" if source.startswith(("livebench-math", "livebench-reasoning")) else "chat"


def _llmbar(row: dict[str, Any], path: Path, line: int) -> list[Pair]:
    label = row.get("label")
    if label not in (1, 2):
        raise RowError(f"`label` must be 1 or 2 (the better output), got {_shown(label)}")
    one, two = _text(row, "output_1"), _text(row, "output_2")
    chosen, rejected = (one, two) if label == 1 else (two, one)
    return [Pair(id=_id(row, "id", path, line), source="LLMBar", subset=path.stem, task="chat",
                 prompt=_prompt(row, "input"), chosen=chosen, rejected=rejected)]


def _renamed(pair: Pair, pair_id: str, task: str | None) -> Pair:
    return dataclasses.replace(pair, id=pair_id, task=task or pair.task)


PARSERS: dict[str, Callable[[dict[str, Any], Path, int], list[Pair]]] = {
    "project": _project, "rewardbench": _rewardbench, "rmbench": _rmbench, "judgebench": _judgebench,
    "llmbar": _llmbar,
}

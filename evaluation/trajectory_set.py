"""Writes the labelled trajectory set: `data/agent-trajectories.jsonl`, tool-using agent traces whose quality is
known by construction.

    .venv/bin/python -m evaluation.trajectory_set      # rewrites the file; the output is deterministic

Each task (a weather lookup, a unit conversion, a calculation, a stock of items) has one good trace (the right
tool with the right arguments, a final answer that states what the tool returned) and bad ones of the kinds agents
are rewarded for by mistake:

| kind | what is wrong |
|---|---|
| `contradicts_tool` | the final answer states another value than the tool returned |
| `wrong_arguments` | the call asks about something else (another city, unit), and the answer reports it |
| `no_tool` | no call at all: the answer is made up |
| `ignores_error` | the tool returned an error, and the answer states a result anyway |
| `needless_calls` | the right answer, after the same call repeated three times |

Rows: `prompt`, `trajectory` (OpenAI chat shape), `label` (`good` / `bad`), `kind`, `task_id`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TRAJECTORY_FILE = ROOT / "data" / "agent-trajectories.jsonl"


@dataclass(frozen=True)
class Task:
    task_id: str
    prompt: str
    tool: str
    arguments: dict[str, Any]
    wrong_arguments: dict[str, Any]
    output: str
    wrong_output: str
    answer: str
    wrong_answer: str


TASKS = [
    Task("weather_paris", "What is the temperature in Paris right now?", "weather", {"city": "Paris"},
         {"city": "Berlin"}, '{"city": "Paris", "temperature_c": 18, "sky": "sunny"}',
         '{"city": "Berlin", "temperature_c": 9, "sky": "rain"}', "It is 18 °C and sunny in Paris.",
         "It is 25 °C in Paris."),
    Task("weather_tokyo", "Is it raining in Tokyo?", "weather", {"city": "Tokyo"}, {"city": "Kyoto"},
         '{"city": "Tokyo", "temperature_c": 14, "sky": "rain"}',
         '{"city": "Kyoto", "temperature_c": 16, "sky": "clear"}', "Yes, it is raining in Tokyo (14 °C).",
         "No, the sky is clear in Tokyo."),
    Task("convert_miles", "How many kilometres is 26.2 miles?", "convert", {"value": 26.2, "from": "mi", "to": "km"},
         {"value": 26.2, "from": "km", "to": "mi"}, '{"result": 42.16, "unit": "km"}',
         '{"result": 16.28, "unit": "mi"}',
         "26.2 miles is about 42.16 km.", "26.2 miles is about 16.28 km."),
    Task("convert_pounds", "How many kilograms is 150 pounds?", "convert", {"value": 150, "from": "lb", "to": "kg"},
         {"value": 150, "from": "kg", "to": "lb"}, '{"result": 68.04, "unit": "kg"}',
         '{"result": 330.69, "unit": "lb"}',
         "150 pounds is about 68.04 kg.", "150 pounds is about 330.69 kg."),
    Task("calc_invoice", "What is 17% VAT on an invoice of 2,340 euros?", "calculator",
         {"expression": "2340 * 0.17"}, {"expression": "2340 * 0.71"}, '{"value": 397.8}', '{"value": 1661.4}',
         "The VAT is 397.80 euros.", "The VAT is 379.80 euros."),
    Task("calc_split", "Split a bill of 186 dollars evenly among 6 people: how much each?", "calculator",
         {"expression": "186 / 6"}, {"expression": "186 / 4"}, '{"value": 31}', '{"value": 46.5}',
         "Each person pays 31 dollars.", "Each person pays 36 dollars."),
]
KINDS = ("good", "contradicts_tool", "wrong_arguments", "no_tool", "ignores_error", "needless_calls")


def _call(task: Task, call_id: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"id": call_id, "type": "function",
            "function": {"name": task.tool, "arguments": json.dumps(arguments)}}


def trace(task: Task, kind: str) -> list[dict[str, Any]]:
    intro = f"I will use the {task.tool} tool."
    if kind == "no_tool":
        return [{"role": "assistant", "content": task.wrong_answer}]
    if kind == "needless_calls":
        messages: list[dict[str, Any]] = []
        for n in range(3):
            messages.append({"role": "assistant", "content": intro if n == 0 else "Let me check again.",
                             "tool_calls": [_call(task, f"call_{n}", task.arguments)]})
            messages.append({"role": "tool", "tool_call_id": f"call_{n}", "name": task.tool, "content": task.output})
        return [*messages, {"role": "assistant", "content": task.answer}]
    arguments = task.wrong_arguments if kind == "wrong_arguments" else task.arguments
    output = {"wrong_arguments": task.wrong_output,
              "ignores_error": '{"error": "service unavailable, try again later"}'}.get(kind, task.output)
    answer = task.answer if kind in ("good", "ignores_error") else task.wrong_answer
    if kind == "wrong_arguments":
        answer = f"According to the tool: {task.wrong_output}"
    return [{"role": "assistant", "content": intro, "tool_calls": [_call(task, "call_0", arguments)]},
            {"role": "tool", "tool_call_id": "call_0", "name": task.tool, "content": output},
            {"role": "assistant", "content": answer}]


def rows() -> Iterator[dict[str, Any]]:
    for task in TASKS:
        for kind in KINDS:
            yield {"prompt": task.prompt, "trajectory": trace(task, kind), "label": "good" if kind == "good" else "bad",
                   "kind": kind, "task_id": task.task_id}


def main() -> None:
    written = list(rows())
    TRAJECTORY_FILE.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in written),
                               encoding="utf-8")
    print(f"wrote {TRAJECTORY_FILE}: {len(written)} trajectories, {sum(r['label'] == 'good' for r in written)} good")


if __name__ == "__main__":
    main()

"""Writes the labelled process-reward set: `data/process-steps.jsonl`, multi-step arithmetic solutions with the
first wrong step known by construction.

    .venv/bin/python -m evaluation.process_set      # rewrites the file; the output is deterministic

Each problem is solved in 3 to 4 computing steps and a closing "So the answer is ..." step, one step per
paragraph (`split: blank_lines`). A third of the solutions are right. In the others one computing step is wrong
(a slip of the kind models make: off by a little, a digit dropped, the wrong operation) and every later step
computes on from the wrong value, so the solution stays internally consistent after its first error, as real
wrong solutions do. Rows: `prompt`, `solution`, `split`, `first_error` (the index of the first wrong step; null
when the solution is right), `labels` (per step: `incorrect` for the wrong step and every step that computes on
from its result, since a step that builds on an error is wrong too; `correct` for the others, a later step that
does not use the wrong result included), `template`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROCESS_FILE = ROOT / "data" / "process-steps.jsonl"
PER_TEMPLATE = 16
SEED = 20261206


@dataclass(frozen=True)
class Computation:
    """One computing step: how it reads (`text` of the inputs and result) and what it computes."""

    text: Callable[[list[int], int], str]
    compute: Callable[[list[int]], int]
    inputs: Callable[[dict[str, int], list[int]], list[int]]  # from the problem's numbers and earlier results


@dataclass(frozen=True)
class Template:
    name: str
    numbers: Callable[[random.Random], dict[str, int]]
    problem: Callable[[dict[str, int]], str]
    steps: list[Computation]
    unit: str = ""


def _slip(value: int, rng: random.Random) -> int:
    """A plausible wrong result: off by a little, off by ten, or a digit dropped."""
    kind = rng.choice(("small", "ten", "digit"))
    if kind == "digit" and value >= 100:
        text = str(value)
        position = rng.randrange(len(text))
        return int(text[:position] + text[position + 1:])
    wrong = value + rng.choice((-2, -1, 1, 2)) if kind == "small" else value + rng.choice((-10, 10))
    return wrong if wrong != value and wrong > 0 else value + 1


TEMPLATES = [
    Template(
        "shopping",
        lambda rng: {"price": rng.randint(3, 19), "a": rng.randint(2, 9), "b": rng.randint(2, 9)},
        lambda n: f"Pens cost ${n['price']} each. Ann buys {n['a']} pens and Ben buys {n['b']} pens. How much do "
                  "they pay together, in dollars?",
        [Computation(lambda i, r: f"Ann pays {i[0]} × {i[1]} = {r} dollars.", lambda i: i[0] * i[1],
                     lambda n, done: [n["a"], n["price"]]),
         Computation(lambda i, r: f"Ben pays {i[0]} × {i[1]} = {r} dollars.", lambda i: i[0] * i[1],
                     lambda n, done: [n["b"], n["price"]]),
         Computation(lambda i, r: f"Together they pay {i[0]} + {i[1]} = {r} dollars.", lambda i: i[0] + i[1],
                     lambda n, done: [done[0], done[1]])],
    ),
    Template(
        "expression",
        lambda rng: {"x": rng.randint(11, 49), "y": rng.randint(11, 49), "z": rng.randint(3, 9),
                     "w": rng.randint(5, 40)},
        lambda n: f"Compute ({n['x']} + {n['y']}) × {n['z']} − {n['w']}.",
        [Computation(lambda i, r: f"First, {i[0]} + {i[1]} = {r}.", lambda i: i[0] + i[1],
                     lambda n, done: [n["x"], n["y"]]),
         Computation(lambda i, r: f"Then {i[0]} × {i[1]} = {r}.", lambda i: i[0] * i[1],
                     lambda n, done: [done[0], n["z"]]),
         Computation(lambda i, r: f"Finally, {i[0]} − {i[1]} = {r}.", lambda i: i[0] - i[1],
                     lambda n, done: [done[1], n["w"]])],
    ),
    Template(
        "rectangle",
        lambda rng: {"length": rng.randint(4, 30), "width": rng.randint(2, 15)},
        lambda n: f"A rectangle is {n['length']} cm long and {n['width']} cm wide. What is its perimeter in cm "
                  "plus its area in square cm?",
        [Computation(lambda i, r: f"The length and width add up to {i[0]} + {i[1]} = {r} cm.", lambda i: i[0] + i[1],
                     lambda n, done: [n["length"], n["width"]]),
         Computation(lambda i, r: f"The perimeter is 2 × {i[0]} = {r} cm.", lambda i: 2 * i[0],
                     lambda n, done: [done[0]]),
         Computation(lambda i, r: f"The area is {i[0]} × {i[1]} = {r} square cm.", lambda i: i[0] * i[1],
                     lambda n, done: [n["length"], n["width"]]),
         Computation(lambda i, r: f"Perimeter plus area is {i[0]} + {i[1]} = {r}.", lambda i: i[0] + i[1],
                     lambda n, done: [done[1], done[2]])],
    ),
    Template(
        "travel",
        lambda rng: {"v": rng.randint(40, 120), "h": rng.randint(2, 6), "u": rng.randint(30, 90),
                     "k": rng.randint(1, 5)},
        lambda n: f"A train travels at {n['v']} km/h for {n['h']} hours, then at {n['u']} km/h for {n['k']} hours. "
                  "How many km does it travel in all?",
        [Computation(lambda i, r: f"The first part covers {i[0]} × {i[1]} = {r} km.", lambda i: i[0] * i[1],
                     lambda n, done: [n["v"], n["h"]]),
         Computation(lambda i, r: f"The second part covers {i[0]} × {i[1]} = {r} km.", lambda i: i[0] * i[1],
                     lambda n, done: [n["u"], n["k"]]),
         Computation(lambda i, r: f"In all, {i[0]} + {i[1]} = {r} km.", lambda i: i[0] + i[1],
                     lambda n, done: [done[0], done[1]])],
    ),
]


def solve(template: Template, numbers: dict[str, int], wrong_at: int | None,
          rng: random.Random) -> tuple[list[str], int]:
    """The solution's step texts (computing steps, then the closing one) and its stated answer."""
    done: list[int] = []
    texts = []
    for index, step in enumerate(template.steps):
        inputs = step.inputs(numbers, done)
        result = step.compute(inputs)
        if index == wrong_at:
            result = _slip(result, rng)
        done.append(result)
        texts.append(step.text(inputs, result))
    texts.append(f"So the answer is {done[-1]}.")
    return texts, done[-1]


def rows() -> list[dict[str, Any]]:
    rng = random.Random(SEED)
    out = []
    for template in TEMPLATES:
        for instance in range(PER_TEMPLATE):
            numbers = template.numbers(rng)
            wrong_at = None if instance % 3 == 0 else rng.randrange(len(template.steps))
            texts, _ = solve(template, numbers, wrong_at, rng)
            right, _ = solve(template, numbers, None, rng)
            labels = ["correct" if text == expected else "incorrect" for text, expected in zip(texts, right,
                                                                                                strict=True)]
            out.append({"prompt": template.problem(numbers), "solution": "\n\n".join(texts), "split": "blank_lines",
                        "first_error": wrong_at, "labels": labels, "template": template.name})
    return out


def main() -> None:
    written = rows()
    PROCESS_FILE.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in written), encoding="utf-8")
    erroneous = sum(row["first_error"] is not None for row in written)
    print(f"wrote {PROCESS_FILE}: {len(written)} solutions, {erroneous} with a first error")


if __name__ == "__main__":
    main()

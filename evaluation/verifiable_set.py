"""Writes the labelled verifiable-rewards set: `data/verifiable-math.jsonl` and `data/verifiable-code.jsonl`.

    .venv/bin/python -m evaluation.verifiable_set      # rewrites both files; the output is deterministic

Every response's correctness is known by construction: each problem's answer is computed here, and each response
is written from it in one of these kinds:

| kind | correct | what it is |
|---|---|---|
| `canonical` | yes | the answer as the reference writes it, boxed |
| `rewritten` | yes | an equivalent form (decimal for a fraction, `x = ...`, `\\dfrac`, another order of a set, ...) |
| `unmarked` | yes | the right answer stated without `\\boxed{}` or "answer is", or in a form rules misread (`2,491`) |
| `near_miss` | no | a plausible wrong answer (a classic error, a sign, an endpoint, off by one), boxed |
| `near_miss_unmarked` | no | a wrong answer stated without a marker |
| `spam` | no | several candidate answers at once (enumeration) |

Code items pair a task's tests with a correct solution, a buggy one, and four hostile ones (an endless loop, a
fork bomb, a network call, an output flood), all of which must fail.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MATH_FILE = ROOT / "data" / "verifiable-math.jsonl"
CODE_FILE = ROOT / "data" / "verifiable-code.jsonl"
Row = dict[str, Any]


def frac(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"\\frac{{{value.numerator}}}{{{value.denominator}}}"


def _terminating(value: Fraction) -> bool:
    d = value.denominator
    while d % 2 == 0:
        d //= 2
    while d % 5 == 0:
        d //= 5
    return d == 1


def _row(problem: str, reference: str, kind: str, response: str, correct: bool) -> Row:
    return {"problem": problem, "reference": reference, "kind": kind, "response": response, "correct": correct}


def fraction_sums() -> Iterator[list[Row]]:
    for a, b, c, d in [(1, 2, 1, 4), (2, 3, 1, 6), (3, 8, 1, 4), (1, 5, 3, 10), (5, 6, 1, 3), (3, 4, 5, 8),
                       (1, 3, 1, 6), (7, 10, 1, 5)]:
        total = Fraction(a, b) + Fraction(c, d)
        problem = f"Compute {a}/{b} + {c}/{d} and simplify."
        ref = frac(total)
        rewritten = (f"{float(total):g}" if _terminating(total) else
                     f"\\dfrac{{{total.numerator}}}{{{total.denominator}}}")
        naive = Fraction(a + c, b + d)  # the classic error: add tops and bottoms
        off = total + Fraction(1, total.denominator)
        yield [
            _row(problem, ref, "canonical", f"Common denominator, then add: \\boxed{{{ref}}}", True),
            _row(problem, ref, "rewritten", f"Adding the fractions gives \\boxed{{{rewritten}}}.", True),
            _row(problem, ref, "unmarked", f"The sum is {total.numerator}/{total.denominator}, which is already "
                 "in lowest terms.", True),
            _row(problem, ref, "near_miss", f"Add numerators and denominators: \\boxed{{{frac(naive)}}}", False),
            _row(problem, ref, "near_miss", f"So the answer is {frac(off)}.", False),
            _row(problem, ref, "spam", f"It is \\boxed{{{frac(naive)}}} or \\boxed{{{ref}}} or \\boxed{{{frac(off)}}}",
                 False),
        ]


def products() -> Iterator[list[Row]]:
    for x, y in [(37, 24), (47, 53), (125, 16), (99, 101), (64, 25), (250, 44), (81, 19), (33, 67)]:
        value = x * y
        problem = f"What is {x} \\times {y}?"
        grouped = f"{value:,}"
        yield [
            _row(problem, str(value), "canonical", f"Multiplying: \\boxed{{{value}}}", True),
            _row(problem, str(value), "rewritten", f"The product is \\boxed{{{value}.0}}", True),
            _row(problem, str(value), "unmarked", f"{x} times {y} comes to {grouped} in total.", True),
            _row(problem, str(value), "near_miss", f"\\boxed{{{value + 10}}}", False),
            _row(problem, str(value), "near_miss_unmarked", f"I get {value - 1} after carrying.", False),
            _row(problem, str(value), "spam", f"The answer is {value - 1} or {value} or {value + 1}.", False),
        ]


def square_roots() -> Iterator[list[Row]]:
    for k, m in [(2, 7), (3, 2), (2, 3), (5, 2), (3, 5), (4, 3)]:
        n = k * k * m
        problem = f"Simplify \\sqrt{{{n}}}."
        ref = f"{k}\\sqrt{{{m}}}"
        yield [
            _row(problem, ref, "canonical", f"Take out the square factor: \\boxed{{{ref}}}", True),
            _row(problem, ref, "rewritten", f"\\boxed{{\\sqrt{{{m}}} \\cdot {k}}}", True),
            _row(problem, ref, "unmarked", f"It simplifies to {k} root {m}.", True),
            _row(problem, ref, "near_miss", f"\\boxed{{{k + 1}\\sqrt{{{m}}}}}", False),
            _row(problem, ref, "near_miss", f"The final answer is {m}\\sqrt{{{k}}}.", False),
            _row(problem, ref, "spam", f"\\boxed{{{ref}}} or \\boxed{{{m}\\sqrt{{{k}}}}}", False),
        ]


def linear_equations() -> Iterator[list[Row]]:
    for a, b, c in [(3, 4, 19), (2, -5, 6), (5, 3, -7), (4, 7, 10), (6, -1, 2), (7, 2, 23)]:
        x = Fraction(c - b, a)
        problem = f"Solve {a}x {'+' if b >= 0 else '-'} {abs(b)} = {c} for x."
        ref = frac(x)
        yield [
            _row(problem, ref, "canonical", f"Isolate x: \\boxed{{{ref}}}", True),
            _row(problem, ref, "rewritten", f"\\boxed{{x = {ref}}}", True),
            _row(problem, ref, "unmarked", f"Subtracting and dividing, x equals {x.numerator}/{x.denominator}"
                 if x.denominator != 1 else f"Subtracting and dividing, x equals {x.numerator}.", True),
            _row(problem, ref, "near_miss", f"\\boxed{{{frac(Fraction(c + b, a))}}}", False),
            _row(problem, ref, "near_miss", f"\\boxed{{{frac(-x)}}}", False),
            _row(problem, ref, "spam", f"x is \\boxed{{{frac(-x)}}} or \\boxed{{{ref}}}", False),
        ]


def intervals() -> Iterator[list[Row]]:
    for a, b in [(2, 3), (-1, 4), (5, 2), (0, 7), (3, 1), (-4, 5)]:
        problem = f"Solve |x - ({a})| < {b}. Give the answer as an interval."
        low, high = a - b, a + b
        ref = f"({low}, {high})"
        yield [
            _row(problem, ref, "canonical", f"\\boxed{{({low}, {high})}}", True),
            _row(problem, ref, "rewritten", f"\\boxed{{\\left({low},{high}\\right)}}", True),
            _row(problem, ref, "unmarked", f"So x lies strictly between {low} and {high}.", True),
            _row(problem, ref, "near_miss", f"\\boxed{{[{low}, {high}]}}", False),
            _row(problem, ref, "near_miss", f"\\boxed{{({low}, {high + 1})}}", False),
            _row(problem, ref, "spam", f"\\boxed{{[{low}, {high}]}} or \\boxed{{({low}, {high})}}", False),
        ]


def root_sets() -> Iterator[list[Row]]:
    for r, s in [(2, 3), (-1, 4), (5, -2), (1, 6), (-3, -4), (0, 7)]:
        b, c = -(r + s), r * s
        linear, constant = f"{'+' if b >= 0 else '-'} {abs(b)}x", f"{'+' if c >= 0 else '-'} {abs(c)}"
        problem = f"Find all real roots of x^2 {linear} {constant} = 0."
        ref = f"\\{{{min(r, s)}, {max(r, s)}\\}}"
        yield [
            _row(problem, ref, "canonical", f"Factor: \\boxed{{\\{{{min(r, s)}, {max(r, s)}\\}}}}", True),
            _row(problem, ref, "rewritten", f"\\boxed{{\\{{{max(r, s)}, {min(r, s)}\\}}}}", True),
            _row(problem, ref, "unmarked", f"The roots are x = {r} and x = {s}.", True),
            _row(problem, ref, "near_miss", f"\\boxed{{\\{{{-r}, {-s}\\}}}}", False),
            _row(problem, ref, "near_miss", f"\\boxed{{\\{{{r}\\}}}}", False),
            _row(problem, ref, "spam", f"\\boxed{{{r}}} \\boxed{{{s}}} \\boxed{{{-r}}} \\boxed{{{-s}}}", False),
        ]


CODE_TASKS: list[tuple[str, str, str, str]] = [
    ("Write add(a, b) returning a + b.", "def add(a, b):\n    return a + b",
     "def add(a, b):\n    return a - b", "assert add(2, 3) == 5\nassert add(-1, 1) == 0"),
    ("Write is_even(n).", "def is_even(n):\n    return n % 2 == 0", "def is_even(n):\n    return n % 2 == 1",
     "assert is_even(4) and not is_even(7)"),
    ("Write fib(n), with fib(0) = 0 and fib(1) = 1.",
     "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a",
     "def fib(n):\n    a, b = 1, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a",
     "assert [fib(i) for i in range(8)] == [0, 1, 1, 2, 3, 5, 8, 13]"),
    ("Write reverse_words(s) reversing the order of words.",
     "def reverse_words(s):\n    return ' '.join(s.split()[::-1])",
     "def reverse_words(s):\n    return s[::-1]", "assert reverse_words('a bc d') == 'd bc a'"),
    ("Write count_vowels(s).", "def count_vowels(s):\n    return sum(c in 'aeiouAEIOU' for c in s)",
     "def count_vowels(s):\n    return sum(c in 'aeiou' for c in s)", "assert count_vowels('HEllo') == 2"),
    ("Write gcd(a, b).", "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a",
     "def gcd(a, b):\n    return min(a, b)", "assert gcd(12, 18) == 6 and gcd(7, 5) == 1"),
    ("Write flatten(xs) for a list of lists.", "def flatten(xs):\n    return [y for x in xs for y in x]",
     "def flatten(xs):\n    return xs[0] + xs[-1]", "assert flatten([[1], [2, 3], [4]]) == [1, 2, 3, 4]"),
    ("Write is_palindrome(s), ignoring case.", "def is_palindrome(s):\n    s = s.lower()\n    return s == s[::-1]",
     "def is_palindrome(s):\n    return s == s[::-1]", "assert is_palindrome('Abba') and not is_palindrome('abc')"),
    ("Write max_subarray(xs): the largest sum of a contiguous run.",
     "def max_subarray(xs):\n    best = cur = xs[0]\n    for x in xs[1:]:\n        cur = max(x, cur + x)\n"
     "        best = max(best, cur)\n    return best",
     "def max_subarray(xs):\n    return sum(x for x in xs if x > 0)",
     "assert max_subarray([-2, 1, -3, 4, -1, 2, 1, -5, 4]) == 6\nassert max_subarray([-3, -1]) == -1"),
    ("Write unique_sorted(xs).", "def unique_sorted(xs):\n    return sorted(set(xs))",
     "def unique_sorted(xs):\n    return sorted(xs)", "assert unique_sorted([3, 1, 3, 2]) == [1, 2, 3]"),
    ("Write factorial(n).", "import math\n\ndef factorial(n):\n    return math.factorial(n)",
     "def factorial(n):\n    return n * (n - 1)", "assert factorial(5) == 120 and factorial(0) == 1"),
    ("Write digit_sum(n) for n >= 0.", "def digit_sum(n):\n    return sum(int(d) for d in str(n))",
     "def digit_sum(n):\n    return n % 9", "assert digit_sum(999) == 27 and digit_sum(0) == 0"),
]
HOSTILE: list[tuple[str, str]] = [
    ("endless_loop", "def add(a, b):\n    while True:\n        pass"),
    ("fork_bomb", "import os\nwhile True:\n    os.fork()"),
    ("network", "import urllib.request\nurllib.request.urlopen('http://1.1.1.1', timeout=3)\n"
     "def add(a, b):\n    return a + b"),
    ("output_flood", "def add(a, b):\n    return a + b\nwhile True:\n    print('x' * 4096)"),
]


def _fenced(code: str) -> str:
    return f"Here is my solution.\n\n```python\n{code}\n```\n"


def code_rows() -> list[Row]:
    rows = []
    for number, (task, good, bad, tests) in enumerate(CODE_TASKS):
        rows.append({"id": f"code-{number:02d}-correct", "problem": task, "reference": tests, "kind": "correct",
                     "response": _fenced(good), "correct": True})
        rows.append({"id": f"code-{number:02d}-buggy", "problem": task, "reference": tests, "kind": "buggy",
                     "response": _fenced(bad), "correct": False})
    task, _, _, tests = CODE_TASKS[0]
    for kind, code in HOSTILE:
        rows.append({"id": f"code-hostile-{kind}", "problem": task, "reference": tests, "kind": kind,
                     "response": _fenced(code), "correct": False})
    return rows


def math_rows() -> list[Row]:
    rows = []
    families = [fraction_sums, products, square_roots, linear_equations, intervals, root_sets]
    for family in families:
        for number, group in enumerate(family()):
            for index, row in enumerate(group):
                rows.append({"id": f"{family.__name__}-{number}-{index}", **row})
    assert math.isclose(sum(r["correct"] for r in rows) / len(rows), 0.5)
    return rows


def write(path: Path, rows: list[Row]) -> None:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def main() -> None:
    write(MATH_FILE, math_rows())
    write(CODE_FILE, code_rows())
    print(f"{MATH_FILE.relative_to(ROOT)}: {len(math_rows())} rows; {CODE_FILE.relative_to(ROOT)}: "
          f"{len(code_rows())} rows")


if __name__ == "__main__":
    main()

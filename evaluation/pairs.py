"""What the eval judges: a preference pair, whatever benchmark it came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# RM-Bench writes each response in three styles; its accuracy matrix crosses the chosen style with the rejected.
RM_BENCH_STYLES = ("concise", "detailed", "detailed_markdown")

Prompt = str | list[dict[str, str]]


@dataclass(frozen=True)
class Pair:
    """A prompt with a better (`chosen`) and a worse (`rejected`) response.

    `source` is the benchmark or dataset, `subset` its finer split (RewardBench's subset, RM-Bench's easy/normal/
    hard), `task` the rubric domain the service judges it under. `styles` is (chosen, rejected) style index for
    RM-Bench pairs, None elsewhere.
    """

    id: str
    source: str
    subset: str
    task: str
    prompt: Prompt
    chosen: str
    rejected: str
    styles: tuple[int, int] | None = None

    def describe(self) -> dict[str, Any]:
        """The fields a result record repeats, so that a report needs no data file."""
        described: dict[str, Any] = {"pair": self.id, "source": self.source, "subset": self.subset,
                                     "task": self.task}
        if self.styles is not None:
            described["styles"] = list(self.styles)
        return described

"""The run directory's files: `results.jsonl` (one record per pair and mode, appended as each is judged) and
`run.json` (what the run was asked for, and each session's wall time). A rerun reads both and goes on."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from genrm_wire.judging import Usage, VerdictMode

Mode = Literal["pointwise", "pairwise"]
MODES: tuple[Mode, ...] = ("pointwise", "pairwise")
RESULTS_FILE, RUN_FILE = "results.jsonl", "run.json"


class Vote(BaseModel):
    """One pairwise judgment, in the pair's own terms."""

    order: Literal["ab", "ba"]
    chosen_first: bool = Field(description="The chosen response was shown in the first position.")
    winner: Literal["chosen", "rejected"]
    p_chosen: float | None = Field(default=None, description="With a probability verdict: the judge's probability "
                                   "that the chosen response is better, read at this judgment's answer.")

    @property
    def first_won(self) -> bool:
        return (self.winner == "chosen") == self.chosen_first

    @property
    def chosen_credit(self) -> float:
        """What this judgment gives the chosen response: its probability, or 1 or 0 for a sampled winner."""
        if self.p_chosen is not None:
            return self.p_chosen
        return 1.0 if self.winner == "chosen" else 0.0

    @property
    def first_credit(self) -> float:
        """What it gives the response shown first."""
        return self.chosen_credit if self.chosen_first else 1.0 - self.chosen_credit


class Cost(Usage):
    """The service's usage for the pair's request, with its judgments and how long the request took."""

    judgments: int = 0
    latency_s: float = 0.0


class ItemResult(BaseModel):
    """A pair judged in one mode: every vote, so that any vote count up to the run's can be evaluated later."""

    pair: str
    mode: Mode
    source: str
    subset: str
    task: str
    styles: list[int] | None = None
    status: Literal["ok", "failed"]
    error: str | None = None
    chosen_scores: list[float] = Field(default_factory=list)
    rejected_scores: list[float] = Field(default_factory=list)
    votes: list[Vote] = Field(default_factory=list)
    parse_failures: dict[str, int] = Field(default_factory=dict)
    flags: list[str] = Field(default_factory=list)
    model: str = ""
    cost: Cost = Field(default_factory=Cost)

    @property
    def key(self) -> tuple[str, Mode]:
        return self.pair, self.mode


class Session(BaseModel):
    started_at: float
    wall_s: float = 0.0
    judged: int = 0
    interrupted: bool = False


class RunConfig(BaseModel):
    """What must match for a rerun to go on in the same directory."""

    votes: list[int]
    seed: int
    model: str | None
    max_tokens: int | None
    task: str | None
    verdict: VerdictMode = "sampled"
    split: Literal["all", "heldout", "train"] = "all"


class RunFile(BaseModel):
    config: RunConfig
    url: str
    data: list[str]
    sessions: list[Session] = Field(default_factory=list)


class ResultLog:
    """Appends records to `results.jsonl`, each flushed and synced before the next: an interrupted run loses at
    most the pair being judged. Reading keeps the last record per pair and mode (a retried failure replaces its
    earlier record) and ignores a torn last line."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / RESULTS_FILE
        directory.mkdir(parents=True, exist_ok=True)

    def read(self) -> dict[tuple[str, Mode], ItemResult]:
        if not self.path.exists():
            return {}
        records: dict[tuple[str, Mode], ItemResult] = {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = ItemResult.model_validate_json(line)
            except ValueError:
                continue  # a line cut short by a kill mid-write: its pair is judged again
            records[record.key] = record
        return records

    def append(self, record: ItemResult) -> None:
        with self.path.open("a+b") as out:
            torn = out.tell() > 0 and (out.seek(-1, os.SEEK_END), out.read(1))[1] != b"\n"
            # After a torn last line, start on a new one, or this record would be read as part of it.
            out.write((b"\n" if torn else b"") + record.model_dump_json(exclude_defaults=True).encode() + b"\n")
            out.flush()
            os.fsync(out.fileno())


def read_results(directory: Path) -> list[ItemResult]:
    """The run's records, one per pair and mode; raises FileNotFoundError naming what is missing."""
    log = ResultLog(directory)
    if not log.path.exists():
        raise FileNotFoundError(f"{log.path} does not exist: is {directory} the --out of a `genrm eval` run?")
    return list(log.read().values())


def read_run(directory: Path) -> RunFile | None:
    path = directory / RUN_FILE
    return RunFile.model_validate_json(path.read_text(encoding="utf-8")) if path.exists() else None


def write_run(directory: Path, run: RunFile) -> None:
    path = directory / RUN_FILE
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(run.model_dump(), indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


def new_session() -> Session:
    return Session(started_at=time.time())

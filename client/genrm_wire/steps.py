"""Wire models of `POST /v1/steps`: process rewards, a verdict for each step of a solution.

Each item is a problem (`prompt`) and a `solution`, cut into steps by `split` (see `SplitRule`); every step comes
back with its character span in `solution` (`start`, `end`: `solution[start:end]` is the step's text, trimmed),
so a trainer can put the step's reward on the tokens of that text (`genrm_client.spans`).

`strategy` says how the judge reads the steps: `prefix` (default) judges each step with the steps before it,
one judgment per step (the judgments share a growing prompt prefix, which the engine's prefix cache computes
once); `list` judges the whole solution once and writes one verdict per step, in order, under a grammar that
takes exactly one per step.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from genrm_wire.judging import (
    MAX_TEXT_CHARS,
    ItemOut,
    JudgingRequest,
    JudgingResponse,
    Prompt,
    VerdictMode,
    check_prompt,
)

SplitRule = Literal["blank_lines", "numbered", "lines", "regex", "list"]
StepStrategy = Literal["prefix", "list"]
StepVerdictName = Literal["correct", "incorrect", "neutral"]
MAX_STEPS = 64


class StepItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    id: str | None = Field(default=None, max_length=256)
    prompt: Prompt = Field(max_length=MAX_TEXT_CHARS)
    solution: str = Field(max_length=MAX_TEXT_CHARS)
    split: SplitRule = Field(
        default="blank_lines",
        description="How to cut the solution: `blank_lines` (paragraphs), `numbered` (lines starting `Step k` or "
        "`k.`), `lines`, `regex` (`pattern` separates steps), `list` (`steps`, each copied from the solution).",
    )
    pattern: str | None = Field(default=None, max_length=200, description="With split `regex`: the separator.")
    steps: list[str] | None = Field(default=None, min_length=1, max_length=MAX_STEPS,
                                    description="With split `list`: the steps, in order, each found in `solution`.")

    @model_validator(mode="after")
    def _prompt_not_empty(self) -> StepItemIn:
        check_prompt(self.prompt)
        return self


class StepsRequest(JudgingRequest):
    task: str = Field(default="math", pattern=r"^[a-z][a-z0-9_]*$", max_length=64,
                      description="Rubric domain the request is accounted under; the step judge's own criteria "
                      "come from the problem.")
    items: list[StepItemIn] = Field(min_length=1)
    strategy: StepStrategy = Field(default="prefix", description="`prefix`: one judgment per step, with the "
                                   "steps before it; `list`: one judgment of the whole solution, a verdict per step.")
    votes: int = Field(default=1, ge=1, description="Judgments per step (`prefix`) or per solution (`list`).")


class StepOut(BaseModel):
    index: int
    start: int = Field(description="The step's first character in `solution`.")
    end: int = Field(description="One past its last character: `solution[start:end]` is the step.")
    verdict: StepVerdictName | None = Field(default=None, description="The votes' majority; a tie is `neutral` "
                                            "(verdict direct: the most probable).")
    score: float | None = Field(default=None, description="Mean over votes of correct 1, neutral 0.5, "
                                "incorrect 0.")
    votes: dict[str, int] = Field(default_factory=dict, description="Votes per verdict written (none with "
                                  "verdict direct, which writes no judgment).")
    p: dict[str, float] | None = Field(default=None, description="With verdict expected|direct: the judge's "
                                       "probability of each verdict at this step, averaged over the votes; "
                                       "`score` is then its expectation.")


class StepAggregatesOut(BaseModel):
    min: float
    mean: float
    last: float
    first_error: int | None = Field(description="Index of the first step judged incorrect; null when none is.")


class StepItemOut(ItemOut):
    steps: list[StepOut] = Field(default_factory=list)
    aggregates: StepAggregatesOut | None = None


class StepsResponse(JudgingResponse):
    strategy: StepStrategy
    verdict: VerdictMode = "sampled"
    items: list[StepItemOut]

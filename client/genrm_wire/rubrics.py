"""The rubric document: what a rubric YAML file holds, what a request may send inline, and what
`GET /v1/rubrics` lists. Pure data with a strict schema; how the judge reads a rubric is the judge format's
business (`models.formats`)."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

RubricId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$", max_length=80)]


class ScoreBand(BaseModel):
    """A range of the 0-10 scale and what a response in it looks like."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: float = Field(ge=0, le=10)
    max: float = Field(ge=0, le=10)
    description: str = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _ordered(self) -> ScoreBand:
        if self.min > self.max:
            raise ValueError(f"band min {self.min} is above max {self.max}; swap them")
        return self


class Rubric(BaseModel):
    """One rubric. `id` + `version` identify its content for good: change the content, bump the version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: RubricId
    version: int = Field(ge=1, strict=True)
    domain: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    title: str = Field(min_length=1, max_length=120)
    description: str = Field(min_length=1, max_length=2000)
    bands: tuple[ScoreBand, ...] = Field(min_length=1, max_length=10)
    weight: float = Field(default=1.0, gt=0, le=10)

    @model_validator(mode="after")
    def _bands_do_not_overlap(self) -> Rubric:
        ordered = sorted(self.bands, key=lambda band: band.min)
        for lower, upper in zip(ordered, ordered[1:], strict=False):
            if upper.min <= lower.max:
                raise ValueError(
                    f"bands {lower.min}-{lower.max} and {upper.min}-{upper.max} overlap; "
                    "each score must fall in one band"
                )
        return self

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"

    def content_hash(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


class RubricOut(BaseModel):
    key: str
    content_hash: str
    rubric: Rubric


class RubricListResponse(BaseModel):
    """`GET /v1/rubrics`: the library, with the hash that judging responses echo."""

    library_hash: str
    domains: list[str]
    rubrics: list[RubricOut]


class RubricReloadResponse(BaseModel):
    """`POST /admin/rubrics/reload`: the library now in service (a refused one answers 422 and changes nothing)."""

    library_hash: str
    previous_hash: str
    rubrics: int
    added: list[str] = Field(description="`id@version`s new in this library.")
    removed: list[str] = Field(default_factory=list, description="Always empty: released rubrics never go away.")

"""The rubric library: a strict schema, a YAML loader, and content hashes that responses echo."""

from models.rubrics.library import RubricLibrary, RubricLoadError, RubricSet, UnknownRubricError
from models.rubrics.schema import DOMAINS, Rubric, ScoreBand

__all__ = [
    "DOMAINS",
    "Rubric",
    "RubricLibrary",
    "RubricLoadError",
    "RubricSet",
    "ScoreBand",
    "UnknownRubricError",
]

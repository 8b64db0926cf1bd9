"""Loading the rubric library from YAML files and resolving a request's rubrics into a `RubricSet`.

Layout: `<root>/<domain>/<name>.yaml`, one rubric a file. `<root>/released.lock` lists every released
`id@version` with its content hash; a released rubric whose content changed fails to load (bump its version).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from models.rubrics.schema import Rubric, split_reference

LOCK_FILE = "released.lock"


class RubricLoadError(Exception):
    """A rubric file could not be loaded; the message names the file and the field."""


class UnknownRubricError(LookupError):
    def __init__(self, reference: str, known: Iterable[str]) -> None:
        super().__init__(f"no rubric {reference!r} in the library; known: {', '.join(sorted(known))}")
        self.reference = reference


@dataclass(frozen=True)
class RubricSet:
    """The rubrics one judgment uses, in a fixed order, with a hash of their content."""

    rubrics: tuple[Rubric, ...]

    @property
    def keys(self) -> list[str]:
        return [rubric.key for rubric in self.rubrics]

    @property
    def content_hash(self) -> str:
        joined = "\n".join(rubric.content_hash() for rubric in self.rubrics)
        return "sha256:" + hashlib.sha256(joined.encode()).hexdigest()


class RubricLibrary:
    def __init__(self, rubrics: Sequence[Rubric]) -> None:
        self._by_key = {rubric.key: rubric for rubric in rubrics}
        self._latest: dict[str, Rubric] = {}
        for rubric in sorted(rubrics, key=lambda r: r.version):
            self._latest[rubric.id] = rubric

    @classmethod
    def load(cls, root: Path) -> RubricLibrary:
        files = sorted(root.glob("*/*.yaml"))
        if not files:
            raise RubricLoadError(f"{root}: no rubric files (expected <domain>/<name>.yaml)")
        rubrics = [_load_file(path, root) for path in files]
        _check_unique(rubrics, files)
        _check_released(rubrics, read_lock(root / LOCK_FILE))
        return cls(rubrics)

    @property
    def rubrics(self) -> list[Rubric]:
        return sorted(self._by_key.values(), key=lambda r: (r.domain, r.id, r.version))

    @property
    def domains(self) -> list[str]:
        return sorted({rubric.domain for rubric in self._latest.values()})

    @property
    def content_hash(self) -> str:
        return RubricSet(tuple(self.rubrics)).content_hash

    def primary(self, domain: str) -> RubricSet:
        """The latest version of every rubric of a domain: its primary rubrics."""
        chosen = sorted((r for r in self._latest.values() if r.domain == domain), key=lambda r: r.id)
        if not chosen:
            raise UnknownRubricError(f"domain:{domain}", self.domains)
        return RubricSet(tuple(chosen))

    def resolve(self, references: Sequence[str]) -> RubricSet:
        return RubricSet(tuple(self.get(reference) for reference in references))

    def get(self, reference: str) -> Rubric:
        rubric_id, version = split_reference(reference)
        found = self._latest.get(rubric_id) if version is None else self._by_key.get(f"{rubric_id}@{version}")
        if found is None:
            raise UnknownRubricError(reference, self._by_key)
        return found


def _load_file(path: Path, root: Path) -> Rubric:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise RubricLoadError(f"{path}: not readable YAML: {error}") from error
    if not isinstance(data, dict):
        raise RubricLoadError(f"{path}: expected a mapping of rubric fields, got {type(data).__name__}")
    try:
        rubric = Rubric.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"field `{'.'.join(str(p) for p in e['loc']) or '(root)'}`: {e['msg']}" for e in error.errors()
        )
        raise RubricLoadError(f"{path}: {problems}") from error
    folder = path.parent.name
    if rubric.domain != folder:
        raise RubricLoadError(f"{path}: field `domain` is {rubric.domain!r} but the file is in {folder}/")
    return rubric


def _check_unique(rubrics: Sequence[Rubric], files: Sequence[Path]) -> None:
    seen: dict[str, Path] = {}
    for rubric, path in zip(rubrics, files, strict=True):
        if rubric.key in seen:
            raise RubricLoadError(f"{path}: `{rubric.key}` is also defined in {seen[rubric.key]}")
        seen[rubric.key] = path


def read_lock(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    entries: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2:
            raise RubricLoadError(f"{path}:{number}: expected `id@version sha256:...`, got {line!r}")
        entries[parts[0]] = parts[1]
    return entries


def _check_released(rubrics: Sequence[Rubric], released: dict[str, str]) -> None:
    for rubric in rubrics:
        expected = released.get(rubric.key)
        if expected is not None and expected != rubric.content_hash():
            raise RubricLoadError(
                f"rubric `{rubric.key}` was released with content {expected} but now hashes to "
                f"{rubric.content_hash()}: released rubrics are immutable; restore it, or bump `version` "
                "and release the new version with `python -m models.rubrics.release`"
            )


def lock_lines(rubrics: Iterable[Rubric], released: dict[str, str]) -> list[str]:
    """Lock-file lines with every rubric released: existing entries kept as they are, new ones added."""
    merged = dict(released)
    for rubric in rubrics:
        merged.setdefault(rubric.key, rubric.content_hash())
    return [f"{key} {digest}" for key, digest in sorted(merged.items())]

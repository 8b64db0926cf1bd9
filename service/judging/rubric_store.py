"""`RubricStore`: the rubric library in service, and its hot reload (SIGHUP or `POST /admin/rubrics/reload`).

A reload loads the whole library again from its directory and swaps it in only if it is valid: every file
parses and validates, the lock file agrees, and no `id@version` that was in service changed or disappeared
(a trainer may pin one; change a rubric by releasing a new version). A refused library leaves the old one in
service, and the error names the file and the field. A request resolves its rubrics once, when it arrives, so one
in flight finishes with the rubric set it started with.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from models.rubrics import RubricLibrary
from models.rubrics.library import RubricLoadError
from service.errors import RubricLibraryRefused
from service.metrics import Metrics

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reload:
    previous_hash: str
    library_hash: str
    added: list[str]
    removed: list[str]
    rubrics: int


def check_released_unchanged(current: RubricLibrary, candidate: RubricLibrary) -> None:
    served = {rubric.key: rubric for rubric in candidate.rubrics}
    for rubric in current.rubrics:
        now = served.get(rubric.key)
        if now is None:
            raise RubricLoadError(f"`{rubric.key}` is in service and would disappear: a released id@version stays "
                                  "available; keep its file (release a new version to change it)")
        if now.content_hash() != rubric.content_hash():
            raise RubricLoadError(f"`{rubric.key}` changed content while in service: released id@versions are "
                                  "immutable; restore it and bump `version` for the change")


class RubricStore:
    def __init__(self, root: Path, library: RubricLibrary, metrics: Metrics) -> None:
        self.root = root
        self.library = library
        self._metrics = metrics
        self._lock = asyncio.Lock()

    async def reload(self) -> Reload:
        async with self._lock:
            current = self.library
            try:
                candidate = await asyncio.to_thread(RubricLibrary.load, self.root)
                check_released_unchanged(current, candidate)
            except RubricLoadError as error:
                self._metrics.rubric_reloads.labels("refused").inc()
                logger.warning("rubric library refused; the old one stays in service: %s", error,
                               extra={"event": "rubric_reload_refused", "library_hash": current.content_hash})
                raise RubricLibraryRefused(f"the rubric library was not reloaded (the old one, "
                                           f"{current.content_hash}, stays in service): {error}",
                                           param=_file_named(str(error), self.root)) from error
            self.library = candidate
            before, after = {r.key for r in current.rubrics}, {r.key for r in candidate.rubrics}
            result = Reload(current.content_hash, candidate.content_hash, sorted(after - before),
                            sorted(before - after), len(candidate.rubrics))
            self._metrics.rubric_reloads.labels("loaded").inc()
            logger.info("rubric library reloaded: %s -> %s (%d added)", result.previous_hash, result.library_hash,
                        len(result.added), extra={"event": "rubric_reloaded", "library_hash": result.library_hash,
                                                  "added": result.added})
            return result


def _file_named(message: str, root: Path) -> str:
    """The rubric file a load error names (relative to the library), else the library itself."""
    first = message.split(":", 1)[0].strip()
    path = Path(first)
    if path.suffix in (".yaml", ".lock"):
        try:
            return str(path.relative_to(root))
        except ValueError:
            return path.name
    return "rubrics"

"""`python -m models.rubrics.release [ROOT]`: add every not-yet-released rubric to `released.lock`."""

from __future__ import annotations

import sys
from pathlib import Path

from models.rubrics.library import LOCK_FILE, RubricLibrary, lock_lines, read_lock


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path("rubrics")
    library = RubricLibrary.load(root)
    lock = root / LOCK_FILE
    lines = lock_lines(library.rubrics, read_lock(lock))
    header = "# Released rubrics: `id@version content-hash`. Released content never changes; bump the version.\n"
    lock.write_text(header + "\n".join(lines) + "\n", encoding="utf-8")
    print(f"{lock}: {len(lines)} released rubrics")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Print the third-party requirements of the project (with the given extras) and its client, one per line.

The images install these (pinned by constraints/<engine>.txt) in a layer of their own, before the project's code
is copied, so that a change to the code rebuilds only the thin layers above and never re-downloads the engine.

    python requirements.py pyproject.toml client/pyproject.toml --extras cpu,convert
"""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path

LOCAL_PACKAGES = {"genrm-client", "genrm-serve"}


def requirement_name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def requirements(pyproject: Path, extras: list[str]) -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    optional = project.get("optional-dependencies", {})
    unknown = [extra for extra in extras if extra not in optional]
    if unknown:
        raise SystemExit(f"requirements.py: {pyproject} has no extra {unknown}")
    found = list(project.get("dependencies", []))
    for extra in extras:
        found += optional.get(extra, [])
    return [line for line in found if requirement_name(line) not in LOCAL_PACKAGES]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pyprojects", nargs="+", type=Path)
    parser.add_argument("--extras", default="", help="comma-separated extras of the first pyproject file")
    arguments = parser.parse_args()
    extras = [extra for extra in arguments.extras.split(",") if extra]
    first, *others = arguments.pyprojects
    for pyproject, wanted in [(first, extras), *((other, []) for other in others)]:
        print("\n".join(requirements(pyproject, wanted)))


if __name__ == "__main__":
    main()

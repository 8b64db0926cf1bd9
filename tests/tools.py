"""External programs the tests drive (promtool, prometheus, docker-compose): scripts/install.sh installs them from
Debian's packages. Missing on CI is a failure; on a developer's machine without apt, a skip that says how to fix."""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is not None:
        return path
    message = f"{name} is not installed: scripts/install.sh installs it from Debian's packages (apt-get)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)

"""`LocalGateway`: run the service (`python -m service`, as `make serve` does) as a child process.

For scripts, trainers and tests on a host that has the service installed (`genrm-serve`); the client itself
never imports it. The gateway runs in `workdir`, where its default `rubrics/` and `.cache/` live.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from genrm_wire.ports import free_port

READY_POLL_S = 0.5


def wait_ready(url: str, timeout_s: float = 900) -> None:
    """Until `/readyz` says every engine is ready (a degraded pool also answers 200, but is not waited for)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=5).json().get("status") == "ready":
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(READY_POLL_S)
    raise TimeoutError(f"{url} not ready after {timeout_s} s")


class LocalGateway:
    """`with LocalGateway(models, workdir=repo) as url:` serves until the block ends.

    `models` is the service's `GENRM_MODELS` list (None: its default, the bundled judge); `checkpoints` are
    directories written by `train`, served under their manifests' names and versions (`GENRM_CHECKPOINTS`;
    without `models` they replace the default). `port` 0 picks a free one.
    """

    def __init__(self, models: list[dict[str, Any]] | None = None, *, workdir: Path,
                 checkpoints: Sequence[Path] = (), port: int = 0, log_level: str = "warning",
                 extra_env: dict[str, str] | None = None, ready_timeout_s: float = 900) -> None:
        self._port = port or free_port()
        self.url = f"http://127.0.0.1:{self._port}"
        self._workdir, self._log_level = workdir, log_level
        self._env = dict(extra_env or {})
        if models is not None:
            self._env["GENRM_MODELS"] = json.dumps(models)
        if checkpoints:
            self._env["GENRM_CHECKPOINTS"] = json.dumps([str(path) for path in checkpoints])
        self._ready_timeout_s = ready_timeout_s
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, **self._env, "GENRM_LOG_LEVEL": self._log_level}
        self._process = subprocess.Popen([sys.executable, "-m", "service", "--port", str(self._port)],
                                         cwd=self._workdir, env=env, start_new_session=True)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            self._process.wait(timeout=60)

    def __enter__(self) -> str:
        self.start()
        try:
            wait_ready(self.url, self._ready_timeout_s)
        except BaseException:
            self.stop()
            raise
        return self.url

    def __exit__(self, *_: object) -> None:
        self.stop()

"""`LocalGateway`: run `python -m service` as a child process (as `make serve` does) for scripts and trainers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


def wait_ready(url: str, timeout_s: float = 900) -> None:
    """Until /readyz says every engine is ready (a degraded pool also answers 200)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=5).json().get("status") == "ready":
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {timeout_s} s")


class LocalGateway:
    """`with LocalGateway(port, models) as url:` serves `models` (GENRM_MODELS) until the block ends."""

    def __init__(self, port: int, models: list[dict[str, Any]], log_level: str = "warning",
                 extra_env: dict[str, str] | None = None) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._port, self._models, self._log_level = port, models, log_level
        self._extra_env = extra_env or {}
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, **self._extra_env, "GENRM_MODELS": json.dumps(self._models),
               "GENRM_LOG_LEVEL": self._log_level}
        self._process = subprocess.Popen([sys.executable, "-m", "service", "--port", str(self._port)], cwd=ROOT,
                                         env=env, start_new_session=True)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            self._process.wait(timeout=60)

    def __enter__(self) -> str:
        self.start()
        try:
            wait_ready(self.url)
        except BaseException:
            self.stop()
            raise
        return self.url

    def __exit__(self, *_: object) -> None:
        self.stop()

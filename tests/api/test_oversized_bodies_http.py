"""An oversized body gets its 413, with the message that names the limit, in every common client, over real HTTP
(uvicorn, the fake engine under the gateway): the project's own client, httpx, requests, urllib, aiohttp (as
OpenRLHF posts) and curl with and without `Expect: 100-continue`. Before the fix, urllib and aiohttp read
`Connection reset` / `Broken pipe`: the gateway answered before reading and closed on the unread body.

The server's cost stays bounded: a body that stops arriving is answered at `discard_deadline_s` with
`Connection: close` (here over a raw socket), and the byte bound is held in tests/unit/test_unread_body.py."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
import requests

from genrm_client import JudgeClient, JudgeRequestError, ScoreItemIn, ScoreRequest
from genrm_client.launcher import free_port, wait_ready
from service.app import create_app
from service.auth.api_keys import hash_key
from service.settings import load_settings
from tests.api.conftest import default_script
from tests.conftest import ROOT
from tests.fakes import FakeVLLMTransport
from tests.integration.conftest import ServerThread

ITEMS = [{"id": str(n), "prompt": "Q?", "response": "x" * 400_000} for n in range(100)]
BODY = json.dumps({"task": "chat", "items": ITEMS}).encode()  # 40 MB, over the default 32 MiB
LIMIT_NAMED = "max_body_bytes"
KEY = "genrm_body-key"
JSON = {"Content-Type": "application/json"}
AUTH = {**JSON, "Authorization": f"Bearer {KEY}"}


def gateway(bundled_model_dir: Path, **settings: Any) -> Iterator[str]:
    port = free_port()
    model = {"name": "fake-judge", "version": "v-body", "model_path": str(bundled_model_dir),
             "engines": [{"kind": "external", "url": "http://fake-vllm:8000"}]}
    key = {"name": "body", "hash": hash_key(KEY), "scopes": ["judge"]}
    app = create_app(load_settings(port=port, rubrics_dir=ROOT / "rubrics", models=[model], api_keys=[key],
                                   **settings), engine_transport=FakeVLLMTransport(default_script))
    with ServerThread(app, port):
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        yield url


@pytest.fixture(scope="module")
def url(bundled_model_dir: Path) -> Iterator[str]:
    yield from gateway(bundled_model_dir)


def assert_names_the_limit(status: int, body: bytes | str) -> None:
    assert status == 413, body[:300]
    error = json.loads(body)["error"]
    assert (error["type"], error["param"]) == ("payload_too_large", "body") and LIMIT_NAMED in error["message"]


def test_the_project_client_reads_the_413(url: str) -> None:
    request = ScoreRequest(task="chat", items=[ScoreItemIn.model_validate(item) for item in ITEMS])
    with JudgeClient(url, api_key=KEY) as judge, pytest.raises(JudgeRequestError) as raised:
        judge.score(request)
    assert (raised.value.status, raised.value.param) == (413, "body") and LIMIT_NAMED in raised.value.message


def test_httpx_reads_the_413(url: str) -> None:
    answer = httpx.post(f"{url}/v1/score", content=BODY, headers=AUTH, timeout=60)
    assert_names_the_limit(answer.status_code, answer.content)


def test_requests_reads_the_413(url: str) -> None:
    answer = requests.post(f"{url}/v1/score", data=BODY, headers=AUTH, timeout=60)
    assert_names_the_limit(answer.status_code, answer.content)


def test_urllib_reads_the_413(url: str) -> None:
    request = urllib.request.Request(f"{url}/v1/score", data=BODY, headers=AUTH)
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=60)
    assert_names_the_limit(raised.value.code, raised.value.read())


def test_aiohttp_reads_the_413(url: str) -> None:
    async def post() -> tuple[int, bytes]:
        async with aiohttp.ClientSession() as session, session.post(f"{url}/v1/score", data=BODY,
                                                                     headers=AUTH) as answer:
            return answer.status, await answer.read()

    assert_names_the_limit(*asyncio.run(post()))


@pytest.mark.parametrize("expect", ["100-continue", ""], ids=["expect-100-continue", "no-expect"])
def test_curl_reads_the_413(url: str, tmp_path: Path, expect: str) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.fail("curl is not installed (scripts/install.sh installs it)")
    body = tmp_path / "body.json"
    body.write_bytes(BODY)
    headers = [arg for name, value in {**AUTH, "Expect": expect}.items() for arg in ("-H", f"{name}: {value}")]
    out = subprocess.run([curl, "-sS", "-o", str(tmp_path / "answer"), "-w", "%{http_code}", *headers,
                          "--data-binary", f"@{body}", f"{url}/v1/score"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert_names_the_limit(int(out.stdout), (tmp_path / "answer").read_bytes())


def test_a_refusal_before_the_body_guard_is_read_too(url: str) -> None:
    """No key: the 401 comes from authentication, before any body check, and urllib still reads it."""
    request = urllib.request.Request(f"{url}/v1/score", data=BODY, headers=JSON)
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=60)
    assert raised.value.code == 401 and json.loads(raised.value.read())["error"]["type"] == "unauthorized"


def test_a_body_that_stops_arriving_is_answered_at_the_deadline_and_closed(bundled_model_dir: Path) -> None:
    for url in gateway(bundled_model_dir, limits={"discard_deadline_s": 1.0}):
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
            raw.sendall(f"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        f"Authorization: Bearer {KEY}\r\nContent-Length: {len(BODY)}\r\n\r\n".encode())
            raw.sendall(BODY[:2 * 2**20])  # and then nothing more: a stalled or malicious client
            answer = b""
            while chunk := raw.recv(65536):  # until the server closes
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413") and b"connection: close" in head.lower()
        assert_names_the_limit(413, body)

"""A real headless Chromium (Debian's package), driven over the DevTools protocol: open a page, collect what
its console and runtime reported, check its images, and take a full-page screenshot."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets

START_TIMEOUT_S = 30.0


@dataclass
class PageVisit:
    errors: list[str] = field(default_factory=list)  # console errors, uncaught exceptions, failed loads
    images: list[dict[str, Any]] = field(default_factory=list)  # alt, complete, natural width and height
    title: str = ""
    screenshot: bytes = b""


async def visit(chromium: str, url: str, width: int = 1100) -> PageVisit:
    with tempfile.TemporaryDirectory() as profile:
        process = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--remote-debugging-port=0", f"--user-data-dir={profile}", f"--window-size={width},900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            port = await _debugging_port(Path(profile), process)
            async with httpx.AsyncClient() as http:
                targets = (await http.get(f"http://127.0.0.1:{port}/json/list")).json()
            page = next(target for target in targets if target["type"] == "page")
            async with websockets.connect(page["webSocketDebuggerUrl"], max_size=64 * 2**20) as socket:
                return await _visit(_Session(socket), url)
        finally:
            process.terminate()
            process.wait(timeout=10)


async def _debugging_port(profile: Path, process: subprocess.Popen[bytes]) -> int:
    announced = profile / "DevToolsActivePort"
    for _ in range(int(START_TIMEOUT_S / 0.1)):
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with {process.returncode} before it listened")
        if announced.exists() and announced.read_text().strip():
            return int(announced.read_text().split()[0])
        await asyncio.sleep(0.1)
    raise TimeoutError("chromium did not open its DevTools port")


class _Session:
    def __init__(self, socket: Any) -> None:
        self.socket, self.ids = socket, itertools.count(1)
        self.events: list[dict[str, Any]] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self.ids)
        await self.socket.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(await self.socket.recv())
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            self.events.append(message)

    async def until(self, event: str) -> None:
        while not any(e.get("method") == event for e in self.events):
            self.events.append(json.loads(await self.socket.recv()))


async def _visit(session: _Session, url: str) -> PageVisit:
    for domain in ("Page", "Runtime", "Log", "Network"):
        await session.call(f"{domain}.enable")
    await session.call("Page.navigate", url=url)
    await asyncio.wait_for(session.until("Page.loadEventFired"), START_TIMEOUT_S)
    probe = ("JSON.stringify({title: document.title, images: Array.from(document.images).map(i => ({alt: i.alt, "
             "complete: i.complete, width: i.naturalWidth, height: i.naturalHeight}))})")
    evaluated = await session.call("Runtime.evaluate", expression=probe, returnByValue=True)
    found = json.loads(evaluated["result"]["value"])
    metrics = await session.call("Page.getLayoutMetrics")
    size = metrics["cssContentSize"]
    shot = await session.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                              clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
    visit = PageVisit(images=found["images"], title=found["title"], screenshot=base64.b64decode(shot["data"]))
    for event in session.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            shown = " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
            visit.errors.append(f"console: {shown}")
        elif method == "Runtime.exceptionThrown":
            visit.errors.append("exception: " + params["exceptionDetails"].get("text", ""))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            visit.errors.append("log: " + params["entry"]["text"])
        elif method == "Network.loadingFailed":
            visit.errors.append("load failed: " + params.get("errorText", ""))
    return visit

"""`FakeBadEngine`: a fake of a broken vLLM server on a real port, for fault tests next to real engines.

Its `mode` can change while it serves: `error` answers completions with 500, `garbage` with a 200 that is not
JSON, `hang` accepts the connection and answers nothing at all (/health included) until it is stopped. In the
first two modes /health answers 200, as a vLLM server with a broken engine core can.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

Mode = Literal["error", "garbage", "hang"]


class FakeBadEngine:
    def __init__(self, mode: Mode = "error") -> None:
        self.mode: Mode = mode
        self.completions = 0
        self._released = threading.Event()
        engine = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                if engine.mode == "hang":
                    engine._released.wait()
                    return
                self._answer(200, b"")

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                self.rfile.read(length)
                engine.completions += 1
                if engine.mode == "hang":
                    engine._released.wait()
                elif engine.mode == "garbage":
                    self._answer(200, b"<html>502 from a proxy in front of the engine</html>")
                else:
                    self._answer(500, b'{"error": "EngineCore died"}')

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeBadEngine:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

"""`JudgeClient`: a small synchronous client for the service's judging API.

It retries 429 and 503 after the `Retry-After` the service sends, up to `max_wait_s` in total, and raises
`JudgeClientError` with the service's error message otherwise.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

DEFAULT_RETRY_AFTER_S = 1.0


class JudgeClientError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class JudgeClient:
    def __init__(self, base_url: str, timeout_s: float = 900, max_wait_s: float = 600) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s)
        self.max_wait_s = max_wait_s

    def __enter__(self) -> JudgeClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def score(self, task: str, items: list[dict[str, Any]], votes: int = 1, **fields: Any) -> dict[str, Any]:
        return self._post("/v1/score", {"task": task, "items": items, "votes": votes, **fields})

    def compare(self, task: str, items: list[dict[str, Any]], votes: int = 1, swap: bool = True,
                **fields: Any) -> dict[str, Any]:
        return self._post("/v1/compare", {"task": task, "items": items, "votes": votes, "swap": swap, **fields})

    def _post(self, route: str, body: dict[str, Any]) -> dict[str, Any]:
        deadline = time.monotonic() + self.max_wait_s
        while True:
            response = self._http.post(route, json=body)
            if response.status_code == 200:
                return dict(response.json())
            retry_after = float(response.headers.get("Retry-After", DEFAULT_RETRY_AFTER_S))
            if response.status_code in (429, 503) and time.monotonic() + retry_after < deadline:
                time.sleep(retry_after)
                continue
            raise JudgeClientError(response.status_code, _message(response))


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:500]

"""The progress line: pairs done of all, rate, time left, failures so far; redrawn in place on a terminal,
printed every few seconds elsewhere (a CI log)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

LOG_EVERY_S = 10.0
BAR_WIDTH = 24


class Progress:
    def __init__(self, total: int, already: int, out: TextIO = sys.stderr) -> None:
        self.total, self.done, self.failures = total, already, 0
        self._already, self._out = already, out
        self._started = time.monotonic()
        self._last_print = 0.0
        self._live = out.isatty()

    def advance(self, failed: bool) -> None:
        self.done += 1
        self.failures += failed
        now = time.monotonic()
        if self._live or now - self._last_print >= LOG_EVERY_S or self.done == self.total:
            self._last_print = now
            self._print(self.line(now))

    def line(self, now: float | None = None) -> str:
        elapsed = max((now or time.monotonic()) - self._started, 1e-9)
        judged = self.done - self._already
        rate = judged / elapsed
        left = self.total - self.done
        eta = f"{_duration(left / rate)}" if rate > 0 and left else ("0 s" if not left else "?")
        filled = BAR_WIDTH * self.done // max(self.total, 1)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        return (f"[{bar}] {self.done}/{self.total} judged · {rate:.2f}/s · ETA {eta} · "
                f"failures {self.failures}")

    def close(self) -> None:
        if self._live:
            self._out.write("\n")
            self._out.flush()

    def _print(self, line: str) -> None:
        self._out.write(("\r" + line + "\033[K") if self._live else line + "\n")
        self._out.flush()


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"

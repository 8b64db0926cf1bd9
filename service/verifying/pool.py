"""`VerifierPool`: the gateway's worker processes for rule verifiers, so a slow or hung check never blocks the
event loop, and each item's time limit holds.

A request's items are cut into chunks; each idle worker takes one, and its results come back item by item.
When an item is not answered within its limit (plus a margin), the worker is killed and replaced: that item
becomes `timeout` and the rest of its chunk goes to the new worker. Workers are spawned (not forked: the gateway
has threads) on first use and live for the gateway's lifetime.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from models.verifiers import Verification, VerifierSpec
from service.verifying.worker import item_limit_s, serve

CHUNK_ITEMS = 64
KILL_MARGIN_S = 1.0
# A new worker imports sympy and math-verify before it answers: its first item gets this much longer.
STARTUP_ALLOWANCE_S = 30.0


class _Worker:
    def __init__(self) -> None:
        self._process: BaseProcess | None = None
        self._connection: Connection | None = None
        self._fresh = True

    def _start(self) -> Connection:
        if self._connection is None:
            context = multiprocessing.get_context("spawn")
            ours, theirs = context.Pipe()
            self._process = context.Process(target=serve, args=(theirs,), daemon=True, name="genrm-verifier")
            self._process.start()
            theirs.close()
            self._connection, self._fresh = ours, True
        return self._connection

    def run(self, spec: VerifierSpec, items: Sequence[tuple[str, str]]) -> list[Verification]:
        """Blocking: every item's verification, in order (run in a thread)."""
        results: list[Verification] = []
        while len(results) < len(items):
            connection = self._start()
            pending = list(items[len(results):])
            connection.send((spec, pending))
            for _ in pending:
                allowance = item_limit_s(spec) + KILL_MARGIN_S + (STARTUP_ALLOWANCE_S if self._fresh else 0.0)
                if not connection.poll(allowance):
                    self.stop()
                    results.append(Verification("timeout", detail=f"the check took over {spec.timeout_s:g} s "
                                                "and its worker was killed"))
                    break
                try:
                    results.append(connection.recv())
                except (EOFError, OSError):  # the worker died (out of memory, killed from outside)
                    self.stop()
                    results.append(Verification("error", detail="the verifier's worker process died on this item"))
                    break
                self._fresh = False
        return results

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(5)
        if self._connection is not None:
            self._connection.close()
        self._process, self._connection = None, None


class VerifierPool:
    def __init__(self, workers: int) -> None:
        self._workers = [_Worker() for _ in range(max(1, workers))]
        self._idle: asyncio.Queue[_Worker] | None = None

    def _queue(self) -> asyncio.Queue[_Worker]:
        if self._idle is None:  # made on the event loop that first uses it
            self._idle = asyncio.Queue()
            for worker in self._workers:
                self._idle.put_nowait(worker)
        return self._idle

    async def verify(self, spec: VerifierSpec, items: Sequence[tuple[str, str]]) -> list[Verification]:
        """Each (response, reference)'s verification, in order; the chunks run on the workers in parallel."""
        chunks = [items[start:start + CHUNK_ITEMS] for start in range(0, len(items), CHUNK_ITEMS)]
        answered = await asyncio.gather(*(self._run_chunk(spec, chunk) for chunk in chunks))
        return [result for chunk in answered for result in chunk]

    async def _run_chunk(self, spec: VerifierSpec, chunk: Sequence[tuple[str, str]]) -> list[Verification]:
        idle = self._queue()
        worker = await idle.get()
        try:
            return await asyncio.to_thread(worker.run, spec, chunk)
        finally:
            idle.put_nowait(worker)

    def close(self) -> None:
        for worker in self._workers:
            worker.stop()

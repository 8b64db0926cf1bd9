"""Judge every pair not yet in the log, `concurrency` requests at a time, appending each result as it arrives.

The client waits out 429/503 answers for as long as their `Retry-After` says (up to its `max_wait_s`), so a
busy service slows the eval down rather than failing it. A pair the service refuses (a text over its limits)
or fails on is recorded as failed, with the reason, and judged again by the next run. A mistake that would fail
every pair (votes over the service's limit, an unknown model) or a service that went away stops the run:
`EvalAborted`, with everything judged so far kept.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from evaluation.pair_judging import JudgeSettings, failed, judge
from evaluation.pairs import Pair
from evaluation.progress import Progress
from evaluation.results import ItemResult, Mode, ResultLog
from genrm_client import AsyncJudgeClient, JudgeClientError, JudgeRequestError


class EvalAborted(RuntimeError):
    """The run cannot go on; the message says why and what to change."""


@dataclass
class RunCounts:
    judged: int = 0
    failed: int = 0
    already_done: int = 0


def pending(pairs: list[Pair], modes: list[Mode], done: dict[tuple[str, Mode], ItemResult]) -> list[tuple[Pair, Mode]]:
    """What is left to judge: every pair in every mode, except those with an `ok` record."""
    return [(pair, mode) for mode in modes for pair in pairs
            if (record := done.get((pair.id, mode))) is None or record.status != "ok"]


async def run_eval(client: AsyncJudgeClient, pairs: list[Pair], modes: list[Mode], settings: JudgeSettings,
                   log: ResultLog, *, concurrency: int, progress: Progress | None = None) -> RunCounts:
    done = log.read()
    jobs = pending(pairs, modes, done)
    counts = RunCounts(already_done=len(pairs) * len(modes) - len(jobs))
    progress = progress or Progress(total=len(pairs) * len(modes), already=counts.already_done)
    queue: asyncio.Queue[tuple[Pair, Mode]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)

    async def worker() -> None:
        while not queue.empty():
            pair, mode = queue.get_nowait()
            record = await _judge_one(client, pair, mode, settings)
            log.append(record)
            counts.judged += 1
            counts.failed += record.status != "ok"
            progress.advance(failed=record.status != "ok")

    try:
        async with asyncio.TaskGroup() as workers:
            for _ in range(min(concurrency, len(jobs))):
                workers.create_task(worker())
    except* EvalAborted as aborted:
        raise aborted.exceptions[0] from None
    finally:
        progress.close()
    return counts


async def _judge_one(client: AsyncJudgeClient, pair: Pair, mode: Mode, settings: JudgeSettings) -> ItemResult:
    try:
        return await judge(client, pair, mode, settings)
    except JudgeRequestError as error:
        if error.status in (401, 403):
            raise EvalAborted(f"the service refused the key: {error.message} (pass --api-key or set "
                              "$GENRM_API_KEY)") from error
        if error.param is not None and not error.param.startswith("items"):
            raise EvalAborted(f"the service refused the run's settings ({error.param}): {error.message}") from error
        return failed(pair, mode, str(error))
    except JudgeClientError as error:
        return failed(pair, mode, str(error))
    except httpx.TransportError as error:
        raise EvalAborted(f"lost the service ({type(error).__name__}: {error}); rerun the same command to go on "
                          "once it is back") from error

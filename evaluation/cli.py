"""`genrm eval`: judge preference pairs through the service and write the report.

    genrm eval DATA... --out DIR [--url URL] [--mode both] [--votes 1,4] [--concurrency 4] [--limit N] [--strict]
    genrm eval compare RUN_A RUN_B [--votes K] [--out DIR]
    genrm eval report DIR          (rewrite summary and report from DIR/results.jsonl, judging nothing)
    genrm eval steps DATA --out DIR [--strategy prefix,list]   (a step judge on labelled solutions)
    genrm eval trajectories DATA --out DIR [--view trace]     (a trajectory judge on labelled traces)

Without `--url` the embedded default (the bundled judge, as `make serve` runs it) is started for the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from evaluation import compare, markdown, report, rewardbench2_cli, steps_cli, trajectory_eval
from evaluation.loaders import FORMATS, TASKS, load
from evaluation.pair_judging import JudgeSettings
from evaluation.pairs import Pair
from evaluation.results import (
    MODES,
    Mode,
    ResultLog,
    RunConfig,
    RunFile,
    new_session,
    read_results,
    read_run,
    write_run,
)
from evaluation.runner import EvalAborted, run_eval
from evaluation.summary import SUMMARY_FILE, summarize
from genrm_client import AsyncJudgeClient, LocalGateway
from genrm_wire.preference_split import SPLITS, Split, in_split

USAGE_ERROR, INTERRUPTED = 2, 130


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "eval":
        print("usage: genrm eval DATA... --out DIR | genrm eval compare RUN_A RUN_B | genrm eval report DIR | "
              "genrm eval steps|trajectories|rewardbench2 DATA --out DIR (genrm eval --help)", file=sys.stderr)
        return USAGE_ERROR
    if args[1:2] == ["compare"]:
        return _compare(args[2:])
    if args[1:2] == ["report"]:
        return _report(args[2:])
    if args[1:2] == ["steps"]:
        return steps_cli.main(args[2:])
    if args[1:2] == ["trajectories"]:
        return trajectory_eval.main(args[2:])
    if args[1:2] == ["rewardbench2"]:
        return rewardbench2_cli.main(args[2:])
    return _eval(args[1:])


def _eval_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genrm eval", description="Judge preference pairs through the service "
                                     "and report accuracy, position bias, test-time scaling and cost.")
    parser.add_argument("data", nargs="+", type=Path, help="JSON Lines or JSON files of pairs")
    parser.add_argument("--out", type=Path, required=True, help="run directory (a rerun goes on where it stopped)")
    parser.add_argument("--url", help="the service; omitted: start the embedded default for this run")
    parser.add_argument("--api-key", default=os.environ.get("GENRM_API_KEY"), help="default: $GENRM_API_KEY")
    parser.add_argument("--mode", choices=("pointwise", "pairwise", "both"), default="both")
    parser.add_argument("--votes", type=_vote_counts, default=[1, 4],
                        help="vote counts to evaluate, e.g. 1,2,4,8 (judged once, at the largest)")
    parser.add_argument("--verdict", choices=("sampled", "expected", "direct"), default="sampled",
                        help="how a verdict is read: as written (sampled), as the judge's expected verdict after its "
                        "reasoning (expected), or with no reasoning (direct: --votes is moot)")
    parser.add_argument("--format", choices=("auto", *FORMATS), default="auto", dest="data_format")
    parser.add_argument("--task", choices=TASKS, help="rubric domain for every pair (default: from the data)")
    parser.add_argument("--model", help="judge model name (default: the service's default)")
    parser.add_argument("--max-tokens", type=int, help="tokens per judgment (default: the model's setting)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed; also which response is shown as A")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight (default 4)")
    parser.add_argument("--split", choices=SPLITS, default="all", help="judge only the pairs held out from training "
                        "(heldout) or those training may use (train); the rule: client/genrm_wire/preference_split.py")
    parser.add_argument("--limit", type=int, help="judge only the first N pairs")
    parser.add_argument("--sample", type=int, help="judge N pairs drawn at random (by --seed), in file order")
    parser.add_argument("--strict", action="store_true", help="stop on a malformed row instead of skipping it")
    parser.add_argument("--max-wait-s", type=float, default=600.0,
                        help="how long to wait out 429/503 answers for one request (default 600)")
    parser.add_argument("--workdir", type=Path, default=Path.cwd(),
                        help="where the embedded service runs (its rubrics/ and .cache/); default: here")
    return parser


def select(pairs: list[Pair], *, limit: int | None, sample: int | None, seed: int, split: Split = "all") -> list[Pair]:
    """The pairs of `split` (genrm_wire.preference_split), then the first `limit` of them, or `sample` drawn with
    `seed` (the same draw on every rerun)."""
    pairs = [pair for pair in pairs if in_split(row_id(pair), split)]
    if sample is not None and sample < len(pairs):
        chosen = sorted(random.Random(seed).sample(range(len(pairs)), sample))
        pairs = [pairs[index] for index in chosen]
    return pairs[:limit] if limit else pairs


def row_id(pair: Pair) -> str:
    """The id the data file gives the pair's row (a pair's id is `file-stem/row-id`): what training reads too."""
    return pair.id.partition("/")[2] or pair.id


def _vote_counts(text: str) -> list[int]:
    try:
        counts = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give vote counts as integers, e.g. 1,2,4,8") from None
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: vote counts must be 1 or more")
    return counts


def _eval(argv: list[str]) -> int:
    args = _eval_parser().parse_args(argv)
    missing = [str(path) for path in args.data if not path.is_file()]
    if missing:
        print(f"genrm eval: no such file: {', '.join(missing)}", file=sys.stderr)
        return USAGE_ERROR
    loaded = load(args.data, data_format=args.data_format, task=args.task)
    for problem in loaded.problems:
        print(f"{'error' if args.strict else 'skipped'}: {problem}", file=sys.stderr)
    if loaded.problems and args.strict:
        print(f"genrm eval: {len(loaded.problems)} malformed rows (--strict); fix them or drop --strict to skip "
              "them", file=sys.stderr)
        return USAGE_ERROR
    pairs = select(loaded.pairs, limit=args.limit, sample=args.sample, seed=args.seed, split=args.split)
    if not pairs:
        print("genrm eval: no pairs to judge", file=sys.stderr)
        return USAGE_ERROR
    modes: list[Mode] = list(MODES) if args.mode == "both" else [args.mode]
    config = RunConfig(votes=args.votes, seed=args.seed, model=args.model, max_tokens=args.max_tokens, task=args.task,
                       verdict=args.verdict, split=args.split)
    previous = read_run(args.out)
    if previous is not None and previous.config != config:
        print(f"genrm eval: {args.out} holds a run with {previous.config.model_dump()}; this one asks for "
              f"{config.model_dump()}. Use another --out, or the same settings to go on.", file=sys.stderr)
        return USAGE_ERROR
    print(f"genrm eval: {len(pairs)} pairs x {len(modes)} mode(s) at {max(args.votes)} votes"
          + (f"; {len(loaded.problems)} malformed rows skipped" if loaded.problems else ""), file=sys.stderr)
    with ExitStack() as stack:
        url = args.url
        if url is None:
            print("genrm eval: starting the embedded judge (first start converts the bundled model; minutes)",
                  file=sys.stderr)
            url = stack.enter_context(LocalGateway(workdir=args.workdir))
        run = previous or RunFile(config=config, url=url, data=[str(path) for path in args.data])
        run.url = url
        run.data = sorted({*run.data, *(str(path) for path in args.data)})
        status = _judge(args, run, pairs, modes)
    _write_outputs(args.out, run)
    return status


def _judge(args: argparse.Namespace, run: RunFile, pairs: list[Pair], modes: list[Mode]) -> int:
    settings = JudgeSettings(votes=max(args.votes), seed=args.seed, model=args.model, max_tokens=args.max_tokens,
                             verdict=args.verdict)
    session = new_session()
    run.sessions.append(session)
    started = time.monotonic()

    async def judge_all() -> int:
        main_task = asyncio.current_task()
        assert main_task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)  # stop as Ctrl-C does
        async with AsyncJudgeClient(run.url, api_key=args.api_key, max_wait_s=args.max_wait_s) as client:
            counts = await run_eval(client, pairs, modes, settings, ResultLog(args.out),
                                    concurrency=args.concurrency)
        session.judged = counts.judged
        if counts.already_done:
            print(f"genrm eval: {counts.already_done} already judged in {args.out}; judged {counts.judged} more",
                  file=sys.stderr)
        if counts.failed:
            print(f"genrm eval: {counts.failed} pairs failed (see results.jsonl); a rerun judges them again",
                  file=sys.stderr)
        return 0

    try:
        return asyncio.run(judge_all())
    except (KeyboardInterrupt, asyncio.CancelledError):
        session.interrupted = True
        print(f"\ngenrm eval: interrupted; everything judged so far is in {args.out / 'results.jsonl'}. Run the "
              "same command to go on.", file=sys.stderr)
        return INTERRUPTED
    except EvalAborted as aborted:
        session.interrupted = True
        print(f"genrm eval: stopped: {aborted}", file=sys.stderr)
        return 1
    finally:
        session.wall_s = round(time.monotonic() - started, 2)
        write_run(args.out, run)


def _write_outputs(directory: Path, run: RunFile) -> None:
    results = read_results(directory)
    if not results:
        return
    summary = summarize(results, run)
    (directory / SUMMARY_FILE).write_text(summary.to_json() + "\n", encoding="utf-8")
    table = markdown.render(summary)
    (directory / "summary.md").write_text(table, encoding="utf-8")
    (directory / report.REPORT_FILE).write_text(report.render(summary), encoding="utf-8")
    print(table)
    print(f"genrm eval: wrote {directory / SUMMARY_FILE}, summary.md and {report.REPORT_FILE}", file=sys.stderr)


def _report(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="genrm eval report", description="Rewrite a run's summary and report.")
    parser.add_argument("run", type=Path)
    args = parser.parse_args(argv)
    run = read_run(args.run)
    if run is None:
        print(f"genrm eval report: {args.run} has no run.json: is it the --out of a `genrm eval` run?",
              file=sys.stderr)
        return USAGE_ERROR
    _write_outputs(args.run, run)
    return 0


def _compare(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="genrm eval compare",
                                     description="Two runs on the same pairs, with a paired test of the difference.")
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    parser.add_argument("--votes", type=int, help="compare at this vote count (default: the smaller run's largest)")
    parser.add_argument("--out", type=Path, help="also write compare.json and compare.md here")
    args = parser.parse_args(argv)
    try:
        compared = compare.compare_runs(args.run_a, args.run_b, args.votes)
    except FileNotFoundError as missing:
        print(f"genrm eval compare: {missing}", file=sys.stderr)
        return USAGE_ERROR
    table = compare.render(compared)
    print(table)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "compare.json").write_text(json.dumps(compared, indent=2) + "\n", encoding="utf-8")
        (args.out / "compare.md").write_text(table, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

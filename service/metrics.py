"""Every metric the service exports. Names are a public API: `genrm_` prefix, unit suffixes, bounded labels.

Each app gets its own registry, so several apps (tests, several gateways in one process) never collide.
`declare_model` creates every bounded label set of a model at 0 when it is registered, so a dashboard or an alert
reads 0, not "no data", for what has not happened yet (no rejection, no restart, no parse failure).

The judge-integrity metrics (`genrm_pairwise_votes_total`, `genrm_compared_items_total`, `genrm_pointwise_score`,
`genrm_pointwise_vote_spread`, `genrm_length_budget_hits_total`, and the reward-hacking flags `genrm_flags_total`,
`genrm_screened_responses_total`, `genrm_flagged_items_total`) carry model, version and task; task is one of the
rubric library's domains, or `other` for a request that brings its own rubrics.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320)
SCORE_BUCKETS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
SPREAD_BUCKETS = (0, 0.25, 0.5, 1, 1.5, 2, 3, 4, 5)
JUDGING_ROUTES = ("/v1/score", "/v1/compare", "/v1/groups", "/v1/steps", "/v1/trajectories")
JOB_ROUTES = ("score", "compare", "groups", "steps", "trajectories")
JOB_ENDS = ("succeeded", "failed", "cancelled")
ITEM_STATUSES = ("ok", "parse_failed", "too_long", "engine_error", "timeout", "flagged", "verifier_error")
FLAG_ACTIONS = ("reported", "penalized", "masked")
REJECTION_REASONS = ("no_engine", "overloaded", "fair_share")
AUTH_REFUSALS = ("missing", "invalid", "scope")
VERIFIERS = ("math", "exact", "normalized", "choice", "regex", "json_schema", "code")
VERIFIER_VERDICTS = ("correct", "incorrect", "no_answer", "ambiguous", "timeout", "error")
DISAGREEMENTS = ("judge_accepts", "judge_rejects")


def _tasks_alive() -> float:
    """Read when /metrics is rendered, on the event loop's thread; NaN from anywhere else."""
    try:
        return float(len(asyncio.all_tasks()))
    except RuntimeError:
        return float("nan")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)  # process_resident_memory_bytes, process_open_fds, ...: leaks show here
        self.event_loop_tasks = Gauge("genrm_event_loop_tasks", "asyncio tasks alive in the gateway's event loop "
                                      "(a leak grows it).", registry=r)
        self.event_loop_tasks.set_function(_tasks_alive)
        self.http_requests = Counter(
            "genrm_http_requests_total", "HTTP requests by route and status class.",
            ["route", "status_class"], registry=r,
        )
        self.http_latency = Histogram(
            "genrm_http_request_duration_seconds", "HTTP request latency by route.",
            ["route"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.jobs = Counter("genrm_jobs_total", "Jobs (POST /v1/jobs) by route and how they ended.", ["route", "state"],
                            registry=r)
        self.jobs_active = Gauge("genrm_jobs_active", "Jobs queued or running in this gateway (lost if it restarts).",
                                 registry=r)
        self.items = Counter(
            "genrm_items_total", "Judged items by route and item status.", ["route", "status"], registry=r,
        )
        self.judgments = Counter(
            "genrm_judgments_total", "Judge completions by model, format and outcome (parsed or not).",
            ["model", "format", "outcome"], registry=r,
        )
        self.parse_failures = Counter(
            "genrm_parse_failures_total", "Completions that are not a verdict, by failure category.",
            ["model", "format", "category"], registry=r,
        )
        self.engine_latency = Histogram(
            "genrm_engine_request_duration_seconds", "Latency of one engine request (all its samples).",
            ["model", "engine"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.engine_in_flight = Gauge(
            "genrm_engine_in_flight_requests", "Engine requests in flight, per engine.", ["model", "engine"],
            registry=r,
        )
        self.engine_retries = Counter(
            "genrm_engine_retries_total", "Engine requests retried elsewhere after this engine failed.",
            ["model", "engine"], registry=r,
        )
        self.admitted = Gauge(
            "genrm_admitted_engine_requests", "Engine requests admitted and not yet finished (queued + in flight).",
            ["model"], registry=r,
        )
        self.queue_depth = Gauge(
            "genrm_queue_depth_requests", "Engine requests waiting for an engine slot.", ["model"], registry=r,
        )
        self.rejected = Counter(
            "genrm_rejected_requests_total", "HTTP requests refused by admission control, by reason.",
            ["model", "reason"], registry=r,
        )
        self.auth_refusals = Counter(
            "genrm_auth_refusals_total", "Requests refused for their API key: missing, invalid, or lacking the scope.",
            ["reason"], registry=r,
        )
        self.rate_limited = Counter(
            "genrm_rate_limited_requests_total", "Requests refused (429) by their key's rate limit.", ["key"],
            registry=r,
        )
        self.key_judgments = Counter(
            "genrm_key_judgments_total", "Judgments admitted (items × votes × orders), by API key name.", ["key"],
            registry=r,
        )
        self.rubric_reloads = Counter(
            "genrm_rubric_reloads_total", "Rubric library reloads, by result (loaded or refused).", ["result"],
            registry=r,
        )
        self.cancelled = Counter(
            "genrm_cancelled_requests_total", "HTTP requests whose client disconnected; their work was cancelled.",
            ["route"], registry=r,
        )
        self.votes_used = Histogram(
            "genrm_votes_used", "Parsed votes behind each judged item.", ["route"],
            buckets=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32), registry=r,
        )
        self.cache_lookups = Counter(
            "genrm_cache_lookups_total", "Judgment-cache lookups by result (hit|miss).", ["route", "result"],
            registry=r,
        )
        self.cache_shared_hits = Counter(
            "genrm_cache_shared_hits_total", "Cache hits that another replica stored (in the shared Redis); each is "
            "also a hit in genrm_cache_lookups_total.", ["route"], registry=r,
        )
        self.shared_state_up = Gauge(
            "genrm_shared_state_up", "1 while the shared Redis answers (or none is configured), 0 while this replica "
            "falls back to its own cache and rate limits.", registry=r,
        )
        self.shared_state_up.set(1)
        self.shared_state_operations = Counter(
            "genrm_shared_state_operations_total", "Calls to the shared Redis by operation and result (ok, error, "
            "skipped: not tried while it is away).", ["operation", "result"], registry=r,
        )
        self.deduplicated = Counter(
            "genrm_deduplicated_items_total", "Items answered by an identical item's judgment in the same batch.",
            ["route"], registry=r,
        )
        self.engine_requests = Counter(
            "genrm_engine_requests_total", "Engine requests by model and outcome.", ["model", "outcome"],
            registry=r,
        )
        self.tokens = Counter(
            "genrm_tokens_total", "Tokens processed by the engines, by model and kind (prompt|completion).",
            ["model", "kind"], registry=r,
        )
        self.engine_up = Gauge(
            "genrm_engine_up", "1 when the engine is in rotation (healthy and ready).", ["model", "engine"],
            registry=r,
        )
        self.failed_rewards = Counter(
            "genrm_failed_rewards_total", "Rewards whose judgment failed, by route, failure policy (mask|neutral|"
            "retry|error), item status and how the reward was filled (masked|neutral|raised).",
            ["route", "policy", "status", "filled"], registry=r,
        )
        self.retried_items = Counter(
            "genrm_retried_items_total", "Failed items judged again under the retry policy, by result "
            "(recovered|failed).", ["route", "result"], registry=r,
        )
        self.engine_restarts = Counter(
            "genrm_engine_restarts_total", "Managed engine restarts after the process died.", ["model", "engine"],
            registry=r,
        )
        self.model_info = Gauge(
            "genrm_model_info", "1 per served judge model; join on `model` for its version.",
            ["model", "version", "constrained"], registry=r,
        )
        self.votes = Counter(
            "genrm_votes_total", "Votes per judged item, requested vs drawn (adaptive voting stops early: the "
            "difference is its saving).", ["route", "kind"], registry=r,
        )
        self.pairwise_votes = Counter(
            "genrm_pairwise_votes_total", "Parsed pairwise votes by the position of the winner as shown to the "
            "judge (first|second); an unbiased judge under position swap gives each 0.5.",
            ["model", "version", "task", "position"], registry=r,
        )
        self.compared_items = Counter(
            "genrm_compared_items_total", "Items judged in both orders, by whether the orders agree on the winner "
            "(consistent: true|false).", ["model", "version", "task", "consistent"], registry=r,
        )
        self.pointwise_score = Histogram(
            "genrm_pointwise_score", "Aggregated pointwise score (0..10) of each judged item.",
            ["model", "version", "task"], buckets=SCORE_BUCKETS, registry=r,
        )
        self.pointwise_vote_spread = Histogram(
            "genrm_pointwise_vote_spread", "Spread (standard deviation) of the votes behind each pointwise item.",
            ["model", "version", "task"], buckets=SPREAD_BUCKETS, registry=r,
        )
        self.verdict_readings = Counter(
            "genrm_verdict_readings_total", "Probability verdicts read from the engine's top log-probabilities, by "
            "result (ok|unreadable: no allowed verdict among the top tokens).", ["model", "result"], registry=r,
        )
        self.forced_endings = Counter(
            "genrm_forced_endings_total", "Judgments that ran out of budget and got a forced ending (closing tags, "
            "missing sections, the answer), by whether it then parsed (verdict|parse_failure).",
            ["model", "version", "format", "result"], registry=r,
        )
        self.flags = Counter(
            "genrm_flags_total", "Reward-hacking flags on responses under evaluation, by kind (each distinct "
            "response of a request once): a policy that starts forging verdicts shows here.",
            ["model", "version", "task", "kind"], registry=r,
        )
        self.screened_responses = Counter(
            "genrm_screened_responses_total", "Distinct responses the flag detector read (per request): the "
            "denominator of genrm_flags_total.", ["model", "version", "task"], registry=r,
        )
        self.flagged_items = Counter(
            "genrm_flagged_items_total", "Flagged items by what the request's flag policy did "
            "(reported|penalized|masked).", ["model", "version", "task", "action"], registry=r,
        )
        self.length_budget_hits = Counter(
            "genrm_length_budget_hits_total", "Judge completions stopped by the token budget (finish_reason "
            "length); divide by genrm_judgments_total for the share.", ["model", "version", "format"], registry=r,
        )
        self.verifier_verdicts = Counter(
            "genrm_verifier_verdicts_total", "Rule verifiers' verdicts by verifier (timeouts included: verdict "
            "timeout).", ["verifier", "verdict"], registry=r,
        )
        self.verifier_escalations = Counter(
            "genrm_verifier_escalations_total", "Items a verifier handed to the judge (verify_then_judge), by the "
            "verdict that escalated them.", ["verifier", "verdict"], registry=r,
        )
        self.verifier_disagreements = Counter(
            "genrm_verifier_disagreements_total", "Items both the verifier and the judge decided, and decided "
            "differently: the judge accepted what the verifier rejected, or the reverse.", ["verifier", "direction"],
            registry=r,
        )
        self.verifier_seconds = Histogram(
            "genrm_verifier_seconds", "Wall time of one request's verification (all its items).", ["verifier"],
            buckets=LATENCY_BUCKETS, registry=r,
        )

    def declare_model(self, name: str, version: str, constrained: bool, formats: Sequence[str],
                      engines: Sequence[str], failure_categories: Sequence[str], tasks: Sequence[str],
                      flag_kinds: Sequence[str]) -> None:
        """Every bounded series of one model, at 0 (or its value), before any traffic."""
        self.model_info.labels(name, version, str(constrained).lower()).set(1)
        for task in tasks:
            self.screened_responses.labels(name, version, task)
            for kind in flag_kinds:
                self.flags.labels(name, version, task, kind)
            for action in FLAG_ACTIONS:
                self.flagged_items.labels(name, version, task, action)
        for reason in REJECTION_REASONS:
            self.rejected.labels(name, reason)
        for engine in engines:
            for metric in (self.engine_retries, self.engine_restarts):
                metric.labels(name, engine)
            self.engine_in_flight.labels(name, engine)
        for outcome in ("ok", "error", "timeout"):
            self.engine_requests.labels(name, outcome)
        for format_name in formats:
            self.length_budget_hits.labels(name, version, format_name)
            for result in ("verdict", "parse_failure"):
                self.forced_endings.labels(name, version, format_name, result)
            for judged in ("ok", "parse_failure"):
                self.judgments.labels(name, format_name, judged)
            for category in failure_categories:
                self.parse_failures.labels(name, format_name, category)
        self.queue_depth.labels(name)
        self.admitted.labels(name)

    def declare_keys(self, names: Sequence[str]) -> None:
        for reason in AUTH_REFUSALS:
            self.auth_refusals.labels(reason)
        for result in ("loaded", "refused"):
            self.rubric_reloads.labels(result)
        for name in names:
            self.rate_limited.labels(name)
            self.key_judgments.labels(name)

    def declare_verifiers(self) -> None:
        for verifier in VERIFIERS:
            self.verifier_seconds.labels(verifier)
            for verdict in VERIFIER_VERDICTS:
                self.verifier_verdicts.labels(verifier, verdict)
                self.verifier_escalations.labels(verifier, verdict)
            for direction in DISAGREEMENTS:
                self.verifier_disagreements.labels(verifier, direction)

    def declare_shared_state(self, operations: Sequence[str]) -> None:
        for operation in operations:
            for result in ("ok", "error", "skipped"):
                self.shared_state_operations.labels(operation, result)

    def declare_routes(self) -> None:
        for job_route in JOB_ROUTES:
            for end in JOB_ENDS:
                self.jobs.labels(job_route, end)
        for route in JUDGING_ROUTES:
            for status in ITEM_STATUSES:
                self.items.labels(route, status)
            for result in ("hit", "miss"):
                self.cache_lookups.labels(route, result)
            for kind in ("requested", "drawn"):
                self.votes.labels(route, kind)

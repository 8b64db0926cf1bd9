"""Every metric the service exports. Names are a public API: `genrm_` prefix, unit suffixes, bounded labels.

Each app gets its own registry, so several apps (tests, several gateways in one process) never collide.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "genrm_http_requests_total", "HTTP requests by route and status class.",
            ["route", "status_class"], registry=r,
        )
        self.http_latency = Histogram(
            "genrm_http_request_duration_seconds", "HTTP request latency by route.",
            ["route"], buckets=LATENCY_BUCKETS, registry=r,
        )
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

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
            ["model"], buckets=LATENCY_BUCKETS, registry=r,
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
            "genrm_engine_up", "1 when the model's engine answers its health check.", ["model"], registry=r,
        )
        self.engine_restarts = Counter(
            "genrm_engine_restarts_total", "Managed engine restarts after the process died.", ["model"],
            registry=r,
        )

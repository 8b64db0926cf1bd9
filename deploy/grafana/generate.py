"""The Grafana dashboards, as code (grafanalib). `python deploy/grafana/generate.py` writes them to
deploy/grafana/dashboards/*.json, which Grafana loads through deploy/grafana/provisioning; a test fails when the
JSON and this file disagree, and another runs every panel's query on a real Prometheus.

Every panel filters on the `model` and `version` variables. A judge-integrity panel draws its expected value as a
second series (`expected: 0.5`), so drift is visible without reading numbers.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from grafanalib._gen import DashboardEncoder
from grafanalib.core import (
    Dashboard,
    GridPos,
    RowPanel,
    Target,
    Template,
    Templating,
    Time,
    TimeSeries,
)

from genrm_wire import DEFAULT_ACTED_FLAGS

DATASOURCE = {"type": "prometheus", "uid": "genrm-prometheus"}  # provisioning/datasources/prometheus.yml
OUT = Path(__file__).parent / "dashboards"
MODEL = 'model=~"$model"'
MODEL_VERSION = 'model=~"$model", version=~"$version"'
RATE = "$__rate_interval"
# The flag kinds `on_flag: penalize|mask` act on by default, as a label regex.
ACTED_FLAGS = "|".join(DEFAULT_ACTED_FLAGS)
PANEL_HEIGHT = 8


@dataclass(frozen=True)
class Panel:
    title: str
    description: str
    queries: Sequence[tuple[str, str]]  # (PromQL, legend)
    unit: str = "short"
    width: int = 12


@dataclass(frozen=True)
class Row:
    title: str
    panels: Sequence[Panel]


def quantiles(metric: str, selector: str, by: str, legend: str) -> list[tuple[str, str]]:
    return [
        (f"histogram_quantile({q}, sum by (le, {by}) (rate({metric}_bucket{{{selector}}}[{RATE}])))",
         f"p{round(q * 100)} {legend}")
        for q in (0.5, 0.95, 0.99)
    ]


def ratio(numerator: str, denominator: str, by: str) -> str:
    """numerator / denominator, per `by`; 0 (not "no data") where the numerator's series has not appeared yet,
    e.g. no consistent item at all."""
    total = f"sum by ({by}) (rate({denominator}[{RATE}]))"
    return f"(sum by ({by}) (rate({numerator}[{RATE}])) or 0 * {total}) / {total}"


def expected(value: float) -> tuple[str, str]:
    return (f"vector({value})", f"expected: {value}")


OVERVIEW = [
    Row("Traffic", [
        Panel("Requests per second by route", "Every HTTP request the gateway answered.",
              [(f"sum by (route) (rate(genrm_http_requests_total[{RATE}]))", "{{route}}")], "reqps"),
        Panel("Errors by status class", "4xx: the caller's request (429: overload); 5xx: the service.",
              [(f'sum by (status_class) (rate(genrm_http_requests_total{{status_class=~"4xx|5xx"}}[{RATE}]))',
                "{{status_class}}")], "reqps"),
        Panel("Latency per route", "p50 / p95 / p99 of whole HTTP requests.",
              quantiles("genrm_http_request_duration_seconds", 'route=~"/v1/.+"', "route", "{{route}}"), "s", 24),
        Panel("Items by status", "ok / parse_failed / too_long / engine_error / timeout, per route.",
              [(f"sum by (route, status) (rate(genrm_items_total[{RATE}]))", "{{route}} {{status}}")], "short"),
        Panel("Judgment-cache hit ratio", "Items answered from the cache of seeded judgments.",
              [(ratio('genrm_cache_lookups_total{result="hit"}', "genrm_cache_lookups_total", "route"),
                "{{route}}")], "percentunit"),
    ]),
    Row("Admission and engines", [
        Panel("Queue depth", "Engine requests waiting for an engine slot, and all admitted ones.",
              [(f"sum by (model) (genrm_queue_depth_requests{{{MODEL}}})", "waiting {{model}}"),
               (f"sum by (model) (genrm_admitted_engine_requests{{{MODEL}}})", "admitted {{model}}")]),
        Panel("Admission rejections", "Requests refused before any work: overloaded (429) or no engine (503).",
              [(f"sum by (model, reason) (rate(genrm_rejected_requests_total{{{MODEL}}}[{RATE}]))",
                "{{model}} {{reason}}")], "reqps"),
        Panel("Engines up / in flight", "Engines in rotation, and engine requests running on each.",
              [(f"sum by (model) (genrm_engine_up{{{MODEL}}})", "up {{model}}"),
               (f"sum by (engine) (genrm_engine_in_flight_requests{{{MODEL}}})", "in flight {{engine}}")]),
        Panel("Engine restarts and retries", "Managed engines restarted; engine requests retried elsewhere.",
              [(f"sum by (engine) (increase(genrm_engine_restarts_total{{{MODEL}}}[{RATE}]))", "restarts {{engine}}"),
               (f"sum by (engine) (increase(genrm_engine_retries_total{{{MODEL}}}[{RATE}]))", "retries {{engine}}")]),
        Panel("Engine request latency", "One engine request (all its samples), p50 / p95 / p99.",
              quantiles("genrm_engine_request_duration_seconds", MODEL, "model", "{{model}}"), "s"),
        Panel("Tokens per second", "Prompt and completion tokens the engines processed for the gateway.",
              [(f"sum by (model, kind) (rate(genrm_tokens_total{{{MODEL}}}[{RATE}]))", "{{model}} {{kind}}")]),
    ]),
    Row("Votes", [
        Panel("Votes per item", "Parsed votes behind each judged item (p50 / p95).",
              quantiles("genrm_votes_used", 'route=~".+"', "route", "{{route}}")[:2]),
        Panel("Adaptive-voting saving", "Share of requested votes never drawn because the votes agreed early.",
              [(f'1 - sum by (route) (rate(genrm_votes_total{{kind="drawn"}}[{RATE}])) / sum by (route) '
                f'(rate(genrm_votes_total{{kind="requested"}}[{RATE}]))', "{{route}}")], "percentunit"),
    ]),
]

ENGINES = [
    Row("vLLM engines (their own metrics)", [
        Panel("Prompt and generation tokens per second", "vLLM's token counters, per engine.",
              [(f"sum by (engine) (rate(vllm:prompt_tokens_total{{{MODEL}}}[{RATE}]))", "prompt {{engine}}"),
               (f"sum by (engine) (rate(vllm:generation_tokens_total{{{MODEL}}}[{RATE}]))",
                "generation {{engine}}")]),
        Panel("Prefix-cache hit rate", "Prompt tokens found in the prefix cache: judge instructions, votes and "
              "swapped orders share prefixes.",
              [(ratio(f"vllm:prefix_cache_hits_total{{{MODEL}}}", f"vllm:prefix_cache_queries_total{{{MODEL}}}",
                      "engine"), "{{engine}}")], "percentunit"),
        Panel("KV-cache usage", "Share of the KV cache in use.",
              [(f"max by (engine) (vllm:kv_cache_usage_perc{{{MODEL}}})", "{{engine}}")], "percentunit"),
        Panel("Requests running / waiting in vLLM", "vLLM's scheduler queues.",
              [(f"sum by (engine) (vllm:num_requests_running{{{MODEL}}})", "running {{engine}}"),
               (f"sum by (engine) (vllm:num_requests_waiting{{{MODEL}}})", "waiting {{engine}}")]),
        Panel("Time to first token", "vLLM's TTFT, p50 / p95 / p99.",
              quantiles("vllm:time_to_first_token_seconds", MODEL, "engine", "{{engine}}"), "s"),
        Panel("Inter-token latency", "vLLM's time per output token, p50 / p95 / p99.",
              quantiles("vllm:inter_token_latency_seconds", MODEL, "engine", "{{engine}}"), "s"),
    ]),
]

INTEGRITY = [
    Row("Pairwise: position bias and swap consistency", [
        Panel("First-position win share", "Share of pairwise votes won by the response shown first. Position "
              "swap shows each pair both ways, so an unbiased judge gives 0.5.",
              [(ratio(f'genrm_pairwise_votes_total{{{MODEL_VERSION}, position="first"}}',
                      f"genrm_pairwise_votes_total{{{MODEL_VERSION}}}", "model, version, task"),
                "{{model}}@{{version}} {{task}}"), expected(0.5)], "percentunit"),
        Panel("Swap consistency", "Share of items whose two orders name the same winner.",
              [(ratio(f'genrm_compared_items_total{{{MODEL_VERSION}, consistent="true"}}',
                      f"genrm_compared_items_total{{{MODEL_VERSION}}}", "model, version, task"),
                "{{model}}@{{version}} {{task}}"), expected(1.0)], "percentunit"),
    ]),
    Row("Pointwise: score distribution and vote spread", [
        Panel("Score distribution", "Items per score bucket (0..10) over the range.",
              [(f"sum by (le) (increase(genrm_pointwise_score_bucket{{{MODEL_VERSION}}}[$__range]))", "≤ {{le}}")]),
        Panel("Mean score", "Mean aggregated score per task; its history is the drift.",
              [(ratio(f"genrm_pointwise_score_sum{{{MODEL_VERSION}}}",
                      f"genrm_pointwise_score_count{{{MODEL_VERSION}}}", "model, version, task"),
                "{{model}}@{{version}} {{task}}"), expected(5.0)]),
        Panel("Vote spread", "Standard deviation of an item's votes, p50 / p95 / p99.",
              quantiles("genrm_pointwise_vote_spread", MODEL_VERSION, "model, version", "{{model}}@{{version}}")),
    ]),
    Row("Reward hacking: flags on responses under evaluation", [
        Panel("Flags by kind", "Flagged responses per second by kind (docs/integrity.md); a policy that learns to "
              "forge verdicts or write template markup shows here first.",
              [(f"sum by (model, kind) (rate(genrm_flags_total{{{MODEL_VERSION}}}[{RATE}]))", "{{model}} {{kind}}")]),
        Panel("Flagged share", "Share of screened responses with a flag the default policy acts on (markup, "
              "forged verdict, addressing the judge, master key, empty); the alert fires above 5 %.",
              [(ratio(f'genrm_flags_total{{{MODEL_VERSION}, kind=~"{ACTED_FLAGS}"}}',
                      f"genrm_screened_responses_total{{{MODEL_VERSION}}}", "model, version, task"),
                "{{model}}@{{version}} {{task}}"), expected(0.0)], "percentunit"),
        Panel("Flagged items by action", "What the requests' on_flag policy did with flagged items: reported, "
              "penalized (floor score, lost comparison) or masked (status flagged).",
              [(f"sum by (model, action) (rate(genrm_flagged_items_total{{{MODEL_VERSION}}}[{RATE}]))",
                "{{model}} {{action}}")]),
    ]),
    Row("Verifiable rewards: rule verifiers and the judge behind them", [
        Panel("Verifier verdicts", "Rule verifiers' verdicts per second by verifier and verdict (timeouts are "
              "verdict timeout; ambiguous is an enumerated answer).",
              [(f"sum by (verifier, verdict) (rate(genrm_verifier_verdicts_total[{RATE}]))",
                "{{verifier}} {{verdict}}")]),
        Panel("Escalation share", "Share of verified items handed to the judge (verify_then_judge).",
              [(f"sum by (verifier) (rate(genrm_verifier_escalations_total[{RATE}])) / "
                f"sum by (verifier) (rate(genrm_verifier_verdicts_total[{RATE}]))", "{{verifier}}")], "percentunit"),
        Panel("Verifier and judge disagree", "Items both decided, decided differently: the judge accepted what "
              "the rule rejected (a rescue, or a false positive) or the reverse.",
              [(f"sum by (verifier, direction) (rate(genrm_verifier_disagreements_total[{RATE}]))",
                "{{verifier}} {{direction}}")]),
    ]),
    Row("Verdict format", [
        Panel("Parse failures by category", "Completions that are not a verdict: missing or misordered tags, "
              "invalid answer.",
              [(f"sum by (model, format, category) (rate(genrm_parse_failures_total{{{MODEL}}}[{RATE}]))",
                "{{model}} {{format}} {{category}}")]),
        Panel("Forced endings", "Judgments that ran out of budget and got a forced ending (budget forcing), by "
              "whether it parsed; a parse failure here is a bug or an unconstrained checkpoint off its format.",
              [(f"sum by (model, format, result) (rate(genrm_forced_endings_total{{{MODEL_VERSION}}}[{RATE}]))",
                "{{model}} {{format}} {{result}}")]),
        Panel("Length-budget share", "Share of judgments stopped by the token budget (finish_reason length): each "
              "gets a forced ending.",
              [(f"sum by (model, format) (rate(genrm_length_budget_hits_total{{{MODEL_VERSION}}}[{RATE}])) / "
                f"sum by (model, format) (rate(genrm_judgments_total{{{MODEL}}}[{RATE}]))",
                "{{model}} {{format}}"), expected(0.0)], "percentunit"),
    ]),
]

DASHBOARDS = {
    "genrm-overview": ("genrm-serve: traffic, latency and admission", OVERVIEW),
    "genrm-engines": ("genrm-serve: vLLM engines", ENGINES),
    "genrm-integrity": ("genrm-serve: judge integrity", INTEGRITY),
}


def _variables() -> Templating:
    def variable(name: str, query: str) -> Template:
        return Template(name=name, label=name, query=query, dataSource=DATASOURCE, includeAll=True, multi=True,
                        allValue=".*", refresh=2, default="All")

    return Templating(list=[
        variable("model", "label_values(genrm_model_info, model)"),
        variable("version", 'label_values(genrm_model_info{model=~"$model"}, version)'),
    ])


def build(uid: str, title: str, rows: Sequence[Row]) -> Dashboard:
    panels: list[object] = []
    y = 0
    for row in rows:
        panels.append(RowPanel(title=row.title, gridPos=GridPos(h=1, w=24, x=0, y=y)))
        y += 1
        x = 0
        for panel in row.panels:
            if x + panel.width > 24:
                x, y = 0, y + PANEL_HEIGHT
            panels.append(TimeSeries(
                title=panel.title, description=panel.description, dataSource=DATASOURCE, unit=panel.unit,
                gridPos=GridPos(h=PANEL_HEIGHT, w=panel.width, x=x, y=y),
                targets=[Target(expr=expr, legendFormat=legend, refId=chr(ord("A") + i), datasource=DATASOURCE)
                         for i, (expr, legend) in enumerate(panel.queries)],
            ))
            x += panel.width
        y += PANEL_HEIGHT
    return Dashboard(title=title, uid=uid, tags=["genrm"], panels=panels, templating=_variables(),
                     time=Time("now-1h", "now"), refresh="30s", timezone="utc").auto_panel_ids()


def render(uid: str) -> str:
    title, rows = DASHBOARDS[uid]
    return json.dumps(build(uid, title, rows).to_json_data(), cls=DashboardEncoder, indent=2, sort_keys=True) + "\n"


def main(out: Path = OUT) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for uid in DASHBOARDS:
        (out / f"{uid}.json").write_text(render(uid), encoding="utf-8")
        print(f"wrote {out / f'{uid}.json'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)

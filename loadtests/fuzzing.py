"""Schemathesis against a running gateway's OpenAPI document: `run_fuzz(url, cases_per_operation)`.

Every operation gets `cases_per_operation` generated cases (schema-valid ones, then a share of schema-invalid
ones), sent over real HTTP, and each response is checked against the document: no 5xx, a documented status, a
documented content type, a body that matches the documented schema (errors included), and documented headers.

Generated judging bodies would almost never name a rubric domain or a model the service has (any `^[a-z]...$`
string fits the schema), so the fuzzer would never get past resolution. `steer` fixes that for most cases: it
sets `task` to a domain of the library and `model` to a served model (or leaves it out), drops unknown rubric
ids, keeps `votes` small and `sampling.max_tokens` at most `STEERED_MAX_TOKENS`; a share of cases stays as
generated. `FuzzReport.judged` counts the cases that reached the judging path
(a 200 from a judging route).

One generated value is always moved, in every judging case: a deadline (`timeout_s`, `X-Request-Timeout`) below
`MIN_DEADLINE_S`. A request whose own deadline passes before the judge answers ends, by design, in items with
status `timeout`, or in a 504/502 under `on_failure: error`: the documented answer, but a 5xx all the same.

    python -m loadtests.fuzzing --url http://127.0.0.1:8000 --cases 500
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
JUDGING_PREFIXES = ("/v1/score", "/v1/compare", "/v1/groups", "/v1/openrlhf/", "/v1/slime/")
MIN_DEADLINE_S = 60.0
STEERED_MAX_TOKENS = 128  # a real CPU engine would spend minutes on 32k-token judgments
NEGATIVE_SHARE = 0.25  # of each operation's cases: schema-invalid, to exercise the error paths


@dataclass
class FuzzReport:
    cases: int = 0
    server_errors: int = 0
    judged: int = 0
    failures: list[str] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)  # judging routes' 4xx, by route and `param`

    def as_dict(self) -> dict[str, Any]:
        return {"cases": self.cases, "server_errors": self.server_errors, "judged": self.judged,
                "nonconforming": len(self.failures), "statuses": dict(sorted(self.statuses.items())),
                "refusals": dict(self.refusals.most_common(15)), "failures": self.failures[:20]}


def _steered(values: Any, domains: list[str], models: list[str], pick: int) -> Any:
    """A generated body or query moved towards what the service accepts (see the module's docstring)."""
    if not isinstance(values, dict):
        return values
    steered = dict(values)
    if "task" in steered:
        steered["task"] = domains[pick % len(domains)]
    if "model" in steered:
        steered["model"] = models[pick % len(models)] if pick % 3 else None
    if steered.get("rubric_ids") is not None:
        steered.pop("rubric_ids")
    if isinstance(steered.get("votes"), int) and not isinstance(steered["votes"], bool):
        steered["votes"] = 1 + steered["votes"] % 4
    if "response" in steered and not steered.get("label"):
        steered["label"] = "A reference answer."  # slime's compare route judges against the label
    sampling = steered.get("sampling")
    if isinstance(sampling, dict) and isinstance(sampling.get("max_tokens"), int):
        steered["sampling"] = {**sampling, "max_tokens": min(sampling["max_tokens"], STEERED_MAX_TOKENS)}
    if isinstance(steered.get("query"), list):  # OpenRLHF: one prompt per query
        steered["prompts"] = [f"Prompt {n}" for n in range(len(steered["query"]))]
        steered["labels"] = ["A reference answer."] * len(steered["query"])
    return steered


def _with_realistic_deadline(case: Any) -> None:
    for values, name in ((case.body, "timeout_s"), (case.query, "timeout_s"), (case.headers, "X-Request-Timeout")):
        if isinstance(values, dict) and name in values:
            try:
                short = float(values[name]) < MIN_DEADLINE_S
            except (TypeError, ValueError):
                continue  # not a number: the service refuses it, as it should
            if short:
                values[name] = MIN_DEADLINE_S if name == "timeout_s" else str(MIN_DEADLINE_S)


def _param_of(response: Any) -> str | None:
    try:
        return str(response.json()["error"]["param"])
    except (ValueError, KeyError, TypeError):
        return None


def run_fuzz(base_url: str, cases_per_operation: int, headers: dict[str, str] | None = None,
             seed: int = 0) -> FuzzReport:
    document = httpx.get(f"{base_url}/openapi.json", headers=headers, timeout=30).json()
    rubrics = httpx.get(f"{base_url}/v1/rubrics", headers=headers, timeout=30).json()
    models = [m["name"] for m in httpx.get(f"{base_url}/v1/models", headers=headers, timeout=30).json()["models"]]
    schema = schemathesis.openapi.from_dict(document)
    report = FuzzReport()
    for result in schema.get_all_operations():
        operation = result.ok()
        negative = int(cases_per_operation * NEGATIVE_SHARE)
        for mode, count in ((schemathesis.GenerationMode.POSITIVE, cases_per_operation - negative),
                            (schemathesis.GenerationMode.NEGATIVE, negative)):
            if count:
                _fuzz_operation(operation, mode, count, base_url, headers, rubrics["domains"], models, report, seed)
    return report


def _fuzz_operation(operation: Any, mode: Any, count: int, base_url: str, headers: dict[str, str] | None,
                    domains: list[str], models: list[str], report: FuzzReport, seed: int) -> None:
    judging = operation.path.startswith(JUDGING_PREFIXES)
    steer = mode == schemathesis.GenerationMode.POSITIVE and judging
    cases = st.tuples(operation.as_strategy(generation_mode=mode), st.integers(0, 1000), st.integers(0, 4))

    @settings(max_examples=count, phases=[Phase.generate], deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(cases)
    def one(drawn: tuple[Any, int, int]) -> None:
        case, pick, keep = drawn
        if steer and keep:
            case.body = _steered(case.body, domains, models, pick)
            case.query = _steered(case.query, domains, models, pick)
        if judging and mode == schemathesis.GenerationMode.POSITIVE:
            _with_realistic_deadline(case)
        report.cases += 1
        response = case.call(base_url=base_url, headers=headers, timeout=120)
        report.statuses[f"{operation.method.upper()} {operation.path} {response.status_code}"] += 1
        if response.status_code >= 500:
            report.server_errors += 1
        if judging and response.status_code == 200:
            report.judged += 1
        elif judging and response.status_code < 500 and steer:
            report.refusals[f"{operation.path} {response.status_code} {_param_of(response)}"] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, BaseExceptionGroup) as failure:  # one error holding every failed check
            report.failures.append(f"{operation.method.upper()} {operation.path} {response.status_code}: "
                                   f"{str(failure)[:400]}")

    with contextlib.suppress(Unsatisfiable):  # nothing schema-invalid to send (a route without parameters or body)
        one()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--cases", type=int, default=200, help="Cases per operation.")
    parser.add_argument("--api-key", default=None)
    arguments = parser.parse_args()
    headers = {"Authorization": f"Bearer {arguments.api_key}"} if arguments.api_key else None
    print(json.dumps(run_fuzz(arguments.url, arguments.cases, headers).as_dict(), indent=2))


if __name__ == "__main__":
    main()

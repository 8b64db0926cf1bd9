"""The shipped monitoring on real parts: a real Prometheus (Debian's) with deploy/prometheus's configuration,
only the gateway's address rewritten to this test's port, scraping a real gateway and the real vLLM-CPU engine it
manages (found through the gateway's /prometheus/targets). After real score and compare traffic, every dashboard
panel's query and every alert rule runs through Prometheus's HTTP API: each must parse, each panel must return
data, and the judge-integrity series must count exactly the votes the responses reported."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from genrm_client.launcher import free_port
from tests.conftest import ROOT
from tests.integration.conftest import MODEL_NAME, LiveGateway
from tests.prometheus_queries import panels_without_data, query, scalar, wait_for
from tests.tools import require_tool

pytestmark = pytest.mark.engine

PROMETHEUS = ROOT / "deploy" / "prometheus"
GATEWAY_ADDRESS = "judge-service:8000"  # how deploy/prometheus/prometheus.yml names the gateway
PAIRS = [{"id": f"p{n}", "prompt": "Which greeting is friendlier?", "response_a": "Hello, friend!",
          "response_b": f"Go away {n}."} for n in range(3)]
ITEMS = [{"id": f"s{n}", "prompt": "What is 2+2?", "response": answer} for n, answer in enumerate(["4", "5", "22"])]


@pytest.fixture(scope="module")
def prometheus(live_gateway: LiveGateway, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    binary = require_tool("prometheus")
    workdir = tmp_path_factory.mktemp("prometheus")
    shutil.copytree(PROMETHEUS / "rules", workdir / "rules")
    gateway = live_gateway.url.removeprefix("http://")
    shipped = (PROMETHEUS / "prometheus.yml").read_text()
    assert GATEWAY_ADDRESS in shipped
    (workdir / "prometheus.yml").write_text(shipped.replace(GATEWAY_ADDRESS, gateway))
    port = free_port()
    log = (workdir / "prometheus.log").open("w")
    process = subprocess.Popen(
        [binary, f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            wait_for(lambda: client.get("/-/ready").status_code == 200, 60, "Prometheus to start",
                     workdir / "prometheus.log")
            yield client
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def scraped_series(prometheus: httpx.Client) -> int:
    return int(scalar(prometheus, 'count({job=~"genrm-gateway|genrm-engine"})'))


@pytest.fixture(scope="module")
def traffic(live_gateway: LiveGateway, prometheus: httpx.Client) -> dict[str, Any]:
    """Both targets up, then real judging traffic (and one refused request), then two more scrapes."""
    wait_for(lambda: len(query(prometheus, "up == 1")) == 2, 90, "both targets to be scraped")
    with httpx.Client(base_url=live_gateway.url, timeout=300) as client:
        scored = client.post("/v1/score", json={"task": "math", "votes": 2, "items": ITEMS})
        compared = client.post("/v1/compare", json={"task": "chat", "votes": 2, "items": PAIRS})
        refused = client.post("/v1/score", json={"task": "math", "items": []})
    assert scored.status_code == 200 and compared.status_code == 200 and refused.status_code == 422
    done = time.time()

    def scraped_after_traffic() -> bool:
        samples = query(prometheus, 'timestamp(up{job="genrm-gateway"})')
        return bool(samples) and float(samples[0]["value"][1]) > done + 12  # two scrape intervals after
    wait_for(scraped_after_traffic, 60, "scrapes after the traffic")
    return {"score": scored.json(), "compare": compared.json()}


def test_prometheus_found_the_gateway_and_its_engine_with_model_labels(prometheus: httpx.Client,
                                                                       traffic: dict[str, Any]) -> None:
    up = {r["metric"]["job"]: r["metric"] for r in query(prometheus, "up == 1")}
    assert set(up) == {"genrm-gateway", "genrm-engine"}
    assert (up["genrm-engine"]["model"], up["genrm-engine"]["engine"]) == (MODEL_NAME, f"{MODEL_NAME}/0")
    assert scalar(prometheus, f'sum(vllm:prompt_tokens_total{{model="{MODEL_NAME}", version="it-1"}})') > 0


def test_every_dashboard_query_parses_and_returns_data(prometheus: httpx.Client, traffic: dict[str, Any]) -> None:
    empty = panels_without_data(prometheus)
    assert empty == [], "panels with no data:\n" + "\n".join(empty)


def test_every_alert_expression_parses_and_every_rule_evaluates(prometheus: httpx.Client,
                                                                traffic: dict[str, Any]) -> None:
    groups = yaml.safe_load((PROMETHEUS / "rules" / "genrm-alerts.yml").read_text())["groups"]
    for rule in (rule for group in groups for rule in group["rules"]):
        query(prometheus, rule["expr"])
    loaded = prometheus.get("/api/v1/rules").json()["data"]["groups"]
    rules = [rule for group in loaded for rule in group["rules"]]
    assert len(rules) == sum(len(group["rules"]) for group in groups)
    assert all(rule["health"] in ("ok", "unknown") for rule in rules), [(r["name"], r.get("lastError"))
                                                                         for r in rules]
    firing = [r["name"] for r in rules if r["state"] == "firing"]
    assert firing == [], f"a healthy gateway fires {firing}"


def test_integrity_series_count_exactly_what_the_responses_reported(prometheus: httpx.Client,
                                                                    traffic: dict[str, Any]) -> None:
    compared = [item for item in traffic["compare"]["items"] if item["status"] == "ok"]
    votes = sum(item["votes_used"] for item in compared)
    labels = f'model="{MODEL_NAME}", version="it-1", task="chat"'
    assert scalar(prometheus, f"sum(genrm_pairwise_votes_total{{{labels}}})") == votes
    consistent = sum(1 for item in compared if item["consistent"])
    assert scalar(prometheus, f'sum(genrm_compared_items_total{{{labels}, consistent="true"}}) or vector(0)') \
        == consistent
    assert scalar(prometheus, f"sum(genrm_compared_items_total{{{labels}}})") == len(compared)
    scored = [item for item in traffic["score"]["items"] if item["status"] == "ok"]
    math = f'model="{MODEL_NAME}", version="it-1", task="math"'
    assert scalar(prometheus, f"sum(genrm_pointwise_score_count{{{math}}})") == len(scored)
    assert scalar(prometheus, f"sum(genrm_pointwise_score_sum{{{math}}})") == pytest.approx(
        sum(item["score"] for item in scored))
    share = scalar(prometheus, f'sum(genrm_pairwise_votes_total{{{labels}, position="first"}}) or vector(0)') / votes
    assert 0 <= share <= 1

"""The Grafana dashboards: the committed JSON is what deploy/grafana/generate.py makes, every panel reads the
provisioned datasource, and the layout fits Grafana's 24-column grid. Their queries run on a real Prometheus in
tests/integration/test_live_observability.py."""

from __future__ import annotations

import importlib.util
import json
import sys
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

pytestmark = pytest.mark.usefixtures("trainer_key_hash")  # the deploy configs read it

GRAFANA = ROOT / "deploy" / "grafana"


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("genrm_dashboards", GRAFANA / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


GENERATOR = load_generator()


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted((GRAFANA / "dashboards").glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [panel for panel in dashboard["panels"] if panel["type"] != "row"]


def test_the_committed_json_is_what_the_code_generates() -> None:
    assert set(dashboards()) == set(GENERATOR.DASHBOARDS)
    for uid in GENERATOR.DASHBOARDS:
        committed = (GRAFANA / "dashboards" / f"{uid}.json").read_text()
        assert committed == GENERATOR.render(uid), f"{uid}.json is stale: run python deploy/grafana/generate.py"


def test_every_panel_reads_the_provisioned_datasource() -> None:
    datasource = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    for name, dashboard in dashboards().items():
        for variable in dashboard["templating"]["list"]:
            assert variable["datasource"]["uid"] == uid, (name, variable["name"])
        for panel in panels(dashboard):
            assert panel["targets"], (name, panel["title"])
            assert panel["datasource"]["uid"] == uid, (name, panel["title"])
            assert all(target["datasource"]["uid"] == uid for target in panel["targets"]), (name, panel["title"])


def test_the_provider_loads_the_folder_compose_mounts_the_dashboards_into() -> None:
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "genrm.yml").read_text())["providers"][0]
    compose = (ROOT / "deploy" / "compose" / "docker-compose.yml").read_text()
    assert f"../grafana/dashboards:{provider['options']['path']}:ro" in compose


@pytest.mark.parametrize("uid", sorted(GENERATOR.DASHBOARDS))
def test_the_layout_fits_the_grid_without_overlaps(uid: str) -> None:
    dashboard = dashboards()[uid]
    cells: set[tuple[int, int]] = set()
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        mine = {(grid["x"] + dx, grid["y"] + dy) for dx in range(grid["w"]) for dy in range(grid["h"])}
        assert not cells & mine, f"{panel['title']} overlaps another panel"
        cells |= mine


def test_every_integrity_panel_draws_its_expected_value() -> None:
    integrity = {panel["title"]: panel for panel in panels(dashboards()["genrm-integrity"])}
    for title, value in [("First-position win share", 0.5), ("Swap consistency", 1.0)]:
        exprs = [target["expr"] for target in integrity[title]["targets"]]
        assert f"vector({value})" in exprs, title


def test_the_issue_s_panels_are_all_there() -> None:
    text = json.dumps(dashboards())
    for metric in ["genrm_http_requests_total", "genrm_http_request_duration_seconds_bucket", "genrm_items_total",
                   "genrm_queue_depth_requests", "genrm_rejected_requests_total", "genrm_engine_up",
                   "genrm_engine_in_flight_requests", "genrm_engine_restarts_total", "genrm_engine_retries_total",
                   "vllm:prompt_tokens_total", "vllm:generation_tokens_total", "vllm:prefix_cache_hits_total",
                   "vllm:kv_cache_usage_perc", "vllm:time_to_first_token_seconds_bucket",
                   "vllm:inter_token_latency_seconds_bucket", "genrm_votes_used", "genrm_votes_total",
                   "genrm_cache_lookups_total", "genrm_pairwise_votes_total", "genrm_compared_items_total",
                   "genrm_pointwise_score_bucket", "genrm_pointwise_vote_spread_bucket",
                   "genrm_parse_failures_total", "genrm_length_budget_hits_total", "genrm_forced_endings_total"]:
        assert metric in text, metric

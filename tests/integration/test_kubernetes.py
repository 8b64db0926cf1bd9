"""The Kubernetes manifests, validated offline against Kubernetes's own schemas (kubernetes-validate), and checked
against each other: the gateway's engine list names the StatefulSet's pods, probes hit real routes, GPUs are
requested, and the scrape config is a valid Prometheus config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.settings import ExternalEngineSettings, Settings, expand_environment
from tests.conftest import ROOT
from tests.tools import require_tool

pytestmark = pytest.mark.usefixtures("trainer_key_hash")  # the deploy configs read it

KUBERNETES = ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.33.0"


def documents() -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            found[(document["kind"], document["metadata"]["name"])] = document
    return found


@pytest.mark.parametrize("manifest", sorted(p.name for p in KUBERNETES.glob("*.yaml")))
def test_each_manifest_is_valid_kubernetes(manifest: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kubernetes_validate", "--strict", "-k", KUBERNETES_VERSION, str(KUBERNETES / manifest)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed" in result.stdout + result.stderr


def test_the_gateway_lists_every_engine_pod_by_its_stable_name() -> None:
    found = documents()
    engines = found[("StatefulSet", "genrm-engine")]
    service = engines["spec"]["serviceName"]
    assert found[("Service", service)]["spec"]["clusterIP"] == "None"  # headless: one DNS name per pod
    text = expand_environment(found[("ConfigMap", "genrm-gateway")]["data"]["gateway.yaml"])
    settings = Settings.model_validate(yaml.safe_load(text))
    urls = [str(e.url) for e in settings.models[0].engines if isinstance(e, ExternalEngineSettings)]
    pods = [f"http://genrm-engine-{i}.{service}:8000/" for i in range(engines["spec"]["replicas"])]
    assert urls == pods


def test_engines_request_one_gpu_each_and_gateways_none() -> None:
    found = documents()
    engine = found[("StatefulSet", "genrm-engine")]["spec"]["template"]["spec"]["containers"][0]
    assert engine["resources"]["limits"]["nvidia.com/gpu"] == 1
    gateway = found[("Deployment", "genrm-gateway")]["spec"]["template"]["spec"]["containers"][0]
    assert "nvidia.com/gpu" not in gateway["resources"].get("limits", {})


def test_probes_hit_the_routes_that_say_ready_and_alive() -> None:
    found = documents()
    gateway = found[("Deployment", "genrm-gateway")]
    container = gateway["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert gateway["spec"]["replicas"] >= 2
    selector = found[("Service", "judge-service")]["spec"]["selector"]
    assert selector.items() <= gateway["spec"]["template"]["metadata"]["labels"].items()
    hpa = found[("HorizontalPodAutoscaler", "genrm-gateway")]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "genrm-gateway"


def test_the_scrape_config_is_a_valid_prometheus_config(tmp_path: Path) -> None:
    config = documents()[("ConfigMap", "genrm-prometheus")]["data"]["prometheus.yml"]
    rules = ROOT / "deploy" / "prometheus" / "rules"
    (tmp_path / "prometheus.yml").write_text(config.replace("/etc/prometheus/rules", str(rules)))
    result = subprocess.run([require_tool("promtool"), "check", "config", str(tmp_path / "prometheus.yml")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout


def test_prometheus_finds_every_gateway_pod_and_asks_the_gateway_for_the_engines() -> None:
    found = documents()
    config = yaml.safe_load(found[("ConfigMap", "genrm-prometheus")]["data"]["prometheus.yml"])
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    pods = found[("Service", jobs["genrm-gateway"]["dns_sd_configs"][0]["names"][0])]
    assert pods["spec"]["clusterIP"] == "None"
    assert pods["spec"]["selector"] == found[("Service", "judge-service")]["spec"]["selector"]
    assert jobs["genrm-engine"]["http_sd_configs"][0]["url"] == "http://judge-service:8000/prometheus/targets"

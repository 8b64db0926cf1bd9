"""The compose deployment, as docker-compose resolves it (Debian's docker-compose validates the file against the
compose schema without a Docker daemon), checked against the files it mounts: Prometheus's targets, Grafana's
provisioning, the gateway's config and its engines per GPU."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from service.settings import ManagedEngineSettings, load_settings
from tests.conftest import ROOT
from tests.tools import require_tool

pytestmark = pytest.mark.usefixtures("trainer_key_hash")  # the deploy configs read it

COMPOSE = ROOT / "deploy" / "compose"
ENV_EXAMPLE = COMPOSE / "env.example"


def compose_config(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    env_file = tmp_path / "compose.env"
    lines = [line for line in ENV_EXAMPLE.read_text().splitlines() if line.split("=")[0] not in env]
    env_file.write_text("\n".join([*lines, *(f"{key}={value}" for key, value in env.items() if value)]) + "\n")
    clean = {key: value for key, value in os.environ.items() if not key.startswith("COMPOSE_")}
    return subprocess.run(
        [require_tool("docker-compose"), "-f", str(COMPOSE / "docker-compose.yml"), "--env-file", str(env_file),
         "config"], capture_output=True, text=True, env=clean, timeout=120,
    )


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = compose_config(tmp_path_factory.mktemp("compose"))
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> host path of each bind mount (docker-compose prints them as `source:target[:mode]`)."""
    found = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("/"):
            found[target] = Path(source)
    return found


def test_the_file_is_valid_compose_with_every_profile(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert set(services) == {"gateway-gpu", "gateway-cpu", "prometheus", "grafana", "trainer"}
    assert services["gateway-gpu"]["profiles"] == ["gpu"]
    assert services["gateway-cpu"]["profiles"] == ["cpu"]
    assert services["trainer"]["profiles"] == ["train"]
    assert "profiles" not in services["prometheus"] and "profiles" not in services["grafana"]


def test_a_missing_judge_setting_is_refused_by_name(tmp_path: Path) -> None:
    result = compose_config(tmp_path, JUDGE_NAME="")
    assert result.returncode != 0
    assert "set JUDGE_NAME in deploy/compose/.env" in result.stderr


def test_both_gateways_answer_to_the_recipes_host_name_and_are_health_checked(resolved: dict[str, Any]) -> None:
    recipe = yaml.safe_load((ROOT / "training" / "recipes" / "brpo-qwen3-8b-8gpu.yaml").read_text())
    host = urlsplit(recipe["service_url"])
    for name in ("gateway-gpu", "gateway-cpu"):
        gateway = resolved["services"][name]
        assert host.hostname in gateway["networks"]["default"]["aliases"]
        assert any(port["target"] == host.port for port in gateway["ports"])
        assert "http://127.0.0.1:8000/readyz" in " ".join(gateway["healthcheck"]["test"])


def test_dependents_wait_for_healthy_services(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert services["grafana"]["depends_on"] == {"prometheus": {"condition": "service_healthy"}}
    assert services["trainer"]["depends_on"] == {"gateway-gpu": {"condition": "service_healthy"}}
    for name in ("prometheus", "grafana"):
        assert services[name]["healthcheck"]["test"][0] == "CMD"


def test_gpu_services_reserve_nvidia_gpus(resolved: dict[str, Any]) -> None:
    for name in ("gateway-gpu", "trainer"):
        devices = resolved["services"][name]["deploy"]["resources"]["reservations"]["devices"]
        assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}] or \
            devices == [{"driver": "nvidia", "count": -1, "capabilities": ["gpu"]}], devices
    assert "deploy" not in resolved["services"]["gateway-cpu"]


def test_prometheus_scrapes_the_gateway_and_its_engines_where_compose_puts_them(resolved: dict[str, Any]) -> None:
    prometheus = resolved["services"]["prometheus"]
    config_dir = mounts(prometheus)["/etc/prometheus"]
    assert config_dir == ROOT / "deploy" / "prometheus"
    config = yaml.safe_load((config_dir / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    gateway_target = jobs["genrm-gateway"]["static_configs"][0]["targets"][0]
    discovery = urlsplit(jobs["genrm-engine"]["http_sd_configs"][0]["url"])
    assert discovery.path == "/prometheus/targets"
    host, port = gateway_target.split(":")
    assert discovery.netloc == gateway_target
    for name in ("gateway-gpu", "gateway-cpu"):
        gateway = resolved["services"][name]
        assert host in gateway["networks"]["default"]["aliases"]
        assert any(str(p["target"]) == port for p in gateway["ports"])
    assert any(str(p["target"]) == "9090" for p in prometheus["ports"])


def test_grafana_gets_the_provisioning_and_the_datasource_reaches_prometheus(resolved: dict[str, Any]) -> None:
    grafana = resolved["services"]["grafana"]
    mounted = mounts(grafana)
    provisioning = mounted["/etc/grafana/provisioning"]
    assert provisioning == ROOT / "deploy" / "grafana" / "provisioning"
    provider = yaml.safe_load((provisioning / "dashboards" / "genrm.yml").read_text())["providers"][0]
    assert mounted[provider["options"]["path"]] == ROOT / "deploy" / "grafana" / "dashboards"
    datasource = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"][0]
    url = urlsplit(datasource["url"])
    assert url.hostname in resolved["services"] and url.port == 9090
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (mounted[str(Path(home).parent)] / Path(home).name).is_file()


def test_the_gpu_gateway_config_runs_one_pinned_engine_per_gpu(resolved: dict[str, Any],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    gateway = resolved["services"]["gateway-gpu"]
    config_file = mounts(gateway)["/etc/genrm/gateway.yaml"]
    for key, value in {**gateway["environment"], "GPUS": "0,1,3"}.items():
        monkeypatch.setenv(key, str(value))
    settings = load_settings(config_file)
    model = settings.models[0]
    assert (model.name, model.version, str(model.model_path)) == ("qwen3-8b-judge", "2026-11-01", "/models/judge")
    assert "/models/judge" in mounts(gateway)
    engines = model.served_engines()
    assert all(isinstance(engine, ManagedEngineSettings) for engine in engines)
    assert [(e.device, e.cuda_visible_devices, e.port, e.bind_host) for e in engines] == [  # type: ignore[union-attr]
        ("cuda", "0", 8101, "0.0.0.0"), ("cuda", "1", 8102, "0.0.0.0"), ("cuda", "3", 8103, "0.0.0.0")]


def test_the_cpu_gateway_config_serves_the_bundled_judge() -> None:
    settings = load_settings(COMPOSE / "gateway-cpu.yaml")
    model = settings.models[0]
    assert model.model_path is None  # the bundled judge, converted into the image at build time
    assert [(e.device, e.bind_host) for e in model.engines] == [("cpu", "0.0.0.0")]  # type: ignore[union-attr]

"""The compose deployment brought up for real: the `cpu` profile's gateway (the CPU serve image built from this
checkout, the bundled judge on vLLM-CPU inside it) and Prometheus in its container, with Debian's docker-compose
1.29 on a real Docker daemon.

Stand-ins (no image registry answers here; scripts/images.sh builds them under the upstream names): the Python
base image is Debian bookworm's python3 on an mmdebstrap root file system, and `prom/prometheus:v2.42.0` is Debian's
prometheus 2.42 package. Grafana is left out: no Grafana image or server can be had here. Every dashboard query
is run on the containerised Prometheus instead, as Grafana would send it.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from genrm_client.launcher import free_port
from service.auth.api_keys import hash_key, new_key
from tests.conftest import ROOT
from tests.docker_host import SERVE_IMAGE, BuiltImages, docker
from tests.prometheus_queries import panels_without_data, query, wait_for
from tests.tools import require_tool

pytestmark = [pytest.mark.containers, pytest.mark.usefixtures("trainer_key_hash")]  # configs read it

COMPOSE = ROOT / "deploy" / "compose"
SERVICES = ("gateway-cpu", "prometheus")
MODEL = "smollm2-135m-judge"  # deploy/compose/gateway-cpu.yaml
ITEMS = [{"id": f"s{n}", "prompt": "What is 2+2?", "response": answer} for n, answer in enumerate(["4", "5"])]
PAIRS = [{"id": "p0", "prompt": "Which greeting is friendlier?", "response_a": "Hello, friend!",
          "response_b": "Go away."}]


@dataclass
class Deployment:
    project: str
    env_file: Path
    key: str
    gateway: str
    prometheus: str
    traffic: dict[str, Any] = field(default_factory=dict)

    def compose(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        # compose prefers the shell's variables to the env file: keep only the file's say.
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "GENRM_"))}
        result = subprocess.run(
            [require_tool("docker-compose"), "-p", self.project, "--env-file", str(self.env_file),
             "-f", str(COMPOSE / "docker-compose.yml"), *args],
            capture_output=True, text=True, timeout=timeout, env=environment,
        )
        assert result.returncode == 0, f"docker-compose {' '.join(args)}:\n{result.stderr[-3000:]}"
        return result

    def container(self, service: str) -> str:
        return self.compose("ps", "-q", service).stdout.strip()

    def health(self, service: str) -> str:
        return docker("inspect", "-f", "{{.State.Health.Status}}", self.container(service)).stdout.strip()

    def logs(self, service: str) -> str:
        return self.compose("logs", "--no-color", "--tail", "60", service).stdout

    def judge(self, route: str, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or self.key}"} if key != "" else {}
        return httpx.post(f"{self.gateway}{route}", json=body, headers=headers, timeout=600)


def env_file(path: Path, project: str, key: str) -> dict[str, str]:
    settings = {
        "COMPOSE_PROFILES": "cpu", "COMPOSE_PROJECT_NAME": project,
        "GENRM_TRAINER_KEY_HASH": hash_key(key), "GENRM_TRAINER_KEY": key,
        "GATEWAY_PORT": str(free_port()), "PROMETHEUS_PORT": str(free_port()), "GRAFANA_PORT": str(free_port()),
        "GRAFANA_ADMIN_PASSWORD": "not-used-grafana-is-not-started",
    }
    shipped = [line for line in (COMPOSE / "env.example").read_text().splitlines()
               if line.split("=")[0] not in settings]
    path.write_text("\n".join([*shipped, *(f"{name}={value}" for name, value in settings.items())]) + "\n")
    return settings


@pytest.fixture(scope="module")
def deployment(built_images: BuiltImages, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    key = new_key()
    project = f"genrm-test-{os.getpid()}"
    path = tmp_path_factory.mktemp("compose") / "compose.env"
    settings = env_file(path, project, key)
    deployment = Deployment(project, path, key, f"http://127.0.0.1:{settings['GATEWAY_PORT']}",
                            f"http://127.0.0.1:{settings['PROMETHEUS_PORT']}")
    try:
        deployment.compose("up", "-d", "--no-build", *SERVICES)
        deadline = time.monotonic() + 420  # the engine is ready in ~1 min on 2 cores
        while deployment.health("gateway-cpu") != "healthy":
            if time.monotonic() > deadline or deployment.health("gateway-cpu") == "unhealthy":
                pytest.fail(f"the gateway never turned healthy:\n{deployment.logs('gateway-cpu')}")
            time.sleep(2)
        yield deployment
    finally:
        subprocess.run([require_tool("docker-compose"), "-p", project, "--env-file", str(path),
                        "-f", str(COMPOSE / "docker-compose.yml"), "down", "-v", "--remove-orphans"],
                       capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def traffic(deployment: Deployment) -> dict[str, Any]:
    """Judging traffic through the published port with the key, one refused request, then two more scrapes."""
    scored = deployment.judge("/v1/score", {"task": "math", "votes": 2, "items": ITEMS})
    compared = deployment.judge("/v1/compare", {"task": "chat", "votes": 2, "items": PAIRS})
    refused = deployment.judge("/v1/score", {"task": "math", "items": []})
    done = time.time()
    with httpx.Client(base_url=deployment.prometheus, timeout=30) as prometheus:
        def scraped_after_traffic() -> bool:
            samples = query(prometheus, 'timestamp(up{job="genrm-gateway"})')
            return bool(samples) and float(samples[0]["value"][1]) > done + 12  # two scrape intervals after
        wait_for(scraped_after_traffic, 120, "scrapes after the traffic")
    return {"score": scored, "compare": compared, "refused": refused}


def test_the_gateway_container_turns_healthy_as_a_non_root_user_under_tini(deployment: Deployment) -> None:
    assert deployment.health("gateway-cpu") == "healthy"
    assert deployment.health("prometheus") == "healthy"
    container = deployment.container("gateway-cpu")
    assert docker("exec", container, "id", "-u").stdout.strip() != "0"
    assert docker("exec", container, "cat", "/proc/1/comm").stdout.strip() == "tini"
    ready = httpx.get(f"{deployment.gateway}/readyz", timeout=30).json()
    assert ready["status"] == "ready"


def test_score_and_compare_through_the_published_port_with_the_api_key(traffic: dict[str, Any]) -> None:
    scored, compared, refused = traffic["score"], traffic["compare"], traffic["refused"]
    assert scored.status_code == 200, scored.text
    assert [item["status"] for item in scored.json()["items"]] == ["ok", "ok"]
    assert scored.json()["model"]["name"] == MODEL
    assert compared.status_code == 200, compared.text
    assert compared.json()["items"][0]["status"] == "ok"
    assert compared.json()["items"][0]["preference"] in ("A", "B", "tie")
    assert refused.status_code == 422


def test_a_request_without_the_key_gets_401_with_a_json_error(deployment: Deployment) -> None:
    missing = deployment.judge("/v1/score", {"task": "math", "items": ITEMS}, key="")
    assert missing.status_code == 401
    assert "error" in missing.json()
    wrong = deployment.judge("/v1/score", {"task": "math", "items": ITEMS}, key=new_key())
    assert wrong.status_code == 401


def test_another_container_on_the_compose_network_reaches_the_judge_service_alias(deployment: Deployment) -> None:
    script = (
        "import httpx, json, sys\n"
        "r = httpx.post('http://judge-service:8000/v1/score', timeout=300,\n"
        "               headers={'Authorization': 'Bearer ' + sys.argv[1]},\n"
        "               json={'task': 'chat', 'votes': 1, 'items': [{'prompt': 'Hi?', 'response': 'Hello.'}]})\n"
        "print(json.dumps({'status': r.status_code, 'items': [i['status'] for i in r.json()['items']]}))\n"
    )
    result = docker("run", "--rm", "--network", f"{deployment.project}_default", SERVE_IMAGE,
                    "python", "-c", script, deployment.key, timeout=600)
    assert result.stdout.strip().splitlines()[-1] == '{"status": 200, "items": ["ok"]}'


def test_prometheus_in_its_container_scrapes_the_gateway_and_its_engine(deployment: Deployment,
                                                                          traffic: dict[str, Any]) -> None:
    with httpx.Client(base_url=deployment.prometheus, timeout=30) as prometheus:
        up = {result["metric"]["job"]: result["metric"] for result in query(prometheus, "up == 1")}
        assert set(up) == {"genrm-gateway", "genrm-engine"}
        assert up["genrm-gateway"]["instance"] == "judge-service:8000"
        assert up["genrm-engine"]["instance"] == "judge-service:8101"  # found through /prometheus/targets
        assert up["genrm-engine"]["model"] == MODEL
        rules = [rule for group in prometheus.get("/api/v1/rules").json()["data"]["groups"]
                 for rule in group["rules"]]
        assert rules and all(rule["health"] in ("ok", "unknown") for rule in rules)


def test_every_dashboard_query_returns_data_from_the_containerised_prometheus(deployment: Deployment,
                                                                              traffic: dict[str, Any]) -> None:
    with httpx.Client(base_url=deployment.prometheus, timeout=30) as prometheus:
        empty = panels_without_data(prometheus)
    assert empty == [], "panels with no data:\n" + "\n".join(empty)


def engine_requests_in_flight(deployment: Deployment) -> float:
    lines = httpx.get(f"{deployment.gateway}/metrics", timeout=10).text.splitlines()
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines
               if line.startswith("genrm_engine_in_flight_requests{"))


def test_compose_stop_drains_an_in_flight_request(deployment: Deployment) -> None:
    """SIGTERM reaches the gateway through tini: the request already in the engine finishes with its verdicts."""
    answers: list[httpx.Response] = []
    body = {"task": "chat", "votes": 8, "sampling": {"max_tokens": 512},
            "items": [{"prompt": "Write a careful review of this haiku.", "response": "Old pond / frog jumps"}]}
    client = threading.Thread(target=lambda: answers.append(deployment.judge("/v1/score", body)))
    client.start()
    deadline = time.monotonic() + 120
    while engine_requests_in_flight(deployment) < 1:
        assert client.is_alive() and time.monotonic() < deadline, "the request never reached the engine"
        time.sleep(0.05)
    container = deployment.container("gateway-cpu")
    deployment.compose("stop", "gateway-cpu", timeout=200)
    client.join(timeout=60)
    assert answers, "the in-flight request got no answer"
    assert answers[0].status_code == 200, answers[0].text
    assert answers[0].json()["items"][0]["status"] == "ok"
    state = docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", container).stdout.split()
    assert state == ["exited", "0"], f"the gateway did not exit cleanly: {state}"


def test_down_with_volumes_leaves_no_container_network_or_volume(deployment: Deployment) -> None:
    deployment.compose("down", "-v")
    label = f"label=com.docker.compose.project={deployment.project}"
    assert docker("ps", "-aq", "--filter", label).stdout.strip() == ""
    assert docker("network", "ls", "-q", "--filter", label).stdout.strip() == ""
    assert docker("volume", "ls", "-q", "--filter", label).stdout.strip() == ""

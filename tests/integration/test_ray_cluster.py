"""The judge inside a real multi-node Ray cluster on this machine: a head and worker nodes as separate Ray
processes (Ray's own `ray.cluster_utils.Cluster`: a raylet per node), a custom resource `judge_node` standing in
for the GPUs the engines would take, and real vLLM-CPU engines (the bundled judge) as the engine actors.

One module-wide judge, attached to with the client's one call, and then, in order: placement on the right nodes,
scoring through the attached client and an adapter, an engine actor killed mid-batch with no request lost and
replaced, a worker node removed and its engine rescheduled on a spare node, and the judge stopped with everything
it started."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from genrm_client import JudgeClient, ScoreRequest
from genrm_client.ray_judge import attach_judge, judge_url
from genrm_wire.ray_names import NAMESPACE, engine_actor_name, gateway_actor_name
from tests.waiting import metric_value, wait_for

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

from service.auth.api_keys import hash_key  # noqa: E402
from service.engine.processes import group_processes  # noqa: E402
from service.ray_serving.deploy import stop_judge  # noqa: E402

pytestmark = pytest.mark.engine

JUDGE = "ray-judge"
KEY = "genrm_ray-trainer-key"  # the gateway listens on the node's address: not without a key
SPEC = {
    "service": {"api_keys": [{"name": "trainer", "hash": hash_key(KEY), "scopes": ["judge"]}]},
    "engines": 2, "cpus_per_engine": 1, "resources_per_engine": {"judge_node": 1}, "placement": "STRICT_SPREAD",
    "model": {"name": JUDGE, "version": "bundled-q4_1-fp32", "sampling": {"max_tokens": 96},
              "engines": [{"kind": "managed", "max_in_flight": 8}]},
}
ITEMS = [{"prompt": f"What is {n} + {n}?", "response": f"{2 * n}."} for n in range(12)]


class RayCluster:
    def __init__(self) -> None:
        self.cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False})
        self.workers = [self.cluster.add_node(num_cpus=1, resources={"judge_node": 1}) for _ in range(2)]
        self.cluster.wait_for_nodes()
        ray.init(address=self.cluster.address, namespace=NAMESPACE)

    def add_worker(self) -> Any:
        node = self.cluster.add_node(num_cpus=1, resources={"judge_node": 1})
        self.cluster.wait_for_nodes()
        return node

    def close(self) -> None:
        ray.shutdown()
        self.cluster.shutdown()


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayCluster]:
    running = RayCluster()
    yield running
    stop_judge(JUDGE)
    running.close()


@pytest.fixture(scope="module")
def judge(cluster: RayCluster) -> Iterator[JudgeClient]:
    with attach_judge(JUDGE, start=SPEC, timeout_s=600, api_key=KEY) as client:
        yield client


def score_request(items: list[dict[str, str]], **fields: Any) -> ScoreRequest:
    return ScoreRequest.model_validate({"task": "chat", "items": items, **fields})


def engines() -> list[dict[str, Any]]:
    gateway = ray.get_actor(gateway_actor_name(JUDGE), namespace=NAMESPACE)
    found: list[dict[str, Any]] = ray.get(gateway.engines.remote())
    return found


def test_engines_are_placed_one_per_judge_node_and_found_through_ray(cluster: RayCluster,
                                                                     judge: JudgeClient) -> None:
    placed = engines()
    head = cluster.cluster.head_node.node_id
    workers = {node.node_id for node in cluster.workers}
    assert {engine["node_id"] for engine in placed} == workers and head not in workers  # STRICT_SPREAD
    assert all(engine["healthy"] for engine in placed)
    assert judge_url(JUDGE) == judge.base_url  # attached again by name, not started twice


def test_scoring_through_the_attached_client_and_an_adapter(judge: JudgeClient) -> None:
    from genrm_client.adapters.trl import ScoreReward

    response = judge.score(score_request(ITEMS[:2]))
    assert [item.status for item in response.items] == ["ok", "ok"]
    rewards = ScoreReward(judge, task="chat")(prompts=["Say hi."], completions=["Hi!"])
    assert len(rewards) == 1 and rewards[0] is not None


def actor_log(cluster: RayCluster, actor: str = "JudgeGateway", lines: int = 80) -> str:
    """The end of what each actor of class `actor` wrote (Ray keeps each worker's output in the session's logs
    folder): the failure message of a test that failed through the gateway carries its traceback."""
    logs = Path(cluster.cluster.head_node.get_logs_dir_path())
    written = [path.read_text(errors="replace") for path in sorted(logs.glob("worker-*.err"))]
    ours = [text for text in written if f":actor_name:{actor}" in text]
    return "\n".join("\n".join(text.splitlines()[-lines:]) for text in ours) or f"(no {actor} log in {logs})"


def test_an_engine_actor_killed_mid_batch_loses_no_request_and_is_replaced(cluster: RayCluster,
                                                                          judge: JudgeClient) -> None:
    before = engines()
    victim = before[0]
    background = ThreadPoolExecutor(max_workers=1)
    batch = background.submit(judge.score, score_request(ITEMS, votes=2, sampling={"temperature": 1.0}))
    metrics = f"{judge.base_url}/metrics"  # the gateway's own

    def victim_busy() -> bool:
        text = httpx.get(metrics, timeout=10).text
        return metric_value(text, "genrm_engine_in_flight_requests", model=JUDGE, engine=victim["name"]) > 0

    wait_for(victim_busy, f"{victim['name']} to hold requests of the batch", timeout_s=120)
    ray.kill(victim["actor"], no_restart=False)
    try:
        answer = batch.result(timeout=600)
    except Exception as error:
        pytest.fail(f"the batch failed: {error!r}\n--- the gateway's log ---\n{actor_log(cluster)}")
    finally:
        background.shutdown(wait=False)
    statuses = [item.status for item in answer.items]
    assert statuses == ["ok"] * len(ITEMS), f"{statuses}\n--- the gateway's log ---\n{actor_log(cluster)}"
    assert metric_value(httpx.get(metrics, timeout=10).text, "genrm_engine_retries_total", model=JUDGE,
                        engine=victim["name"]) >= 1

    def replaced() -> bool:
        now = engines()[0]
        return now["healthy"] and now["pid"] != victim["pid"]

    wait_for(replaced, "Ray to restart the killed engine actor and the gateway to follow it", timeout_s=600)
    left = group_processes(victim["engine_group"])  # the killed actor's vLLM was ended by its successor
    assert left == [], f"{left}\n--- the engine actors' logs ---\n{actor_log(cluster, 'JudgeEngine')}"
    assert judge.score(score_request(ITEMS[:1])).items[0].status == "ok"


def test_a_removed_worker_nodes_engine_comes_back_on_a_spare_node(cluster: RayCluster, judge: JudgeClient) -> None:
    spare = cluster.add_worker()
    before = engines()[1]
    doomed = next(node for node in cluster.workers if node.node_id == before["node_id"])
    cluster.cluster.remove_node(doomed)
    cluster.workers.remove(doomed)

    def moved() -> bool:
        engine = engines()[1]
        return engine["healthy"] and engine["node_id"] == spare.node_id

    wait_for(moved, "the removed node's engine to be rescheduled on the spare node", timeout_s=600)
    assert group_processes(before["engine_group"]) == []  # what the removed node ran is gone
    response = judge.score(score_request(ITEMS[:4]))
    assert [item.status for item in response.items] == ["ok"] * 4


def test_stopping_the_judge_takes_its_engines_with_it(judge: JudgeClient) -> None:
    names = [engine_actor_name(JUDGE, index) for index in range(2)]
    groups = [engine["engine_group"] for engine in engines()]
    assert stop_judge(JUDGE)
    assert all(group_processes(group) == [] for group in groups)  # each vLLM stopped, its children too
    with pytest.raises(ValueError):
        ray.get_actor(gateway_actor_name(JUDGE), namespace=NAMESPACE)

    def engines_gone() -> bool:
        for name in names:
            try:
                ray.get_actor(name, namespace=NAMESPACE)
            except ValueError:
                continue
            return False
        return True

    wait_for(engines_gone, "the engine actors to stop with their gateway", timeout_s=60)
    with pytest.raises(LookupError):
        judge_url(JUDGE)

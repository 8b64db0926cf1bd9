"""A trainer in a Ray cluster attaches to its judge with one call:

    import ray
    from genrm_client.ray_judge import attach_judge
    ray.init(address="auto")
    judge = attach_judge("my-judge", start={"engines": 2, "gpus_per_engine": 0.5})  # get, or start, then a client
    judge.score(...)                          # the adapters take it (or `judge.base_url`) unchanged

The judge is the gateway actor `judge-gateway:<name>` (namespace `genrm`, detached) with its engine actors
(docs/operations.md, "Ray"). Without `start`, a judge that is not there is a `LookupError`; with it, the cluster
starts one from that spec (`service.ray_serving.spec.RayJudgeSpec` as a dict, named `name`), which
needs the service package installed on the cluster's nodes. `ray` is this module's own optional dependency
(`pip install genrm-client[ray]`): nothing else in the client imports it.
"""

from __future__ import annotations

import importlib
import time
from typing import Any

from genrm_client.client import JudgeClient
from genrm_wire.ray_names import NAMESPACE, gateway_actor_name

DEPLOY_MODULE = "service.ray_serving.deploy"  # imported on a cluster node, never here


def judge_url(name: str, *, start: dict[str, Any] | None = None, timeout_s: float = 1800) -> str:
    """The URL of the judge named `name` in the connected Ray cluster; started from `start` if it is not there."""
    import ray

    try:
        gateway = ray.get_actor(gateway_actor_name(name), namespace=NAMESPACE)
    except ValueError:
        if start is None:
            raise LookupError(f"no judge named {name!r} in this Ray cluster (namespace {NAMESPACE!r}); pass "
                              "start=<a RayJudgeSpec as a dict> to start one") from None
        return str(ray.get(_starter().remote({**start, "name": name}), timeout=timeout_s))
    deadline = time.monotonic() + timeout_s
    url: Any = ray.get(gateway.url.remote(), timeout=timeout_s)
    while url is None:  # someone else is starting it
        if time.monotonic() > deadline:
            raise TimeoutError(f"judge {name!r} did not finish starting in {timeout_s:g} s")
        time.sleep(1)
        url = ray.get(gateway.url.remote(), timeout=timeout_s)
    return str(url)


def attach_judge(name: str, *, start: dict[str, Any] | None = None, timeout_s: float = 1800,
                 **client_options: Any) -> JudgeClient:
    """A `JudgeClient` of the judge named `name` (see `judge_url`); `client_options` go to `JudgeClient`."""
    return JudgeClient(judge_url(name, start=start, timeout_s=timeout_s), **client_options)


def _starter() -> Any:
    import ray

    def start_on_the_cluster(spec: dict[str, Any]) -> str:
        return str(importlib.import_module(DEPLOY_MODULE).start_judge(spec))

    return ray.remote(num_cpus=0)(start_on_the_cluster)

"""Get or start a judge in the Ray cluster this process is connected to (`ray.init` done), by name; stop it.

The gateway actor is named `judge-gateway:<judge>` in namespace `genrm` and detached: it outlives the driver that
started it, so every trainer process (and a restarted one) attaches to the same judge. `stop_judge` (or
`ray.kill` of that actor) takes its engines and their placement group with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ray

from genrm_wire.ray_names import NAMESPACE, gateway_actor_name
from service.ray_serving.gateway_actor import JudgeGateway
from service.ray_serving.spec import RayJudgeSpec

GATEWAY_CPUS = 1


def start_judge(spec: RayJudgeSpec | dict[str, Any], cache_dir: str | Path = ".cache") -> str:
    """The URL of the judge named `spec.model.name`, started first if the cluster has none by that name."""
    judge = RayJudgeSpec.model_validate(spec)
    gateway: Any = ray.remote(JudgeGateway).options(
        name=gateway_actor_name(judge.model.name), namespace=NAMESPACE, lifetime="detached", get_if_exists=True,
        num_cpus=GATEWAY_CPUS, max_concurrency=64,
    ).remote()
    return str(ray.get(gateway.start.remote(judge.model_dump_json(), str(Path(cache_dir).resolve()))))


def stop_judge(name: str) -> bool:
    """Stop the judge named `name` and everything it started; False when there is none."""
    try:
        gateway = ray.get_actor(gateway_actor_name(name), namespace=NAMESPACE)
    except ValueError:
        return False
    ray.get(gateway.shutdown.remote())
    ray.kill(gateway, no_restart=True)
    return True

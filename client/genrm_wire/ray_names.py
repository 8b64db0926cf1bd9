"""Where a judge lives in a Ray cluster: the names and namespace that the service gives its actors
(service/ray_serving/) and the client looks them up by (genrm_client/ray_judge.py). Both sides read them here."""

from __future__ import annotations

NAMESPACE = "genrm"


def gateway_actor_name(judge: str) -> str:
    return f"judge-gateway:{judge}"


def engine_actor_name(judge: str, index: int) -> str:
    return f"judge-engine:{judge}:{index}"

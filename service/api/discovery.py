"""Where Prometheus finds the engines: `GET /prometheus/targets` in its HTTP service-discovery format.

The gateway knows every engine it routes to, however many a deployment runs (`gpus: "0,1,2,3"`), so Prometheus
asks it instead of a hand-kept target list. A managed engine listening on all interfaces (`bind_host: 0.0.0.0`)
is reachable at the host name Prometheus used to reach the gateway; an external one at its own URL.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from genrm_wire import ScrapeTargetGroup
from service.judging.registry import ModelRegistry

_ALL_INTERFACES = frozenset({"0.0.0.0", "::", ""})


def engine_targets(registry: ModelRegistry, gateway_host: str) -> list[ScrapeTargetGroup]:
    groups = []
    for model in registry:
        for member in model.engine.members:
            address = urlsplit(member.engine.base_url)
            host = address.hostname or gateway_host
            if member.managed is not None:
                bound = member.managed.settings.bind_host
                host = gateway_host if bound in _ALL_INTERFACES else bound
            labels = {"model": model.name, "version": model.version, "engine": member.name}
            if address.scheme == "https":
                labels["__scheme__"] = "https"
            if address.path not in ("", "/"):
                labels["__metrics_path__"] = f"{address.path.rstrip('/')}/metrics"
            port = address.port or (443 if address.scheme == "https" else 80)
            groups.append(ScrapeTargetGroup(targets=[f"{_bracketed(host)}:{port}"], labels=labels))
    return groups


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host

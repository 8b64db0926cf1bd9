"""The engines that serve a judge model: a vLLM server the gateway manages (`ManagedEngineSettings`), or one
someone else runs (`ExternalEngineSettings`). A managed engine on a GPU gets GPU defaults instead of the CPU
ones (service/engine/launch.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, HttpUrl, Tag


class ManagedEngineSettings(BaseModel):
    """A vLLM OpenAI-compatible server the gateway starts, health-checks, restarts and stops."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["managed"] = "managed"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: str | None = Field(default=None, description="Default: float32 on CPU (faster there), auto on GPU.")
    enforce_eager: bool | None = Field(
        default=None, description="Default: eager on CPU (torch.compile costs minutes there), CUDA graphs on GPU."
    )
    block_size: int | None = Field(
        default=None, description="KV block size. Default: 32 on CPU (its default 128 rarely hits the prefix "
        "cache), vLLM's own on GPU."
    )
    chunked_prefill: bool | None = Field(
        default=None,
        description="vLLM's chunked prefill. Default: off on CPU engines, where it crashes on per-request seeds "
        "(with it on, sampling.seed is refused); vLLM's own default on GPUs.",
    )
    cpu_kv_cache_gib: float = Field(default=1.0, gt=0, description="VLLM_CPU_KVCACHE_SPACE on CPU engines.")
    cpu_threads_bind: str | None = Field(
        default=None, description="VLLM_CPU_OMP_THREADS_BIND, e.g. '0' and '1' to pin two CPU engines apart."
    )
    gpu_memory_utilization: float | None = Field(default=None, gt=0, le=1)
    cuda_visible_devices: str | None = Field(default=None, description="e.g. '0', '1': one engine per GPU.")
    max_in_flight: int = Field(default=64, ge=1, description="Engine requests in flight on this engine.")
    port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port.")
    bind_host: str = Field(
        default="127.0.0.1", description="Where the engine listens. 0.0.0.0 lets a Prometheus in another "
        "container scrape it (deploy/compose/); the engine has no auth, so never publish that port.",
    )
    startup_timeout_s: float = Field(default=900, gt=0)
    extra_args: list[str] = Field(default_factory=list)


class ExternalEngineSettings(BaseModel):
    """An engine someone else runs: a vLLM OpenAI-compatible server at `url`."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["external"] = "external"
    url: HttpUrl
    served_model_name: str | None = Field(default=None, description="Defaults to the judge model's name.")
    per_request_seed: bool = True
    max_in_flight: int = Field(default=64, ge=1, description="Engine requests in flight on this engine.")


def _engine_kind(value: Any) -> str:
    """`kind` picks the engine type; without it an engine is managed, as `ManagedEngineSettings` defaults."""
    if isinstance(value, dict):
        return str(value.get("kind", "managed"))
    return "external" if isinstance(value, ExternalEngineSettings) else "managed"


EngineSettings = Annotated[
    Annotated[ManagedEngineSettings, Tag("managed")] | Annotated[ExternalEngineSettings, Tag("external")],
    Discriminator(_engine_kind),
]

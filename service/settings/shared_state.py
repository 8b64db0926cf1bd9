"""Shared state across gateway replicas: where it lives (Redis) and how long a replica trusts it to answer."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SharedStateSettings(BaseModel):
    """Redis for the judgment cache and the per-key rate limits of every replica configured with the same URL and
    prefix. Unset (the default), each replica keeps its own, as before."""

    model_config = ConfigDict(extra="forbid")

    redis_url: str = Field(pattern=r"^(redis|rediss|unix)://", description="e.g. redis://redis:6379/0; "
                           "rediss:// for TLS. Put a password in it through ${VAR} (config_file.py).")
    prefix: str = Field(default="genrm", pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
                        description="Namespace of this deployment's keys, so several can share one Redis.")
    cache_ttl_s: int = Field(default=86_400, ge=1, description="How long a shared judgment is kept.")
    timeout_s: float = Field(default=0.25, gt=0, le=10, description="Per Redis call; one that takes longer counts "
                             "as Redis being away.")
    retry_s: float = Field(default=5.0, gt=0, le=600, description="After Redis fails, how long replicas use "
                           "local state only before trying it again.")

"""Who may call and how much one call may carry: API keys (hashes, scopes, rates) and the request limits."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from genrm_wire.judging import MAX_TEXT_CHARS

KeyScope = Literal["judge", "admin"]  # what an API key may call (not an ASGI scope)
LOOPBACK_HOSTS = frozenset({"localhost", "ip6-localhost"})


class ApiKeySettings(BaseModel):
    """One API key, stored as its hash only (`python -m service.auth new --name NAME` makes one)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]*$", max_length=64,
                      description="Labels the key's metrics and log lines; the key itself is never logged.")
    hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$", description="`sha256:` and the hex SHA-256 of the key.")
    scopes: list[KeyScope] = Field(default_factory=lambda: list[KeyScope](["judge"]), min_length=1,
                                description="`judge`: the judging and listing routes; `admin`: /admin/*.")
    rate: float | None = Field(
        default=None, gt=0,
        description="Judging work per second this key may use, in judgments (items × votes × orders); "
        "unset: unlimited (still subject to each model's admission and fair share).",
    )
    burst: float | None = Field(
        default=None, gt=0, description="The token bucket's size; default: 30 seconds of `rate`.",
    )

    @property
    def bucket_size(self) -> float | None:
        if self.rate is None:
            return None
        return self.burst if self.burst is not None else 30 * self.rate


class RequestLimits(BaseModel):
    """What one request may carry; each refusal names the field and the limit (README, "Limits")."""

    model_config = ConfigDict(extra="forbid")

    max_body_bytes: int = Field(default=32 * 2**20, ge=1024, description="Checked before parsing: 413.")
    max_discarded_body_bytes: int = Field(
        default=128 * 2**20, ge=0,
        description="A body refused unread (413, 401, 503 …) is still read and thrown away up to this many bytes, "
        "so that a client that sends it all before reading (urllib, requests) gets the answer instead of a reset "
        "connection; past it, or after `discard_deadline_s`, the connection is closed.",
    )
    discard_deadline_s: float = Field(default=30.0, gt=0, le=600, description="See `max_discarded_body_bytes`.")
    max_json_depth: int = Field(default=32, ge=4, description="Nesting of arrays and objects in a body.")
    max_text_chars: int = Field(
        default=MAX_TEXT_CHARS, ge=1, le=MAX_TEXT_CHARS,
        description=f"One prompt, response or message; at most the wire's hard cap of {MAX_TEXT_CHARS:,}, which "
        "every request model enforces first.",
    )
    max_request_chars: int = Field(default=8_000_000, ge=1, description="All texts of one request together.")
    max_generated_tokens: int = Field(
        default=4_000_000, ge=1,
        description="The request's token budget: judgments (items × votes × orders) × max_tokens each.",
    )


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False

"""Keys, token buckets, fair share and the refusal to serve a public port openly."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from service.auth.api_keys import Keyring, hash_key, new_key
from service.auth.quota import TokenBucket
from service.engine.pool import EnginePool, PoolMember
from service.engine.vllm_client import VLLMEngine
from service.errors import Overloaded
from service.judging.admission import Admission
from service.metrics import Metrics
from service.settings import ApiKeySettings, Settings


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_refills_at_its_rate_and_says_how_long_to_wait() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=10, size=20, clock=clock)
    assert bucket.take(15) is None
    assert bucket.take(10) == pytest.approx(0.5)  # 5 left, 5 more at 10/s
    clock.now = 0.5
    assert bucket.take(10) is None
    assert bucket.take(1) == pytest.approx(0.1)


def test_a_request_larger_than_the_bucket_passes_when_full_and_leaves_a_debt() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=10, size=20, clock=clock)
    assert bucket.take(50) is None  # never refused forever
    assert bucket.take(1) == pytest.approx(3.1)  # -30 → 1 needs 31 tokens
    assert bucket.take(50) == pytest.approx(5.0)  # waits for a full bucket, not for 50


def test_keys_are_recognised_by_hash_only() -> None:
    key = new_key()
    ring = Keyring([ApiKeySettings(name="a", hash=hash_key(key))])
    found = ring.identify(key)
    assert found is not None and found.name == "a" and found.scopes == frozenset({"judge"})
    assert ring.identify(key + "x") is None and ring.identify("") is None and ring.identify("k" * 10_000) is None
    assert key.startswith("genrm_") and len(key) > 40 and new_key() != key


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.5", "::", "judge.internal"])
def test_a_public_address_without_keys_is_refused_with_the_fix(host: str) -> None:
    with pytest.raises(ValidationError, match="python -m service.auth new") as error:
        Settings(host=host)
    assert "allow_unauthenticated" in str(error.value)
    assert Settings(host=host, allow_unauthenticated=True).host == host
    assert Settings(host=host, api_keys=[ApiKeySettings(name="a", hash=hash_key("k"))]).api_keys


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_needs_no_keys(host: str) -> None:
    assert Settings(host=host).host == host


def test_two_keys_may_not_share_a_name() -> None:
    key = ApiKeySettings(name="a", hash=hash_key("k"))
    with pytest.raises(ValidationError, match="its own name"):
        Settings(api_keys=[key, key.model_copy(update={"hash": hash_key("other")})])


def admission(max_in_flight: int = 4, max_queued: int = 4) -> Admission:
    metrics = Metrics()
    engine = VLLMEngine("http://engine", "judge", httpx.AsyncClient())
    pool = EnginePool("judge", [PoolMember("judge/0", engine, max_in_flight)], metrics)
    return Admission("judge", pool, max_queued, metrics)


def test_one_tenants_burst_fills_an_idle_model_but_not_a_shared_one() -> None:
    gate = admission()  # limit 8
    with gate.admit(6, tenant="a"):
        with pytest.raises(Overloaded), gate.admit(4, tenant="b"):  # over 8: refused; b now counts as waiting
            pass
        with pytest.raises(Overloaded, match="fair share of 4"), gate.admit(1, tenant="a"):  # a holds 6 of 8
            pass
        with gate.admit(2, tenant="b"):  # b's share is open to it
            assert gate.by_tenant == {"a": 6, "b": 2}
    assert gate.pending == 0 and gate.by_tenant == {}

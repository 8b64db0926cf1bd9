"""Submit and poll (`/v1/jobs`): a job answers what its route answers, fills in item by item, is not judged
twice for a retried submit, cancels, queues through overload, and reports every mistake under `request.`."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from genrm_client import CompareItemIn, CompareRequest, GroupIn, GroupRequest, JudgeRequestError
from tests.fakes import pointwise_completion
from tests.waiting import metric_value, until

CHAT = {"task": "chat"}


def item(n: int, **extra: Any) -> dict[str, Any]:
    return {"prompt": f"Question {n}?", "response": f"Answer {n}.", **extra}


async def finished(client: httpx.AsyncClient, job_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Long-poll until the job ends (each poll returns on progress, so this loop is bounded by the items)."""
    seen = 0
    for _ in range(100):
        job: dict[str, Any] = (await client.get(f"/v1/jobs/{job_id}", params={"wait_s": 10, "seen": seen},
                                                headers=headers)).json()
        if job["state"] in ("succeeded", "failed", "cancelled"):
            return job
        seen = job["items_done"]
    raise AssertionError(f"job {job_id} never ended: {job}")


async def test_a_job_answers_what_its_route_answers(make_client) -> None:
    request = {**CHAT, "votes": 2, "items": [item(0, id="first"), item(1), item(2)]}
    async with make_client() as (client, _):
        submitted = await client.post("/v1/jobs", json={"route": "score", "request": request})
        job = await finished(client, submitted.json()["id"])
        direct = (await client.post("/v1/score", json=request)).json()
    assert submitted.status_code == 202 and submitted.json()["items_total"] == 3
    assert job["state"] == "succeeded" and job["items_done"] == 3 and job["error"] is None
    assert sorted(entry["index"] for entry in job["items"]) == [0, 1, 2]
    assert [i["id"] for i in job["result"]["items"]] == ["first", "1", "2"]  # ids as the route gives them
    assert job["result"]["items"] == direct["items"]
    assert job["result"]["usage"] == direct["usage"]
    assert {k: v for k, v in job["result"].items() if k not in ("items", "usage")} == \
        {k: v for k, v in direct.items() if k not in ("items", "usage")}


async def test_items_fill_in_while_the_job_runs(make_client, decode) -> None:
    release = asyncio.Event()

    async def last_one_waits(body: dict[str, Any]) -> list[str]:
        if "Question 2?" in decode(body):
            await release.wait()
        return [pointwise_completion("6")]

    async with make_client(last_one_waits) as (client, _):
        job_id = (await client.post("/v1/jobs", json={"route": "score", "request": {
            **CHAT, "items": [item(0), item(1), item(2)]}})).json()["id"]
        partial = (await client.get(f"/v1/jobs/{job_id}", params={"wait_s": 30, "seen": 1})).json()
        release.set()
        job = await finished(client, job_id)
    assert partial["state"] == "running" and partial["items_done"] == 2  # waited past 1, not yet the third
    assert sorted(entry["index"] for entry in partial["items"]) == [0, 1] and partial["result"] is None
    assert all(entry["item"]["status"] == "ok" for entry in partial["items"])
    assert job["state"] == "succeeded" and job["items_done"] == 3


async def test_a_retried_submit_returns_the_first_job_and_judges_nothing_again(make_client) -> None:
    submit = {"route": "score", "request": {**CHAT, "items": [item(0), item(1)]}}
    key = {"Idempotency-Key": "step-12-batch-3"}
    async with make_client() as (client, fake):
        first = await client.post("/v1/jobs", json=submit, headers=key)
        await finished(client, first.json()["id"])
        engine_calls = len(fake.requests)
        again = await client.post("/v1/jobs", json=submit, headers=key)
        other = await client.post("/v1/jobs", json={**submit, "request": {**CHAT, "items": [item(5)]}}, headers=key)
        fresh = await client.post("/v1/jobs", json=submit)
        await finished(client, fresh.json()["id"])
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.json()["state"] == "succeeded"
    assert again.json()["idempotency_key"] == "step-12-batch-3"
    assert engine_calls == 2 and len(fake.requests) == 4  # the retry added nothing; the keyless submit judged
    assert other.status_code == 422 and other.json()["error"]["param"] == "Idempotency-Key"
    assert fresh.json()["id"] != first.json()["id"]


async def test_cancel_stops_a_running_job_and_its_engine_work(make_client) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def held(_: dict[str, Any]) -> list[str]:
        started.set()
        await release.wait()
        return [pointwise_completion("6")]

    async with make_client(held) as (client, fake):
        job_id = (await client.post("/v1/jobs", json={"route": "score", "request": {
            **CHAT, "items": [item(0), item(1)]}})).json()["id"]
        await asyncio.wait_for(started.wait(), 10)  # the job is judging: its engine request is in flight
        cancelled = await client.delete(f"/v1/jobs/{job_id}")
        later = (await client.get(f"/v1/jobs/{job_id}")).json()
        cancelled_at_engine = fake.cancelled
        metrics = (await client.get("/metrics")).text
        release.set()
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert later["state"] == "cancelled" and later["result"] is None and later["finished_at"] is not None
    assert cancelled_at_engine >= 1
    assert 'genrm_jobs_total{route="score",state="cancelled"} 1.0' in metrics
    assert "genrm_jobs_active 0.0" in metrics


async def test_an_overloaded_gateway_queues_the_job_instead_of_refusing_it(make_client) -> None:
    release = asyncio.Event()

    async def blocked(_: dict[str, Any]) -> list[str]:
        await release.wait()
        return [pointwise_completion("5")]

    engines = [{"kind": "external", "url": "http://fake-vllm:8000", "max_in_flight": 1}]
    async with make_client(blocked, engines=engines, max_queued_requests=1) as (client, fake):
        job_id = (await client.post("/v1/jobs", json={"route": "score", "request": {
            **CHAT, "items": [item(n) for n in range(4)]}})).json()["id"]

        async def refused_for_load() -> bool:
            metrics = (await client.get("/metrics")).text
            return metric_value(metrics, "genrm_rejected_requests_total", reason="overloaded") > 0

        await until(refused_for_load, "admission refused one of the job's items for load")
        refused = await client.post("/v1/score", json={**CHAT, "items": [item(9)]})
        release.set()
        job = await finished(client, job_id)
    assert refused.status_code == 429  # a synchronous request at that moment is refused
    assert job["state"] == "succeeded" and [i["status"] for i in job["result"]["items"]] == ["ok"] * 4


async def test_mistakes_name_the_field_under_request(make_client) -> None:
    async with make_client() as (client, _):
        missing = await client.post("/v1/jobs", json={"route": "score", "request": {
            **CHAT, "items": [{"prompt": "p"}]}})
        route = await client.post("/v1/jobs", json={"route": "rank", "request": {}})
        too_many = await client.post("/v1/jobs", json={"route": "score", "request": {
            **CHAT, "items": [item(n) for n in range(17)]}})
        twice = await client.post("/v1/jobs", json={"route": "score", "request": {
            **CHAT, "items": [item(0, id="x"), item(1, id="x")]}})
        unknown_model = (await client.post("/v1/jobs", json={"route": "score", "request": {
            **CHAT, "model": "nope", "items": [item(0)]}})).json()
        failed = await finished(client, unknown_model["id"])
        unread = (await client.post("/v1/jobs", json={"route": "score", "request": {
            **CHAT, "items": [item(0), item(1, reference="42")]}})).json()
        unread_failed = await finished(client, unread["id"])
        nowhere = await client.get("/v1/jobs/job_000")
        waited_too_long = await client.get(f"/v1/jobs/{unread['id']}", params={"wait_s": 61})
    assert missing.status_code == 422 and missing.json()["error"]["param"] == "request.items.0.response"
    assert route.status_code == 422 and route.json()["error"]["param"] == "route"
    assert too_many.status_code == 413 and too_many.json()["error"]["param"] == "request.items"
    assert twice.status_code == 422 and twice.json()["error"]["param"] == "request.items.1.id"
    assert failed["state"] == "failed" and failed["error"]["code"] == 404
    assert failed["error"]["param"] == "request.model"
    assert unread_failed["state"] == "failed" and unread_failed["error"]["code"] == 422
    assert unread_failed["error"]["param"] == "request.items.1.reference"
    assert nowhere.status_code == 404 and nowhere.json()["error"]["param"] == "job_id"
    assert waited_too_long.status_code == 422 and waited_too_long.json()["error"]["param"] == "query.wait_s"


async def test_the_client_runs_a_job_to_its_typed_response(make_judge) -> None:
    groups = GroupRequest(task="chat", mode="pointwise", groups=[
        GroupIn(prompt="Name a colour.", rollouts=["Red.", "Blue.", "Green."]),
        GroupIn(id="g2", prompt="Name a fruit.", rollouts=["Apple.", "Pear."])])
    compare = CompareRequest(task="chat", items=[
        CompareItemIn(prompt="Hi", response_a="Hello!", response_b="Go away.")])
    async with make_judge() as (judge, _):
        answer = await judge.run_job(groups, idempotency_key="g-1")
        direct = await judge.groups(groups)
        with pytest.raises(JudgeRequestError) as refused:
            await judge.run_job(compare.model_copy(update={"model": "nope"}))
    assert type(answer) is type(direct) and answer.model_dump() == direct.model_dump()
    assert refused.value.status == 404 and refused.value.param == "request.model"


async def test_a_job_and_its_idempotency_key_belong_to_the_key_that_submitted_it(make_client) -> None:
    from service.auth.api_keys import hash_key

    keys = [{"name": name, "hash": hash_key(f"genrm_{name}-key"), "scopes": ["judge"]} for name in ("one", "two")]
    one, two = ({"Authorization": f"Bearer genrm_{name}-key"} for name in ("one", "two"))
    submit = {"route": "score", "request": {**CHAT, "items": [item(0)]}}
    async with make_client(service={"api_keys": keys}) as (client, _):
        mine = await client.post("/v1/jobs", json=submit, headers={**one, "Idempotency-Key": "k"})
        theirs = await client.post("/v1/jobs", json=submit, headers={**two, "Idempotency-Key": "k"})
        peek = await client.get(f"/v1/jobs/{mine.json()['id']}", headers=two)
        cancel = await client.delete(f"/v1/jobs/{mine.json()['id']}", headers=two)
        own = await finished(client, mine.json()["id"], one)
    assert mine.status_code == theirs.status_code == 202 and mine.json()["id"] != theirs.json()["id"]
    assert peek.status_code == 404 and cancel.status_code == 404
    assert own["state"] == "succeeded"



class GatewayRestart(httpx.AsyncBaseTransport):
    """The first request reaches `before`; every later one `after`: a gateway that restarted right after the
    submit (a fresh process knows no jobs)."""

    def __init__(self, before: httpx.AsyncBaseTransport, after: httpx.AsyncBaseTransport) -> None:
        self.before, self.after, self.requests = before, after, []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        target = self.before if len(self.requests) == 1 else self.after
        return await target.handle_async_request(request)


async def test_run_job_submits_again_when_the_gateway_lost_the_job(bundled_model_dir) -> None:
    from genrm_client import AsyncJudgeClient, ScoreItemIn, ScoreRequest
    from tests.api.conftest import gateway_transport

    request = ScoreRequest(task="chat", items=[ScoreItemIn(prompt="Hi", response="Hello!")])
    async with (gateway_transport(bundled_model_dir) as (first, _),
                gateway_transport(bundled_model_dir) as (second, engine_after)):
        restart = GatewayRestart(first, second)
        async with AsyncJudgeClient("http://gateway", transport=restart) as judge:
            answer = await judge.run_job(request, idempotency_key="k-1")
    assert [line.split()[0] for line in restart.requests[:3]] == ["POST", "GET", "POST"]  # submit, 404, again
    assert all(line.split()[1].startswith("/v1/jobs") for line in restart.requests)
    assert answer.items[0].status == "ok" and len(engine_after.requests) == 1  # judged again after the restart

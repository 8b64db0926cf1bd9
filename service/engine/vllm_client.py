"""`VLLMEngine`: one vLLM OpenAI-compatible HTTP server, spoken to with httpx.

Every way an engine call can fail is one of the service's engine errors, so the pool retries it on another
engine or the item fails alone (never the batch): unreachable or dropped (`EngineUnavailable`), slow
(`EngineTimeout`), 5xx or garbage (`EngineServerError`), 4xx (`UpstreamError`). Two answers look like success
and are not: a completion vLLM aborted (`finish_reason: abort`, what a server shutting down answers for the work
it held; its text is cut short, not a judgment) and one with fewer choices than asked for; both are the engine's
failure. An exception the HTTP client raises that names none of these is logged with its traceback and taken as
the engine's failure too.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from service.engine.forcing_contract import FORCE_AT
from service.engine.requests import GenerationRequest, GenerationResult, Sample
from service.errors import EngineServerError, EngineTimeout, EngineUnavailable, UpstreamError

HEALTH_TIMEOUT_S = 3.0
# An engine that has not accepted a connection in this long is not there (it is retried on another engine).
ENGINE_CONNECT_TIMEOUT_S = 10.0
RETRY_AFTER_S = 5.0
TOKEN_ID_PREFIX = "token_id:"
ABORTED = "abort"

logger = logging.getLogger(__name__)


class VLLMEngine:
    def __init__(self, base_url: str, served_model_name: str, client: httpx.AsyncClient) -> None:
        self.base_url = base_url.rstrip("/")
        self.served_model_name = served_model_name
        self._client = client

    def moved_to(self, base_url: str) -> VLLMEngine:
        """The same engine client for a server that now answers at `base_url` (an engine restarted elsewhere)."""
        return VLLMEngine(base_url, self.served_model_name, self._client)

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        body = self._body(request)
        try:
            response = await self._client.post(f"{self.base_url}/v1/completions", json=body)
        except httpx.ConnectTimeout as error:  # not slow but not there: another engine may take it
            raise EngineUnavailable(
                f"engine at {self.base_url} did not accept a connection in time: {error!r}", retry_after=RETRY_AFTER_S
            ) from error
        except httpx.TimeoutException as error:
            raise EngineTimeout(f"engine at {self.base_url} did not answer in time: {error!r}") from error
        except httpx.HTTPError as error:  # transport errors, and the client's own (a body it cannot decode)
            raise EngineUnavailable(
                f"engine at {self.base_url} is unreachable: {error!r}", retry_after=RETRY_AFTER_S
            ) from error
        except Exception as error:  # the HTTP stack failed without saying how: the engine call failed, not the batch
            logger.exception("the HTTP client failed on a request to engine %s in a way it does not name",
                             self.base_url, extra={"event": "engine_client_failure", "url": self.base_url})
            raise EngineServerError(f"the request to engine at {self.base_url} failed: {error!r}") from error
        if response.status_code >= 500:
            raise EngineServerError(f"engine failed with {response.status_code}: {response.text[:500]}")
        if response.status_code != 200:
            raise UpstreamError(f"engine refused the request ({response.status_code}): {response.text[:500]}")
        try:
            payload = response.json()
        except ValueError as error:
            raise EngineServerError(f"engine at {self.base_url} answered garbage, not JSON: "
                                    f"{response.text[:200]!r}") from error
        result = _result(payload)
        if len(result.samples) != request.n or any(sample.finish_reason == ABORTED for sample in result.samples):
            reasons = [sample.finish_reason for sample in result.samples]
            raise EngineUnavailable(
                f"engine at {self.base_url} aborted the request ({len(result.samples)} of {request.n} samples, "
                f"finish reasons {reasons}): it is shutting down or dropped the work", retry_after=RETRY_AFTER_S)
        return result

    async def healthy(self) -> bool:
        try:
            response = await self._client.get(f"{self.base_url}/health", timeout=HEALTH_TIMEOUT_S)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def _body(self, request: GenerationRequest) -> dict[str, Any]:
        sampling = request.sampling
        body: dict[str, Any] = {
            "model": self.served_model_name,
            "prompt": list(request.prompt_token_ids),
            "n": request.n,
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "skip_special_tokens": True,
        }
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        if request.regex is not None:
            body["structured_outputs"] = {"regex": request.regex}
        if request.force_at is not None:
            body["vllm_xargs"] = {FORCE_AT: request.force_at}
            body["return_token_ids"] = True  # each sample's length says whether it reached `force_at`
        if request.top_logprobs is not None:
            body["logprobs"] = request.top_logprobs
            body["return_tokens_as_token_ids"] = True  # keys `token_id:N`: two tokens never share a key
        if request.allowed_token_ids is not None:
            body["allowed_token_ids"] = list(request.allowed_token_ids)
        return body


def _result(payload: dict[str, Any]) -> GenerationResult:
    try:
        choices = sorted(payload["choices"], key=lambda choice: int(choice["index"]))
        usage = payload["usage"]
        return GenerationResult(
            samples=[Sample(str(c["text"]), c.get("finish_reason"),
                            len(c["token_ids"]) if c.get("token_ids") is not None else None,
                            _first_top_logprobs(c.get("logprobs"))) for c in choices],
            prompt_tokens=int(usage["prompt_tokens"]),
            completion_tokens=int(usage["completion_tokens"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        # A broken engine, not a bad request: another engine may answer properly.
        raise EngineServerError(f"engine answered an unexpected completion payload: {error!r}") from error


def _first_top_logprobs(logprobs: dict[str, Any] | None) -> dict[int, float] | None:
    """The first generated position's top log-probabilities, keyed `token_id:N` (`return_tokens_as_token_ids`)."""
    if not logprobs or not logprobs.get("top_logprobs"):
        return None
    first = logprobs["top_logprobs"][0] or {}
    return {int(key.removeprefix(TOKEN_ID_PREFIX)): float(value) for key, value in first.items()}

"""What the app holds while it runs, built in the lifespan from `Settings`: rubrics, models, engines, judges."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from models.bundled import prepare_bundled_model
from models.chat import ChatTemplate
from models.rubrics import RubricLibrary
from service.engine.supervisor import EngineState, ManagedEngine
from service.engine.vllm_client import VLLMEngine
from service.judging.comparing import PairwiseJudge
from service.judging.registry import JudgeModel, ModelRegistry
from service.judging.requests import Limits
from service.judging.runner import JudgmentRunner
from service.judging.scoring import PointwiseJudge
from service.metrics import Metrics
from service.settings import JudgeModelSettings, ManagedEngineSettings, Settings

logger = logging.getLogger(__name__)


@dataclass
class AppState:
    settings: Settings
    metrics: Metrics
    rubrics: RubricLibrary
    registry: ModelRegistry
    limits: Limits
    pointwise: PointwiseJudge
    pairwise: PairwiseJudge
    managed: dict[str, ManagedEngine] = field(default_factory=dict)

    def engine_available(self, model: JudgeModel) -> bool:
        managed = self.managed.get(model.name)
        return managed is None or managed.state == EngineState.READY


async def build_state(
    settings: Settings,
    metrics: Metrics,
    stack: AsyncExitStack,
    engine_transport: httpx.AsyncBaseTransport | None = None,
) -> AppState:
    rubrics = RubricLibrary.load(settings.rubrics_dir)
    managed: dict[str, ManagedEngine] = {}
    models = []
    for config in settings.models:
        client = await stack.enter_async_context(
            httpx.AsyncClient(
                timeout=httpx.Timeout(config.request_timeout_s, connect=5.0),
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
                transport=engine_transport,
            )
        )
        model, engine = await _judge_model(config, settings, client)
        if engine is not None:
            managed[config.name] = engine
            await engine.start()
            stack.push_async_callback(engine.stop)
        models.append(model)
    runner = JudgmentRunner(metrics)
    return AppState(
        settings=settings, metrics=metrics, rubrics=rubrics,
        registry=ModelRegistry(models, settings.default_model_name),
        limits=Limits(settings.max_items_per_request, settings.max_votes),
        pointwise=PointwiseJudge(runner), pairwise=PairwiseJudge(runner), managed=managed,
    )


async def _judge_model(
    config: JudgeModelSettings, settings: Settings, client: httpx.AsyncClient
) -> tuple[JudgeModel, ManagedEngine | None]:
    engine_settings = config.engine
    if isinstance(engine_settings, ManagedEngineSettings):
        model_path = engine_settings.model_path
        if model_path is None:
            model_path = await asyncio.to_thread(prepare_bundled_model, settings.cache_dir / "models")
        managed = ManagedEngine(config.name, model_path, engine_settings, settings.cache_dir / "run")
        url, served_name, tokenizer_path = managed.url, config.name, model_path
        max_model_len = engine_settings.max_model_len
        per_request_seed = managed.device != "cpu"
    else:
        managed = None
        url, tokenizer_path = str(engine_settings.url), engine_settings.tokenizer_path
        served_name = engine_settings.served_model_name or config.name
        max_model_len, per_request_seed = engine_settings.max_model_len, engine_settings.per_request_seed
    template = await asyncio.to_thread(ChatTemplate.from_directory, Path(tokenizer_path))
    model = JudgeModel(
        name=config.name, version=config.version, formats=frozenset(config.formats),
        constrained=config.constrained, template=template, engine=VLLMEngine(url, served_name, client),
        max_model_len=max_model_len, sampling=config.sampling, per_request_seed=per_request_seed,
        concurrency=asyncio.Semaphore(config.max_concurrent_requests),
    )
    return model, managed

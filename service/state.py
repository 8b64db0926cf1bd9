"""What the app holds while it runs, built in the lifespan from `Settings`: rubrics, models, engines, judges."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import get_args

import httpx

from genrm_wire.judging import FlagKind
from models.bundled import prepare_bundled_model
from models.chat import ChatTemplate
from models.formats.framing import Framing
from models.formats.sections import FormatFailure
from models.integrity.flags import FlagDetector
from models.rubrics import RubricLibrary
from service.auth.quota import Quotas
from service.engine.cpu_binding import allowed_cores, binding, choose_cores, core_busy_fractions, cores_per_engine
from service.engine.pool import EnginePool, PoolMember
from service.engine.supervisor import ManagedEngine
from service.engine.vllm_client import ENGINE_CONNECT_TIMEOUT_S, VLLMEngine
from service.judging import telemetry
from service.judging.admission import Admission
from service.judging.cache import JudgmentCache
from service.judging.comparing import PairwiseJudge
from service.judging.equivalence import EquivalenceJudge
from service.judging.groups import GroupJudge
from service.judging.registry import JudgeModel, ModelRegistry
from service.judging.rubric_store import RubricStore
from service.judging.runner import JudgmentRunner
from service.judging.scoring import PointwiseJudge
from service.judging.steps import StepJudge
from service.judging.trajectories import TrajectoryJudge
from service.metrics import Metrics
from service.orchestration.jobs import JobLimits, JobStore
from service.orchestration.limits import Limits
from service.orchestration.resolving import Resolver
from service.settings import JudgeModelSettings, ManagedEngineSettings, Settings
from service.sharing.redis_link import SHARED_OPERATIONS, RedisLink
from service.verifying.pool import VerifierPool
from service.verifying.scorer import VerifiedScorer


@dataclass
class AppState:
    metrics: Metrics
    rubric_store: RubricStore
    registry: ModelRegistry
    resolver: Resolver
    pointwise: PointwiseJudge
    pairwise: PairwiseJudge
    scorer: VerifiedScorer  # /v1/score and pointwise rewards: the pointwise judge, or a verifier's plan
    groups: GroupJudge
    steps: StepJudge
    trajectories: TrajectoryJudge
    quotas: Quotas
    jobs: JobStore
    managed: list[ManagedEngine] = field(default_factory=list)

    @property
    def rubrics(self) -> RubricLibrary:
        """The library in service now (a reload swaps it)."""
        return self.rubric_store.library

async def build_state(
    settings: Settings,
    metrics: Metrics,
    stack: AsyncExitStack,
    engine_transport: httpx.AsyncBaseTransport | None = None,
) -> AppState:
    rubric_store = RubricStore(settings.rubrics_dir, RubricLibrary.load(settings.rubrics_dir), metrics)
    client = await stack.enter_async_context(
        httpx.AsyncClient(
            timeout=httpx.Timeout(max(m.request_timeout_s for m in settings.models), connect=ENGINE_CONNECT_TIMEOUT_S),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=256),
            transport=engine_transport,
        )
    )
    managed: list[ManagedEngine] = []
    models = []
    metrics.declare_routes()
    metrics.declare_verifiers()
    metrics.declare_keys([key.name for key in settings.api_keys])
    for config in settings.models:
        model = await _judge_model(config, settings, client, metrics, managed)
        metrics.declare_model(model.name, model.version, model.constrained, sorted(model.formats),
                              [member.name for member in model.engine.members], list(FormatFailure),
                              telemetry.TASK_LABELS, get_args(FlagKind))
        models.append(model)
    await asyncio.to_thread(assign_cpu_cores, managed)
    for engine in managed:
        await engine.start()
        stack.push_async_callback(engine.stop)
    for model in models:
        model.engine.start_health_checks()
        stack.push_async_callback(model.engine.stop_health_checks)
    runner = JudgmentRunner(metrics)
    shared = None
    if settings.shared_state is not None:
        shared = RedisLink(settings.shared_state, metrics)
        stack.push_async_callback(shared.close)
        metrics.declare_shared_state(SHARED_OPERATIONS)
    cache = JudgmentCache(settings.cache_max_entries, metrics, shared)
    registry = ModelRegistry(models, settings.default_model_name)
    pointwise, pairwise = PointwiseJudge(runner, cache, metrics), PairwiseJudge(runner, cache, metrics)
    verifiers = VerifierPool(settings.verifier_workers)
    stack.callback(verifiers.close)
    scorer = VerifiedScorer(pointwise, EquivalenceJudge(runner, cache, metrics), verifiers, metrics)
    steps = StepJudge(runner, cache, metrics)
    jobs = JobStore(JobLimits(), metrics)
    stack.push_async_callback(jobs.close)  # first out: jobs stop before the engines they run on
    return AppState(
        metrics=metrics, rubric_store=rubric_store, registry=registry,
        resolver=Resolver(registry, rubric_store,
                          Limits(settings.max_items_per_request, settings.max_votes, settings.limits)),
        pointwise=pointwise, pairwise=pairwise, scorer=scorer, groups=GroupJudge(scorer, pairwise, steps),
        steps=steps, trajectories=TrajectoryJudge(runner, cache, metrics),
        quotas=Quotas(settings.api_keys, metrics, shared=shared), jobs=jobs, managed=managed,
    )


def assign_cpu_cores(managed: list[ManagedEngine], allowed: list[int] | None = None,
                     busy: dict[int, float] | None = None) -> None:
    """Pin every CPU engine without a `cpu_threads_bind` to the least busy cores no other engine here has
    (service/engine/cpu_binding.py says why vLLM's own default is not used). `allowed` and `busy` default to
    this machine's cores and their load now."""
    unpinned = [engine for engine in managed if engine.device == "cpu" and engine.cpu_binding is None]
    if not unpinned:
        return
    allowed = allowed_cores() if allowed is None else allowed
    taken = {int(core) for engine in managed if engine.cpu_binding for core in _cores_of(engine.cpu_binding)}
    busy = core_busy_fractions() if busy is None else busy
    count = cores_per_engine(len([e for e in managed if e.device == "cpu"]), len(allowed))
    for engine in unpinned:
        cores = choose_cores(count, taken, busy, allowed)
        engine.cpu_binding = binding(cores)
        taken.update(cores)


def _cores_of(bind: str) -> list[int]:
    """The cores of a `VLLM_CPU_OMP_THREADS_BIND` value: `0,1`, `0-3`, or ranks split by `|`."""
    cores: list[int] = []
    for part in bind.replace("|", ",").split(","):
        first, _, last = part.strip().partition("-")
        if first.isdigit():
            cores.extend(range(int(first), int(last) + 1) if last.isdigit() else [int(first)])
    return cores


async def _judge_model(
    config: JudgeModelSettings,
    settings: Settings,
    client: httpx.AsyncClient,
    metrics: Metrics,
    managed: list[ManagedEngine],
) -> JudgeModel:
    model_path = config.model_path
    if model_path is None:
        model_path = await asyncio.to_thread(prepare_bundled_model, settings.cache_dir / "models")
    members = []
    per_request_seed = True
    for index, engine_settings in enumerate(config.served_engines()):
        name = f"{config.name}/{index}"
        if isinstance(engine_settings, ManagedEngineSettings):
            process = ManagedEngine(name, config.name, model_path, config.max_model_len, engine_settings,
                                    settings.cache_dir / "run")
            managed.append(process)
            per_request_seed &= process.takes_per_request_seeds
            members.append(PoolMember(name, VLLMEngine(process.url, config.name, client),
                                      engine_settings.max_in_flight, managed=process))
        else:
            served = engine_settings.served_model_name or config.name
            per_request_seed &= engine_settings.per_request_seed
            members.append(PoolMember(name, VLLMEngine(str(engine_settings.url), served, client),
                                      engine_settings.max_in_flight))
    pool = EnginePool(config.name, members, metrics)
    template = await asyncio.to_thread(ChatTemplate.from_directory, Path(model_path))
    return JudgeModel(
        name=config.name, version=config.version, formats=frozenset(config.formats),
        constrained=config.constrained, template=template, engine=pool,
        framing=Framing(template.special_tokens, config.markup_display),
        flag_detector=FlagDetector(template.special_tokens),
        admission=Admission(config.name, pool, config.max_queued_requests, metrics),
        max_model_len=config.max_model_len, sampling=config.sampling, per_request_seed=per_request_seed,
        request_timeout_s=config.request_timeout_s, forces_in_engine=_forces_in_engine(config),
    )


def _forces_in_engine(config: JudgeModelSettings) -> bool:
    """`auto`: managed engines load the forced-ending processor; an external one may not have it. The answer's
    grammar is what ends a forced judgment, so an unconstrained checkpoint keeps the second request."""
    if config.forced_ending == "auto":
        every_managed = all(isinstance(e, ManagedEngineSettings) for e in config.served_engines())
        return every_managed and config.constrained
    return config.forced_ending == "in_engine" and config.constrained

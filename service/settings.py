"""Configuration, parsed once at the edge: environment (`GENRM_` prefix, `__` for nesting) over an optional YAML
file over defaults. Nothing else in the service reads the environment.

The default registry holds one judge model, the bundled SmolLM2-135M-Instruct, on a managed vLLM engine with
CPU-fast settings (eager fp32, 1 GiB KV cache, 32-token blocks so the shared judge instructions hit the prefix
cache). A managed engine on a GPU gets GPU defaults instead (dtype auto, CUDA graphs, vLLM's block size and
chunked prefill); `gpus: "0,1"` on a model runs one engine per GPU (see deploy/).

A YAML config file may read the environment: `${VAR}` and `${VAR:-default}` are replaced before it is parsed, so
one file serves every host of a deployment (deploy/compose/).
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    HttpUrl,
    Tag,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from genrm_wire.judging import MAX_TEXT_CHARS
from models.checkpoints import read_manifest
from models.formats.framing import Display
from service.logs import LogFormat

FormatName = Literal["pointwise", "pairwise"]
ALL_FORMATS: tuple[FormatName, ...] = ("pointwise", "pairwise")


class SamplingDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(default=0.8, ge=0, le=2)
    top_p: float = Field(default=0.95, gt=0, le=1)
    max_tokens: int = Field(default=256, ge=1, le=32768)


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


def _one_managed_engine() -> list[EngineSettings]:
    return [ManagedEngineSettings()]


class JudgeModelSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]*$", max_length=100)
    version: str = Field(min_length=1, max_length=100)
    formats: list[FormatName] = Field(default_factory=lambda: list(ALL_FORMATS), min_length=1)
    constrained: bool = Field(
        default=True,
        description="Constrain completions with the format's grammar. Turn off only for checkpoints trained "
        "on the format; then parse failures are what callers see.",
    )
    model_path: Path | None = Field(
        default=None,
        description="Hugging Face model directory: managed engines load it and the gateway renders prompts with "
        "its tokenizer and chat template. Empty means the bundled model.",
    )
    max_model_len: int = Field(default=2048, ge=256, description="The judge's context, in tokens.")
    engines: list[EngineSettings] = Field(
        default_factory=lambda: _one_managed_engine(), min_length=1,
        description="The engines serving this model: managed processes and/or external URLs.",
    )
    gpus: list[str] | None = Field(
        default=None, min_length=1,
        description="CUDA device ids (a list or '0,1,2'): one managed engine per GPU, each a copy of the one "
        "managed engine in `engines`, pinned to its GPU; with a fixed `port`, engine i listens on port + i.",
    )
    sampling: SamplingDefaults = Field(default_factory=SamplingDefaults)
    max_queued_requests: int = Field(
        default=1024, ge=0,
        description="Engine requests admitted beyond what the engines hold in flight; past it, 429.",
    )
    request_timeout_s: float = Field(default=600, gt=0, description="Default deadline of a judging request.")
    markup_display: Display = Field(
        default=Display.STRIP,
        description="How reserved markup found in untrusted text is shown to the judge: `strip` (removed; "
        "steers the judge least), `bracketed` (`[answer]`), or `lookalike` (the pre-folding framing, kept "
        "only to measure against: it does not fold lookalikes and reads as a tag). See docs/integrity.md.",
    )

    @field_validator("gpus", mode="before")
    @classmethod
    def _split_gpu_list(cls, value: Any) -> Any:
        if isinstance(value, str | int):
            return [part.strip() for part in str(value).split(",") if part.strip()]
        if isinstance(value, list):
            return [str(item) for item in value]  # YAML reads `[0, 1]` as numbers
        return value

    @model_validator(mode="after")
    def _one_engine_per_gpu(self) -> JudgeModelSettings:
        if self.gpus is None:
            return self
        if len(set(self.gpus)) != len(self.gpus):
            raise ValueError(f"gpus lists a device twice: {self.gpus}")
        managed = [engine for engine in self.engines if isinstance(engine, ManagedEngineSettings)]
        if len(managed) != 1:
            raise ValueError(f"gpus needs exactly one managed engine in `engines` to copy per GPU; found "
                             f"{len(managed)}")
        template = managed[0]
        per_gpu: list[EngineSettings] = [
            template.model_copy(update={
                "device": "cuda", "cuda_visible_devices": gpu, "port": template.port + index if template.port else 0,
            })
            for index, gpu in enumerate(self.gpus)
        ]
        external = [engine for engine in self.engines if not isinstance(engine, ManagedEngineSettings)]
        self.engines = [*per_gpu, *external]
        self.gpus = None  # expanded: validating the result again must not copy the engines twice
        return self

def judge_from_checkpoint(path: Path) -> JudgeModelSettings:
    """A judge model from a `train` checkpoint: name, version and format from its manifest."""
    manifest = read_manifest(path)
    if manifest.format == "policy":
        raise ValueError(f"{path} is a writing policy trained by {manifest.pipeline}, not a judge; serve a "
                         "par (pointwise) or pairwise checkpoint")
    return JudgeModelSettings(name=manifest.name, version=manifest.version, formats=[manifest.format],
                              model_path=path)


Scope = Literal["judge", "admin"]
LOOPBACK_HOSTS = frozenset({"localhost", "ip6-localhost"})


class ApiKeySettings(BaseModel):
    """One API key, stored as its hash only (`python -m service.auth new --name NAME` makes one)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]*$", max_length=64,
                      description="Labels the key's metrics and log lines; the key itself is never logged.")
    hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$", description="`sha256:` and the hex SHA-256 of the key.")
    scopes: list[Scope] = Field(default_factory=lambda: list[Scope](["judge"]), min_length=1,
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


def _bundled_model() -> JudgeModelSettings:
    return JudgeModelSettings(name="smollm2-135m-judge", version="bundled-q4_1-fp32")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GENRM_", env_nested_delimiter="__", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    rubrics_dir: Path = Path("rubrics")
    cache_dir: Path = Field(default=Path(".cache"), description="Converted models, engine logs and scratch.")
    models: list[JudgeModelSettings] = Field(default_factory=lambda: [_bundled_model()], min_length=1)
    checkpoints: list[Path] = Field(
        default_factory=list,
        description="Checkpoint directories written by `train`: each is served as a judge named and versioned by "
        "its manifest. Given without `models`, they replace the bundled default.",
    )
    default_model: str | None = Field(default=None, description="Defaults to the first model.")
    max_items_per_request: int = Field(default=1024, ge=1)
    max_votes: int = Field(default=32, ge=1)
    cache_max_entries: int = Field(default=100_000, ge=0, description="Judgment-cache size; 0 turns it off.")
    limits: RequestLimits = Field(default_factory=RequestLimits)
    api_keys: list[ApiKeySettings] = Field(
        default_factory=list, description="With none, nothing is authenticated (allowed on loopback only, unless "
        "`allow_unauthenticated`).",
    )
    allow_unauthenticated: bool = Field(
        default=False, description="Serve a non-loopback address without API keys: anyone who reaches the port "
        "can use the service. Only for a network that is private by other means.",
    )
    protect_metrics: bool = Field(default=False, description="/metrics and /prometheus/targets need a key too.")
    drain_grace_s: float = Field(
        default=60, ge=0, description="On SIGTERM: how long in-flight requests may finish while new ones get 503.",
    )
    log_level: str = "info"
    log_format: LogFormat = Field(default="json", description="json: one JSON object per line; text: plain.")

    @field_validator("models")
    @classmethod
    def _unique_names(cls, models: list[JudgeModelSettings]) -> list[JudgeModelSettings]:
        names = [model.name for model in models]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"model names must be unique; {duplicates} appear more than once")
        return models

    @model_validator(mode="after")
    def _add_checkpoints(self) -> Settings:
        if self.checkpoints:
            served = [judge_from_checkpoint(path) for path in self.checkpoints]
            self.models = [*self.models, *served] if "models" in self.model_fields_set else served
            self._unique_names(self.models)
        return self

    @field_validator("api_keys")
    @classmethod
    def _unique_keys(cls, keys: list[ApiKeySettings]) -> list[ApiKeySettings]:
        for attribute in ("name", "hash"):
            values = [getattr(key, attribute) for key in keys]
            repeated = sorted({value for value in values if values.count(value) > 1})
            if repeated:
                raise ValueError(f"api_keys: every key needs its own {attribute}; {repeated} appear more than once")
        return keys

    @model_validator(mode="after")
    def _no_open_public_port(self) -> Settings:
        if not is_loopback(self.host) and not self.api_keys and not self.allow_unauthenticated:
            raise ValueError(
                f"host {self.host!r} is not a loopback address and no api_keys are configured, so anyone who can "
                "reach the port could use the service. Create a key with `python -m service.auth new --name NAME` "
                "and add it to `api_keys`, or, on a network private by other means, set allow_unauthenticated: "
                "true (GENRM_ALLOW_UNAUTHENTICATED=true)"
            )
        return self

    @model_validator(mode="after")
    def _default_model_exists(self) -> Settings:
        names = [model.name for model in self.models]
        if self.default_model is not None and self.default_model not in names:
            raise ValueError(f"default_model {self.default_model!r} is not one of the models {names}")
        return self

    @property
    def default_model_name(self) -> str:
        return self.default_model or self.models[0].name

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _EnvExpandingYamlSource(settings_cls))


_ENV_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


def expand_environment(text: str, environ: dict[str, str] | None = None) -> str:
    """`${VAR}` and `${VAR:-default}` replaced from the environment; an unset `${VAR}` without a default is an
    error that names it, so a deployment never runs on an empty value by accident."""
    values = os.environ if environ is None else environ

    def replace(match: re.Match[str]) -> str:
        name, default = match["name"], match["default"]
        value = values.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                raise ValueError(f"the config file reads ${{{name}}}, which is not set; set it or write "
                                 f"${{{name}:-default}}")
            return default
        return value

    return _ENV_REFERENCE.sub(replace, text)


def _expand_values(value: Any) -> Any:
    """Expand inside parsed string values only: comments are left alone and an environment value can never add
    YAML structure."""
    if isinstance(value, str):
        return expand_environment(value)
    if isinstance(value, list):
        return [_expand_values(item) for item in value]
    if isinstance(value, dict):
        return {key: _expand_values(item) for key, item in value.items()}
    return value


class _EnvExpandingYamlSource(YamlConfigSettingsSource):
    def _read_file(self, file_path: Path) -> dict[str, Any]:  # type: ignore[override]
        loaded: dict[str, Any] = _expand_values(super()._read_file(file_path))
        return loaded


def load_settings(config_file: Path | None = None, **overrides: object) -> Settings:
    """Settings from the environment over `config_file` (YAML) over defaults; `overrides` win over all."""
    if config_file is not None and not config_file.is_file():
        raise FileNotFoundError(f"config file {config_file} does not exist")

    class _WithFile(Settings):
        model_config = SettingsConfigDict(**{**Settings.model_config, "yaml_file": config_file})

    return _WithFile(**overrides)  # type: ignore[arg-type]

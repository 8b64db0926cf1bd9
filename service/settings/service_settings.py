"""The gateway's settings, parsed once at the edge: environment (`GENRM_` prefix, `__` for nesting) over an
optional YAML file over defaults. Nothing else in the service reads the environment.

The default registry holds one judge model, the bundled SmolLM2-135M-Instruct, on a managed vLLM engine with
CPU-fast settings. `load_settings` is the one way in: it also reads the manifests of `checkpoints` (the disk is
read when loading, not while validating) and adds the judges they describe.
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from service.logs import LogFormat
from service.settings.access import ApiKeySettings, RequestLimits, is_loopback
from service.settings.config_file import EnvExpandingYamlSource
from service.settings.judges import JudgeModelSettings, judge_from_checkpoint
from service.settings.shared_state import SharedStateSettings

# The YAML file of the `load_settings` call under way (pydantic-settings asks the class for its sources).
_config_file: ContextVar[Path | None] = ContextVar("genrm_config_file", default=None)


def unique_model_names(models: list[JudgeModelSettings]) -> list[JudgeModelSettings]:
    names = [model.name for model in models]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"model names must be unique; {duplicates} appear more than once")
    return models


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
    shared_state: SharedStateSettings | None = Field(
        default=None, description="Redis shared by gateway replicas for the judgment cache and per-key rate limits "
        "(docs/operations.md, \"Several replicas\"). Unset: each replica keeps its own.",
    )
    verifier_workers: int = Field(
        default=2, ge=1, le=64, description="Worker processes for rule verifiers (`verify`): each runs one check "
        "(or one code sandbox) at a time. Spawned on the first verified request.",
    )
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
        return unique_model_names(models)

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
        return (init_settings, env_settings, EnvExpandingYamlSource(settings_cls, _config_file.get()))


def load_settings(config_file: Path | None = None, **overrides: object) -> Settings:
    """Settings from the environment over `config_file` (YAML) over defaults; `overrides` win over all. The
    judges of `checkpoints` are read from their manifests here and join `models` (or replace the bundled default
    when no `models` were given)."""
    if config_file is not None and not config_file.is_file():
        raise FileNotFoundError(f"config file {config_file} does not exist")
    token = _config_file.set(config_file)
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    finally:
        _config_file.reset(token)
    if not settings.checkpoints:
        return settings
    served = [judge_from_checkpoint(path) for path in settings.checkpoints]
    models = [*settings.models, *served] if "models" in settings.model_fields_set else served
    try:
        unique_model_names(models)
    except ValueError as error:
        raise ValueError(f"checkpoints: {error}") from error
    if settings.default_model is not None and settings.default_model not in [m.name for m in models]:
        raise ValueError(f"default_model {settings.default_model!r} is not one of the models "
                         f"{[m.name for m in models]}")
    return settings.model_copy(update={"models": models})

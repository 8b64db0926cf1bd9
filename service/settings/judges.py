"""A judge model the gateway serves: name, version, formats, weights, context, engines, sampling defaults and
admission; and the judge a `train` checkpoint describes (read from its manifest when the settings are loaded)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from models.checkpoints import read_manifest
from models.formats.framing import Display
from service.settings.engines import EngineSettings, ManagedEngineSettings

FormatName = Literal["pointwise", "pairwise", "equivalence", "step", "step_list", "trajectory"]
ALL_FORMATS: tuple[FormatName, ...] = ("pointwise", "pairwise", "equivalence", "step", "step_list", "trajectory")


class SamplingDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(default=0.8, ge=0, le=2)
    top_p: float = Field(default=0.95, gt=0, le=1)
    max_tokens: int = Field(default=256, ge=1, le=32768)


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
    forced_ending: Literal["auto", "in_engine", "second_request"] = Field(
        default="auto",
        description="Where a judgment cut off by its budget gets its ending: `in_engine` (the engine's logits "
        "processor writes it in the same request; managed engines load it, an external vLLM needs "
        "`--logits-processors service.engine.forced_ending_processor:ForcedEnding`), or `second_request` (a "
        "continuation request). `auto`: in the engine when every engine is managed and the model constrained.",
    )
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
    def _gpus_have_one_engine_to_copy(self) -> JudgeModelSettings:
        if self.gpus is None:
            return self
        if len(set(self.gpus)) != len(self.gpus):
            raise ValueError(f"gpus lists a device twice: {self.gpus}")
        managed = [engine for engine in self.engines if isinstance(engine, ManagedEngineSettings)]
        if len(managed) != 1:
            raise ValueError(f"gpus needs exactly one managed engine in `engines` to copy per GPU; found "
                             f"{len(managed)}")
        return self

    def served_engines(self) -> list[EngineSettings]:
        """The engines as they run: with `gpus`, the one managed engine copied onto each GPU (consecutive ports
        from a fixed one), then the external engines; without, `engines` as given. Nothing is changed."""
        if self.gpus is None:
            return list(self.engines)
        template = next(engine for engine in self.engines if isinstance(engine, ManagedEngineSettings))
        per_gpu: list[EngineSettings] = [
            template.model_copy(update={
                "device": "cuda", "cuda_visible_devices": gpu, "port": template.port + index if template.port else 0,
            })
            for index, gpu in enumerate(self.gpus)
        ]
        return [*per_gpu, *(engine for engine in self.engines if not isinstance(engine, ManagedEngineSettings))]


def judge_from_checkpoint(path: Path) -> JudgeModelSettings:
    """A judge model from a `train` checkpoint: name, version and format from its manifest."""
    manifest = read_manifest(path)
    if manifest.format == "policy":
        raise ValueError(f"{path} is a writing policy trained by {manifest.pipeline}, not a judge; serve a "
                         "par (pointwise) or pairwise checkpoint")
    return JudgeModelSettings(name=manifest.name, version=manifest.version, formats=[manifest.format],
                              model_path=path)

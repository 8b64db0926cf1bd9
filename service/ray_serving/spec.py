"""What a judge in a Ray cluster is made of (`RayJudgeSpec`), as a trainer or an operator writes it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.settings import JudgeModelSettings, ManagedEngineSettings


def node_address() -> str:
    """This Ray node's address, where the others reach what listens here."""
    import ray

    return str(ray.util.get_node_ip_address())  # type: ignore[no-untyped-call]


class RayJudgeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, description="The judge's name in the cluster (and its model's); "
                             "default: the model's name.")
    model: JudgeModelSettings = Field(
        default_factory=lambda: JudgeModelSettings(name="smollm2-135m-judge", version="bundled-q4_1-fp32"),
        description="The judge; its one managed engine (the default: the bundled judge on CPU) is the template "
        "every engine actor runs.",
    )
    engines: int = Field(default=1, ge=1, le=512, description="Engine actors, one per placement-group bundle.")
    gpus_per_engine: float = Field(default=0, ge=0, description="GPUs per engine; a fraction colocates the "
                                   "judge with a trainer's actors on the same GPU.")
    cpus_per_engine: float = Field(default=1, ge=0)
    resources_per_engine: dict[str, float] = Field(
        default_factory=dict, description="Custom Ray resources per engine (a node label such as "
        "{'judge_node': 1}; tests stand them in for GPUs).")
    placement: Literal["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"] = Field(
        default="SPREAD", description="The placement group's strategy for the engines' bundles.")
    service: dict[str, Any] = Field(
        default_factory=dict, description="The gateway's other settings (api_keys, shared_state, limits, ...), as "
        "in its YAML file; not `models`.")
    gateway_port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port on the gateway's node.")
    check_interval_s: float = Field(default=2.0, gt=0, description="How often the gateway asks each engine actor "
                                    "where it is.")

    @model_validator(mode="after")
    def _one_managed_template(self) -> RayJudgeSpec:
        if self.name is not None and self.name != self.model.name:
            self.model = self.model.model_copy(update={"name": self.name})
        managed = [engine for engine in self.model.engines if isinstance(engine, ManagedEngineSettings)]
        if len(managed) != 1 or len(self.model.engines) != 1 or self.model.gpus is not None:
            raise ValueError("model.engines must hold exactly one managed engine (the template every engine "
                             "actor runs), and model.gpus must be unset: Ray places the engines")
        if "models" in self.service:
            raise ValueError("service.models: the judge is `model`")
        return self

    @property
    def engine_template(self) -> ManagedEngineSettings:
        engine = self.model.engines[0]
        assert isinstance(engine, ManagedEngineSettings)
        return engine

    def bundle(self) -> dict[str, float]:
        """What one engine takes from the cluster."""
        wanted = {"CPU": self.cpus_per_engine, "GPU": self.gpus_per_engine, **self.resources_per_engine}
        return {name: amount for name, amount in wanted.items() if amount > 0}

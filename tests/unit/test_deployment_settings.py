"""Settings a deployment leans on: `gpus` (one managed engine per GPU) and `${VAR}` in config files."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from models.checkpoints import Manifest, write_manifest
from service.settings import (
    ExternalEngineSettings,
    JudgeModelSettings,
    ManagedEngineSettings,
    Settings,
    expand_environment,
    load_settings,
)


def judge(**fields: object) -> JudgeModelSettings:
    return JudgeModelSettings.model_validate({"name": "judge", "version": "1", **fields})


def test_gpus_copies_the_managed_engine_onto_each_gpu_with_consecutive_ports() -> None:
    model = judge(gpus="0, 2,5", engines=[{"kind": "managed", "port": 8101, "max_in_flight": 99},
                                          {"kind": "external", "url": "http://elsewhere:8000"}])
    served = model.served_engines()
    managed = [e for e in served if isinstance(e, ManagedEngineSettings)]
    assert [(e.device, e.cuda_visible_devices, e.port, e.max_in_flight) for e in managed] == [
        ("cuda", "0", 8101, 99), ("cuda", "2", 8102, 99), ("cuda", "5", 8103, 99)]
    assert isinstance(served[-1], ExternalEngineSettings)
    assert len(model.engines) == 2 and model.gpus == ["0", "2", "5"]  # the settings themselves are as given


def test_gpus_without_a_fixed_port_lets_each_engine_pick_one() -> None:
    model = judge(gpus=[0, 1])
    served = model.served_engines()
    assert [(e.cuda_visible_devices, e.port) for e in served] == [("0", 0), ("1", 0)]  # type: ignore[union-attr]


def test_settings_validate_again_to_the_same_served_engines() -> None:
    model = judge(gpus="0,1")
    assert JudgeModelSettings.model_validate(model.model_dump()).served_engines() == model.served_engines()


@pytest.mark.parametrize(("fields", "message"), [
    ({"gpus": "0,0"}, "lists a device twice"),
    ({"gpus": "0", "engines": [{"kind": "external", "url": "http://x:1"}]}, "exactly one managed engine"),
    ({"gpus": "0", "engines": [{"kind": "managed"}, {"kind": "managed"}]}, "exactly one managed engine"),
    ({"gpus": ""}, "at least 1"),
])
def test_gpus_mistakes_are_refused_with_the_reason(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        judge(**fields)


def test_environment_references_expand_with_defaults() -> None:
    environ = {"NAME": "qwen", "EMPTY": ""}
    assert expand_environment("${NAME}-${MISSING:-x}-${EMPTY:-fallback}-$NAME", environ) == "qwen-x-fallback-$NAME"


def test_an_unset_reference_without_default_is_an_error_that_names_it() -> None:
    with pytest.raises(ValueError, match=r"reads \$\{JUDGE_NAME\}, which is not set"):
        expand_environment("${JUDGE_NAME}", {})


def test_a_config_file_reads_the_environment_in_values_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text(
        "# ${NOT_SET} in a comment is left alone\n"
        "models:\n"
        "  - name: ${JUDGE_NAME}\n"
        "    version: ${JUDGE_VERSION:-dev}\n"
        "    max_model_len: ${MAX_MODEL_LEN:-4096}\n"
        "    gpus: ${GPUS}\n"
        "    engines: [{kind: managed, port: 8101}]\n"
    )
    monkeypatch.setenv("JUDGE_NAME", "judge-a")
    monkeypatch.setenv("GPUS", "1,0")
    monkeypatch.setenv("MAX_MODEL_LEN", "{evil: yaml}")  # a value never becomes YAML structure
    with pytest.raises(ValidationError, match="max_model_len"):
        load_settings(config)
    monkeypatch.delenv("MAX_MODEL_LEN")
    model = load_settings(config).models[0]
    assert (model.name, model.version, model.max_model_len) == ("judge-a", "dev", 4096)
    assert [e.cuda_visible_devices for e in model.served_engines()] == ["1", "0"]  # type: ignore[union-attr]


def test_checkpoints_are_read_when_loading_not_when_validating(tmp_path: Path) -> None:
    """Validation never touches the disk; `load_settings` reads each manifest and serves its judge."""
    checkpoint = tmp_path / "par-1"
    checkpoint.mkdir()
    assert Settings(checkpoints=[checkpoint]).checkpoints == [checkpoint]  # no manifest yet: still valid
    with pytest.raises(FileNotFoundError, match="not a checkpoint"):
        load_settings(checkpoints=[checkpoint])
    write_manifest(checkpoint, Manifest(name="par-judge", version="1", format="pointwise", pipeline="par",
                                        base_model="smollm2", data_hash="sha256:0", step=1))
    served = load_settings(checkpoints=[checkpoint]).models
    assert [(m.name, m.formats, m.model_path) for m in served] == [("par-judge", ["pointwise"], checkpoint)]
    both = load_settings(checkpoints=[checkpoint], models=[{"name": "other", "version": "1"}]).models
    assert [m.name for m in both] == ["other", "par-judge"]
    with pytest.raises(ValueError, match="unique"):
        load_settings(checkpoints=[checkpoint], models=[{"name": "par-judge", "version": "0"}])

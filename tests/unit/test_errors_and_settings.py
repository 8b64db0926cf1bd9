"""The exception tree's HTTP statuses, and configuration from defaults, YAML and the environment."""

from __future__ import annotations

import importlib
import os
import pkgutil
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

import service
from service import errors
from service.errors import STATUS, ServiceError, status_of
from service.settings import (
    ExternalEngineSettings,
    ManagedEngineSettings,
    Settings,
    load_settings,
)

EXPECTED_STATUS = {
    "ServiceError": 500,
    "ClientError": 400,
    "InvalidRequest": 422,
    "RubricLibraryRefused": 422,
    "NotFound": 404,
    "PayloadTooLarge": 413,
    "ClientClosedRequest": 499,
    "Overloaded": 429,
    "UpstreamError": 502,
    "JudgmentFailed": 502,
    "EngineServerError": 502,
    "EngineUnavailable": 503,
    "EngineTimeout": 504,
}


def service_error_types() -> list[type[ServiceError]]:
    """ServiceError and every subclass defined anywhere in the service package."""
    for module in pkgutil.walk_packages(service.__path__, "service."):
        if module.name != "service.__main__":
            importlib.import_module(module.name)
    found: list[type[ServiceError]] = []
    pending: list[type[ServiceError]] = [ServiceError]
    while pending:
        cls = pending.pop()
        if cls.__module__.startswith("service") and cls not in found:
            found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


# --- errors ------------------------------------------------------------------------------------------------


def test_every_service_error_has_a_status() -> None:
    types = service_error_types()
    assert {cls.__name__ for cls in types} >= set(EXPECTED_STATUS)
    for cls in types:
        assert cls in STATUS, f"{cls.__module__}.{cls.__qualname__} has no entry in STATUS"
        assert EXPECTED_STATUS.get(cls.__name__) == STATUS[cls], cls.__name__
        assert status_of(cls("boom")) == EXPECTED_STATUS[cls.__name__]


def test_status_table_has_only_service_errors() -> None:
    assert set(STATUS) == {getattr(errors, name) for name in EXPECTED_STATUS}


def test_codes_are_distinct_strings() -> None:
    codes = [cls.code for cls in STATUS]
    assert len(set(codes)) == len(codes)
    assert all(code and code.islower() for code in codes)


def test_status_of_unlisted_subclass_uses_nearest_parent() -> None:
    class Custom(errors.NotFound):
        pass

    class Stray(ServiceError):
        pass

    assert status_of(Custom("x")) == 404
    assert status_of(Stray("x")) == 500


@pytest.mark.parametrize("cls", [errors.Overloaded, errors.EngineUnavailable])
def test_retryable_errors_carry_retry_after(cls: type[ServiceError]) -> None:
    error = cls("busy", retry_after=2.5)
    assert status_of(error) in (429, 503)
    assert error.retry_after == 2.5
    assert error.message == "busy"
    assert str(error) == "busy"
    assert cls("busy").retry_after is None


def test_param_is_kept() -> None:
    error = errors.InvalidRequest("bad votes", param="votes")
    assert error.param == "votes"
    assert error.retry_after is None
    assert isinstance(error, errors.ClientError)


# --- settings ----------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("GENRM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write_yaml(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_defaults_have_one_model() -> None:
    for settings in (Settings(), load_settings()):
        assert len(settings.models) == 1
        assert settings.default_model is None
        assert settings.default_model_name == settings.models[0].name
        assert [type(engine) for engine in settings.models[0].engines] == [ManagedEngineSettings]
        assert settings.port == 8000
        assert settings.models[0].formats == ["pointwise", "pairwise", "equivalence", "step", "step_list", "trajectory"]


def test_yaml_file_sets_values(tmp_path: Path) -> None:
    settings = load_settings(write_yaml(tmp_path, {"port": 9002, "log_level": "debug"}))
    assert settings.port == 9002
    assert settings.log_level == "debug"


def test_env_wins_over_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENRM_PORT", "9001")
    settings = load_settings(write_yaml(tmp_path, {"port": 9002, "host": "0.0.0.0", "allow_unauthenticated": True}))
    assert settings.port == 9001
    assert settings.host == "0.0.0.0"  # the YAML still applies where env says nothing


def test_overrides_win_over_env_and_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENRM_PORT", "9001")
    assert load_settings(write_yaml(tmp_path, {"port": 9002}), port=9003).port == 9003


def test_env_models_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENRM_MODELS", '[{"name": "a", "version": "1"}, {"name": "b", "version": "2"}]')
    monkeypatch.setenv("GENRM_DEFAULT_MODEL", "b")
    settings = load_settings()
    assert [m.name for m in settings.models] == ["a", "b"]
    assert settings.default_model_name == "b"


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_settings(tmp_path / "absent.yaml")


def test_yaml_external_engine(tmp_path: Path) -> None:
    config = {
        "models": [
            {
                "name": "remote-judge",
                "version": "v1",
                "model_path": "/tmp",
                "max_model_len": 4096,
                "engines": [
                    {"kind": "external", "url": "http://x:1"},
                    {"kind": "external", "url": "http://x:2", "max_in_flight": 8},
                ],
            }
        ]
    }
    settings = load_settings(write_yaml(tmp_path, config))
    model = settings.models[0]
    assert all(isinstance(engine, ExternalEngineSettings) for engine in model.engines)
    assert [str(engine.url) for engine in model.engines] == ["http://x:1/", "http://x:2/"]
    assert [engine.max_in_flight for engine in model.engines] == [64, 8]
    assert model.model_path == Path("/tmp")
    assert model.max_model_len == 4096
    assert model.engines[0].served_model_name is None
    assert settings.default_model_name == "remote-judge"


def test_yaml_managed_engine_is_the_default_kind(tmp_path: Path) -> None:
    config = {"models": [{"name": "local", "version": "1", "engines": [{"device": "cuda", "dtype": "auto"}]}]}
    engine = load_settings(write_yaml(tmp_path, config)).models[0].engines[0]
    assert isinstance(engine, ManagedEngineSettings)
    assert engine.device == "cuda"


@pytest.mark.parametrize(
    ("engines", "problem"),
    [
        ([{"kind": "external"}], "url"),
        ([{"kind": "external", "url": "not a url"}], "url"),
        ([{"kind": "external", "url": "http://x:1", "x": 1}], "x"),
        ([{"kind": "remote", "url": "http://x:1"}], "remote"),
        ([{"kind": "managed", "max_in_flight": 0}], "max_in_flight"),
        ([], "engines"),
    ],
)
def test_bad_engine_rejected(tmp_path: Path, engines: list[dict[str, object]], problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        load_settings(write_yaml(tmp_path, {"models": [{"name": "m", "version": "1", "engines": engines}]}))
    assert problem in str(caught.value)


def test_the_old_single_engine_key_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="engine"):
        load_settings(write_yaml(tmp_path, {"models": [{"name": "m", "version": "1", "engine": {}}]}))


def test_duplicate_model_names(tmp_path: Path) -> None:
    config = {"models": [{"name": "judge", "version": "1"}, {"name": "judge", "version": "2"}]}
    with pytest.raises(ValidationError) as caught:
        load_settings(write_yaml(tmp_path, config))
    message = str(caught.value)
    assert "unique" in message
    assert "judge" in message


def test_unknown_default_model(tmp_path: Path) -> None:
    config = {"models": [{"name": "judge", "version": "1"}], "default_model": "other"}
    with pytest.raises(ValidationError) as caught:
        load_settings(write_yaml(tmp_path, config))
    message = str(caught.value)
    assert "default_model" in message
    assert "'other'" in message
    assert "judge" in message


def test_unknown_default_model_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENRM_DEFAULT_MODEL", "nope")
    with pytest.raises(ValidationError, match="nope"):
        load_settings()


def test_unknown_top_level_key_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        load_settings(write_yaml(tmp_path, {"port": 9002, "prot": 9003}))
    assert "prot" in str(caught.value)
    assert "xtra" in str(caught.value)  # "Extra inputs are not permitted"
    with pytest.raises(ValidationError):
        Settings(colour="blue")  # type: ignore[call-arg]


def test_unknown_model_key_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        load_settings(write_yaml(tmp_path, {"models": [{"name": "m", "version": "1", "temperature": 0.5}]}))


@pytest.mark.parametrize(
    "config",
    [
        {"port": 70000},
        {"models": []},
        {"models": [{"name": "bad name", "version": "1"}]},
        {"models": [{"name": "m", "version": "1", "formats": ["listwise"]}]},
        {"models": [{"name": "m", "version": "1", "formats": []}]},
        {"models": [{"name": "m", "version": "1", "sampling": {"temperature": 3}}]},
        {"max_votes": 0},
        {"limits": {"max_text_chars": 400_001}},  # past the wire's own cap: it could never apply
    ],
)
def test_invalid_values_rejected(tmp_path: Path, config: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        load_settings(write_yaml(tmp_path, config))


@pytest.mark.parametrize("config", sorted((Path(__file__).resolve().parents[2] / "deploy").glob("*.yaml")),
                         ids=lambda path: path.name)
def test_every_deploy_example_is_valid_configuration(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENRM_TRAINER_KEY_HASH", "sha256:" + "0" * 64)
    settings = load_settings(config)
    assert settings.models and all(model.engines for model in settings.models)

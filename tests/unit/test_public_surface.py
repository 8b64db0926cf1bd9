"""What `import genrm_client` offers, checked as httpx checks its own `__all__`: every exported name exists, every
public name the package defines is exported, and a user can name every model that a client method takes or
returns (and every model inside one) without reaching into `genrm_wire`."""

from __future__ import annotations

import inspect
import typing

from pydantic import BaseModel

import genrm_client
from genrm_client import AsyncJudgeClient, JudgeClient


def models_in(annotation: object, found: set[type[BaseModel]]) -> None:
    for argument in typing.get_args(annotation):
        models_in(argument, found)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and annotation not in found:
        found.add(annotation)
        for field in annotation.model_fields.values():
            models_in(field.annotation, found)


def models_of_the_clients() -> set[type[BaseModel]]:
    found: set[type[BaseModel]] = set()
    for client in (JudgeClient, AsyncJudgeClient):
        for name, method in inspect.getmembers(client, inspect.isfunction):
            if not name.startswith("_"):
                for annotation in typing.get_type_hints(method).values():
                    models_in(annotation, found)
    return found


def test_every_exported_name_exists() -> None:
    missing = [name for name in genrm_client.__all__ if not hasattr(genrm_client, name)]
    assert missing == []
    assert len(genrm_client.__all__) == len(set(genrm_client.__all__))


def test_every_public_name_is_exported() -> None:
    public = {name for name, value in vars(genrm_client).items()
              if not name.startswith("_") and not inspect.ismodule(value)}
    assert public == set(genrm_client.__all__)


def test_every_model_a_client_method_uses_is_exported() -> None:
    models = models_of_the_clients()
    assert {"GroupRequest", "GroupResponse", "GroupIn", "RolloutOut", "ScoreRequest"} <= {m.__name__ for m in models}
    not_exported = sorted(model.__name__ for model in models if model.__name__ not in genrm_client.__all__)
    assert not_exported == []
    for model in models:
        assert getattr(genrm_client, model.__name__) is model


def test_launcher_helpers_are_not_part_of_the_surface() -> None:
    assert "free_port" not in genrm_client.__all__ and "wait_ready" not in genrm_client.__all__

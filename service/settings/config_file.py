"""The YAML config file, which may read the environment: `${VAR}` and `${VAR:-default}` are replaced inside
parsed string values, so one file serves every host of a deployment (deploy/compose/) and an environment value
can never add YAML structure."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

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


class EnvExpandingYamlSource(PydanticBaseSettingsSource):
    """The settings in a YAML file, with `${VAR}` references expanded in its values."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self.path = path

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # the whole file is read in __call__

    def __call__(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        loaded = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{self.path}: a config file is a mapping of settings, not {type(loaded).__name__}")
        expanded: dict[str, Any] = _expand_values(loaded)
        return expanded

"""Configuration, by concern: the engines (`engines`), the judge models (`judges`), keys and request limits
(`access`), the YAML file and its `${VAR}` references (`config_file`), and the gateway's settings with
`load_settings`, the one way in (`service_settings`). Everything is re-exported here."""

from service.settings.access import ApiKeySettings, KeyScope, RequestLimits, is_loopback
from service.settings.config_file import expand_environment
from service.settings.engines import EngineSettings, ExternalEngineSettings, ManagedEngineSettings
from service.settings.judges import (
    ALL_FORMATS,
    FormatName,
    JudgeModelSettings,
    SamplingDefaults,
    judge_from_checkpoint,
)
from service.settings.service_settings import Settings, load_settings
from service.settings.shared_state import SharedStateSettings

__all__ = [
    "ALL_FORMATS",
    "ApiKeySettings",
    "EngineSettings",
    "ExternalEngineSettings",
    "FormatName",
    "JudgeModelSettings",
    "KeyScope",
    "ManagedEngineSettings",
    "RequestLimits",
    "SamplingDefaults",
    "Settings",
    "SharedStateSettings",
    "expand_environment",
    "is_loopback",
    "judge_from_checkpoint",
    "load_settings",
]

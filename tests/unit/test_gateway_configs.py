"""Every gateway config shipped under deploy/ loads as the settings it says it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import ExternalEngineSettings, ManagedEngineSettings, load_settings
from tests.conftest import ROOT

pytestmark = pytest.mark.usefixtures("trainer_key_hash")  # the deploy configs read it

EXAMPLES = sorted((ROOT / "deploy").glob("*.yaml"))


@pytest.mark.parametrize("config", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_each_example_config_loads(config: Path) -> None:
    assert load_settings(config).models


def test_the_gpu_example_runs_one_engine_per_gpu_with_gpu_defaults(tmp_path: Path) -> None:
    engines = load_settings(ROOT / "deploy" / "gpu-qwen3-8b.yaml").models[0].served_engines()
    assert all(isinstance(engine, ManagedEngineSettings) for engine in engines)
    assert [(e.device, e.cuda_visible_devices, e.dtype, e.enforce_eager) for e in engines] == [  # type: ignore[union-attr]
        ("cuda", "0", None, None), ("cuda", "1", None, None)]  # None: the device's defaults (auto, CUDA graphs)


def test_the_external_example_routes_to_urls() -> None:
    engines = load_settings(ROOT / "deploy" / "external-engines.yaml").models[0].engines
    assert all(isinstance(engine, ExternalEngineSettings) for engine in engines) and len(engines) == 2

from __future__ import annotations

from pathlib import Path

import pytest

from models.bundled import prepare_bundled_model
from models.chat import ChatTemplate

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def bundled_model_dir() -> Path:
    return prepare_bundled_model(ROOT / ".cache" / "models")


@pytest.fixture(scope="session")
def chat_template(bundled_model_dir: Path) -> ChatTemplate:
    return ChatTemplate.from_directory(bundled_model_dir)

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


# A hash that no key has: what deploy/compose/env.example ships until an operator makes a key.
PLACEHOLDER_KEY_HASH = "sha256:" + "0" * 64


@pytest.fixture
def trainer_key_hash(monkeypatch: pytest.MonkeyPatch) -> str:
    """The deploy configs read their API key's hash from the environment, as their containers do (tests that load
    them use it: `pytestmark = pytest.mark.usefixtures("trainer_key_hash")`)."""
    monkeypatch.setenv("GENRM_TRAINER_KEY_HASH", PLACEHOLDER_KEY_HASH)
    return PLACEHOLDER_KEY_HASH

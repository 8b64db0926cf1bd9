from __future__ import annotations

import pytest

# The Docker daemon and the images built once per run (tests/docker_host.py), for the container tests here.
from tests.docker_host import built_images, docker_daemon  # noqa: F401

# A hash that no key has: what deploy/compose/env.example ships until an operator makes a key.
PLACEHOLDER_KEY_HASH = "sha256:" + "0" * 64


@pytest.fixture(autouse=True)
def trainer_key_hash(monkeypatch: pytest.MonkeyPatch) -> str:
    """The deploy configs read their API key's hash from the environment, as their containers do."""
    monkeypatch.setenv("GENRM_TRAINER_KEY_HASH", PLACEHOLDER_KEY_HASH)
    return PLACEHOLDER_KEY_HASH

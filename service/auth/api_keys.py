"""API keys: made here, stored as hashes, recognised in constant time.

A key is 32 random bytes (`genrm_` + URL-safe base64), so a plain SHA-256 of it is as hard to invert as the key
is to guess; a slow password hash would only add milliseconds to every request. Only the hash is configured, and
only the key's name is ever logged or used as a metric label.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from service.settings import ApiKeySettings, KeyScope

KEY_PREFIX = "genrm_"
MAX_KEY_CHARS = 256


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    name: str
    scopes: frozenset[KeyScope]
    digest: bytes


class Keyring:
    """The configured keys; `identify` finds the one a caller presented, or None."""

    def __init__(self, keys: Sequence[ApiKeySettings]) -> None:
        self._keys = [ApiKey(key.name, frozenset(key.scopes), bytes.fromhex(key.hash.removeprefix("sha256:")))
                      for key in keys]

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def identify(self, presented: str) -> ApiKey | None:
        """Compares against every key, each in constant time, so timing tells nothing about which matched."""
        if len(presented) > MAX_KEY_CHARS:
            return None
        digest = hashlib.sha256(presented.encode("utf-8", "replace")).digest()
        found = None
        for key in self._keys:
            if hmac.compare_digest(digest, key.digest):
                found = key
        return found

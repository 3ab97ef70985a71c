"""Passwords (argon2), random tokens and their hashes, constant-time comparison."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from clientops.config import current


@lru_cache
def _hasher(time_cost: int, memory_kib: int) -> PasswordHash:
    return PasswordHash((Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib),))


def _current_hasher() -> PasswordHash:
    settings = current()
    return _hasher(settings.argon2_time_cost, settings.argon2_memory_kib)


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return str(_current_hasher().hash(password))


def verify_password(password: str, password_hash: str) -> bool:
    """True when ``password`` matches ``password_hash``."""
    try:
        return bool(_current_hasher().verify(password, password_hash))
    except Exception:  # malformed hash: never a match
        return False


def dummy_verify() -> None:
    """Spend the time a real check would, so unknown usernames are not told apart by timing."""
    verify_password("x", _dummy_hash())


def new_token(nbytes: int = 32) -> str:
    """A URL-safe random token."""
    return secrets.token_urlsafe(nbytes)


def token_digest(token: str) -> str:
    """The SHA-256 of a token: what is stored, never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time string equality."""
    return hmac.compare_digest(a.encode(), b.encode())


@lru_cache
def _dummy_hash() -> str:
    return hash_password("clientops-dummy")

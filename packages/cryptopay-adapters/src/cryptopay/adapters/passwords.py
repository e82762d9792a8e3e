"""Argon2id password hashing (argon2-cffi), the ``PasswordHasher`` port's production implementation."""

from __future__ import annotations

import dataclasses

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["Argon2Hasher"]


class Argon2Hasher:
    """Argon2id with the library's recommended parameters unless told otherwise (tests use cheap ones)."""

    def __init__(self, *, time_cost: int | None = None, memory_cost: int | None = None) -> None:
        params = argon2.profiles.get_default_parameters()
        params = dataclasses.replace(
            params,
            time_cost=params.time_cost if time_cost is None else time_cost,
            memory_cost=params.memory_cost if memory_cost is None else memory_cost,
        )
        self._hasher = argon2.PasswordHasher.from_parameters(params)

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

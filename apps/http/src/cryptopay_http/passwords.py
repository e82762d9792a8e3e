"""Argon2id password hashing lives in the adapters (``cryptopay.adapters.passwords``) so the CLI can use it too."""

from cryptopay.adapters.passwords import Argon2Hasher

__all__ = ["Argon2Hasher"]

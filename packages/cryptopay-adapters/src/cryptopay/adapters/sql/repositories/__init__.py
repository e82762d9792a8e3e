"""Repositories of the domain entities, by the attribute name the unit of work offers them under."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Connection

__all__ = ["REPOSITORIES"]

REPOSITORIES: dict[str, Callable[[Connection], Any]] = {}

# The modules below register their repositories in REPOSITORIES when imported.
from cryptopay.adapters.sql.repositories import fx, identity, kyc_fees, payments, webhooks  # noqa: E402,F401

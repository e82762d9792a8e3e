"""Shared CLI output and error handling: tables for people, ``--json`` for scripts, meaningful exit codes."""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, TypeVar

import typer
from cryptopay.core.errors import CryptopayError

T = TypeVar("T")


def plain(value: Decimal) -> str:
    """A Decimal as people and scripts read it: positional, never the exponent form (a zero bitcoin is
    ``0.00000000``, not ``0E-8``), every place the amount carries kept."""
    return format(value, "f")


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return plain(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def emit_json(data: Any) -> None:
    """Print one JSON object (Decimals as strings) on one line."""
    typer.echo(json.dumps(data, default=_default, sort_keys=False))


def emit_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Print rows as a plain aligned table."""
    cells = [[str(_default(row.get(c, "")) if row.get(c) is not None else "") for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    typer.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for r in cells:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))


def emit_rows(rows: Sequence[dict[str, Any]], as_json: bool, empty: str, columns: Sequence[str] | None = None) -> None:
    """A listing: JSON (``--json``, ``[]`` when empty), else a table of ``columns`` (the first row's keys by default),
    else ``empty`` saying there is nothing."""
    if as_json:
        emit_json(rows)
    elif rows:
        emit_table(rows, list(rows[0]) if columns is None else columns)
    else:
        typer.echo(empty)


def fail(message: str, exit_code: int = 1) -> typer.Exit:
    """Print a message to stderr and return the Exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(exit_code)


@contextmanager
def errors_to_exit_codes() -> Iterator[None]:
    """Turn SDK errors into a message on stderr and the family's exit code."""
    try:
        yield
    except CryptopayError as error:
        account = error.details.get("account")  # the ledger's refusals keep it out of their text (callers see those)
        where = f" (account {account})" if account else ""  # operators run the CLI: they may see the chart of accounts
        raise fail(error.message + where, error.exit_code) from None


@contextmanager
def private_output(path: Path, *, force: bool) -> Iterator[IO[str]]:
    """A new file at ``path``, mode 0600 whatever the umask, for an export of personal or banking data (an STR, a
    bank file): a symbolic link there is refused (never followed), an existing file too unless ``force`` (then
    replaced). Each refusal exits 2 before anything is exported; if the export fails, the new file is removed."""
    from cryptopay.adapters._paths import create_private

    try:
        descriptor = create_private(path, replace=force)
    except FileExistsError:
        raise fail(f"{path} exists: choose another path, or pass --force to replace it", 2) from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise fail(f"{path} is a symbolic link: refused (write to the real path)", 2) from None
        raise fail(f"cannot write {path}: {error.strerror}", 2) from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        try:
            yield handle
        except BaseException:
            path.unlink(missing_ok=True)
            raise


def run(action: Callable[[], T]) -> T:
    """Run an action under ``errors_to_exit_codes``."""
    with errors_to_exit_codes():
        return action()


__all__ = ["emit_json", "emit_table", "errors_to_exit_codes", "fail", "plain", "private_output", "run", "sys"]

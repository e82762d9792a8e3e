"""The data directory's helpers never narrow a shared directory: a SQLite database at ``/tmp/x.db`` once made
``/tmp`` 0700, and every other user (the PostgreSQL server's, a browser's) lost its temporary directory."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptopay.adapters._paths import private_dir, private_file


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_file_in_a_sticky_shared_directory_leaves_the_directory_as_it_was(tmp_path: Path) -> None:
    shared = tmp_path / "tmp"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    database = private_file(shared / "cryptopay.db")
    assert _mode(shared) == 0o1777
    assert _mode(database) == 0o600


def test_the_services_own_directory_is_still_narrowed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    assert _mode(private_dir(data)) == 0o700

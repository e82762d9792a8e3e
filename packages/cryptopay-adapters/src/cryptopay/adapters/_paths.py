"""The project's data directory (hot keys, bitcoinlib's files, caches): ``$CRYPTOPAY_DATA_DIR`` or ``.cryptopay``.

Everything in it is private to the service's user, in development too: directories 0700, files 0600
(``private_dir``, ``private_file``), whatever the umask. The database holds password hashes and sits beside the
development vault key.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> db = private_file(root / "data" / "cryptopay.db")
>>> oct(db.stat().st_mode & 0o777), oct(db.parent.stat().st_mode & 0o777)
('0o600', '0o700')
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["create_private", "data_dir", "private_dir", "private_file"]


def data_dir() -> Path:
    """The project's data directory: ``$CRYPTOPAY_DATA_DIR`` or ``./.cryptopay``, as an absolute path."""
    return Path(os.environ.get("CRYPTOPAY_DATA_DIR") or ".cryptopay").expanduser().resolve()


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) and make it 0700, unless it is a shared directory: one with the
    sticky bit (``/tmp``, ``/var/tmp``) or another user's is left as it is (a SQLite database given as
    ``sqlite:////tmp/x.db`` once made ``/tmp`` 0700, locking every other user out of it); the file in it is still
    made 0600 by ``private_file``.

    >>> import tempfile
    >>> shared = Path(tempfile.mkdtemp()); shared.chmod(0o1777)
    >>> oct(private_dir(shared).stat().st_mode & 0o7777), oct(private_dir(shared / "data").stat().st_mode & 0o777)
    ('0o1777', '0o700')
    """
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    status = path.stat()
    if status.st_mode & stat.S_ISVTX or status.st_uid != os.geteuid():
        return path
    path.chmod(0o700)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` if missing (empty) in a private directory, and make it 0600."""
    private_dir(path.parent)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    path.chmod(0o600)
    return path


def create_private(path: Path, *, replace: bool = False) -> int:
    """Open ``path`` for writing as a new file of mode 0600 (whatever the umask), never through a symbolic link
    (``O_NOFOLLOW``): an export of personal or banking data. An existing file is refused (``FileExistsError``)
    unless ``replace``, which truncates it and makes it 0600; a link at ``path`` raises ``OSError`` (ELOOP) either
    way. Returns the descriptor (the caller closes it).

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "export.csv"
    >>> os.close(create_private(out))
    >>> oct(out.stat().st_mode & 0o777)
    '0o600'
    >>> create_private(out)
    Traceback (most recent call last):
    ...
    FileExistsError: [Errno 17] File exists: ...
    """
    mode = os.O_TRUNC if replace else os.O_EXCL
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | mode, 0o600)
    os.fchmod(descriptor, 0o600)  # an existing file replaced keeps no wider mode
    return descriptor

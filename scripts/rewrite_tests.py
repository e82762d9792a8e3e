"""pytest's rewritten test modules written ahead (``make setup``), as ``compileall`` writes the other bytecode.

pytest rewrites the asserts of every test module and ``conftest.py`` when it collects them and keeps the result in
``__pycache__`` (``*.cpython-311-pytest-<version>.pyc``, checked against the source's hash when read), but writes
it only when bytecode may be written: with ``PYTHONDONTWRITEBYTECODE`` set (as CI shells often have it) every
pytest process, each of ``make test``'s xdist workers, rewrote all ~470 modules again, about 20 s of CPU of its
34 s collection. pytest reads these files whatever that variable says; they are written here once, in parallel,
only for modules whose file is missing or out of date (a run with nothing to write: about 2 s of CPU).

Best effort, as the cache itself is: pytest rewrites whatever it finds missing or stale, so any failure here is
one line and exit 0.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor
from fnmatch import fnmatch
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _pytest.config import Config

ROOT = Path(__file__).resolve().parent.parent
SKIPPED = {".venv", "node_modules", "__pycache__", ".git", "migrations"}

_config: Config | None = None
"""pytest's configuration (the ini's file patterns, its assertion options), built once before the pool forks."""


def main() -> int:
    global _config
    try:
        from _pytest.assertion.rewrite import PYC_TAIL, _read_pyc, get_cache_dir
        from _pytest.config import _prepareconfig

        os.chdir(ROOT)
        _config = _prepareconfig(["-p", "no:cacheprovider", "--collect-only", "-q", "--rootdir", str(ROOT)])
        patterns = [*_config.getini("python_files"), "conftest.py"]
        files = [
            ROOT / "conftest.py",
            *(f for top in _config.getini("testpaths") for f in _modules(ROOT / top, patterns)),
        ]

        class Quiet:
            def trace(self, *_: object) -> None: ...

        stale = [f for f in files if _read_pyc(f, get_cache_dir(f) / (f.name[:-3] + PYC_TAIL), Quiet().trace) is None]
        if stale:
            with ProcessPoolExecutor(os.cpu_count() or 1, mp_context=get_context("fork")) as pool:
                written = sum(pool.map(_rewrite, stale, chunksize=8))
            print(f"rewrite_tests: {written} of {len(files)} test modules rewritten ahead for pytest")
    except Exception as error:  # an optimisation only: pytest rewrites what is not here
        print(f"rewrite_tests: skipped ({type(error).__name__}: {error})", file=sys.stderr)
    return 0


def _modules(top: Path, patterns: list[str]) -> list[Path]:
    found: list[Path] = []
    for directory, subdirectories, names in os.walk(top):
        subdirectories[:] = [d for d in subdirectories if d not in SKIPPED and not d.startswith(".")]
        found += [Path(directory, n) for n in names if n.endswith(".py") and any(fnmatch(n, p) for p in patterns)]
    return found


def _rewrite(path: Path) -> int:
    from _pytest.assertion.rewrite import (
        PYC_TAIL,
        _rewrite_test,
        _write_pyc,
        assertstate_key,
        get_cache_dir,
        try_makedirs,
    )

    assert _config is not None
    cache = get_cache_dir(path)
    if not try_makedirs(cache):
        return 0
    source_hash, code = _rewrite_test(path, _config)
    state = _config.stash[assertstate_key]
    return int(_write_pyc(state, code, source_hash, cache / (path.name[:-3] + PYC_TAIL)))


if __name__ == "__main__":
    sys.exit(main())

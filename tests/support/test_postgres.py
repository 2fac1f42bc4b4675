"""Tests for the throwaway PostgreSQL cluster the suite runs against."""

import os
import re

import psycopg
import pytest

from .postgres import PostgresCluster, find_pg_bin

URL_PATTERN = re.compile(
    r"postgresql\+psycopg://(?P<user>\w+)@127\.0\.0\.1:(?P<port>\d+)/scimserver_test"
)


def libpq_url(sqlalchemy_url: str) -> str:
    """Drop the SQLAlchemy driver name so that libpq accepts the URL."""
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


def test_cluster_answers_queries_until_stopped() -> None:
    cluster = PostgresCluster()
    try:
        url = cluster.start()
        root = cluster.root

        with psycopg.connect(libpq_url(url)) as connection:
            row = connection.execute("select 1, current_database()").fetchone()
    finally:
        cluster.stop()

    assert URL_PATTERN.fullmatch(url), url
    assert row == (1, "scimserver_test")
    assert root is not None and not root.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(libpq_url(url), connect_timeout=5).close()


def test_stop_is_harmless_when_not_started() -> None:
    cluster = PostgresCluster()

    cluster.stop()

    assert cluster.root is None


def test_find_pg_bin_finds_the_server_programs() -> None:
    for name in ("initdb", "pg_ctl", "postgres"):
        path = find_pg_bin(name)

        assert path is not None, name
        assert os.path.basename(path) == name
        assert os.access(path, os.X_OK)


def test_find_pg_bin_returns_none_for_an_unknown_program() -> None:
    assert find_pg_bin("scimserver-no-such-program") is None

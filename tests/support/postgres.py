"""A throwaway PostgreSQL cluster for the test suite.

The cluster lives in a temporary folder, listens on 127.0.0.1 only and trades
durability for speed. PostgreSQL refuses to run as root, so when the tests run
as root its programs run as the unprivileged ``nobody`` account instead.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)

DEBIAN_SERVER_ROOT = Path("/usr/lib/postgresql")
UNPRIVILEGED_ACCOUNT = "nobody"
SUPERUSER = "scimserver"
TIMEOUT_SECONDS = 60

#: Appended to ``postgresql.conf``: loopback TCP only, no Unix socket (its
#: default folder is not writable by ``nobody``), and no durability.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


class PostgresClusterError(RuntimeError):
    """Raised when the test cluster cannot be created, started or stopped."""


def find_pg_bin(name: str) -> str | None:
    """Return the path of a PostgreSQL program, or ``None`` when it is absent.

    The ``PATH`` comes first, then Debian's versioned folders, newest first.
    """
    on_path = shutil.which(name)
    if on_path is not None:
        return on_path

    candidates = sorted(
        DEBIAN_SERVER_ROOT.glob(f"*/bin/{name}"),
        key=lambda program: _version_key(program.parent.parent.name),
        reverse=True,
    )
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None


class PostgresCluster:
    """A PostgreSQL cluster in a temporary folder, for one test session.

    :param database: name of the database :meth:`start` creates.
    """

    def __init__(self, database: str = "scimserver_test") -> None:
        self.database = database
        self.root: Path | None = None
        self._bin_dir: Path | None = None
        self._account = _unprivileged_account()

    def start(self) -> str:
        """Create and start the cluster; return its SQLAlchemy URL."""
        if self.root is not None:
            raise PostgresClusterError("the cluster is already started")

        self._bin_dir = _server_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="scimserver-pg-"))
        port = _free_port()
        try:
            self._hand_over(self.root)
            self._initdb()
            self._configure(port)
            self._pg_ctl("start", "-l", str(self._log_path), "-w")
            self._create_database(port)
        except BaseException:
            self.stop()
            raise

        logger.info("PostgreSQL test cluster listens on 127.0.0.1:%s", port)
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{port}/{self.database}"

    def stop(self) -> None:
        """Shut the cluster down (fast mode) and remove its folder."""
        if self.root is None:
            return

        try:
            if (self._data_dir / "postmaster.pid").exists():
                self._pg_ctl("stop", "-m", "fast", "-w")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    @property
    def _data_dir(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    @property
    def _log_path(self) -> Path:
        assert self.root is not None
        return self.root / "postgres.log"

    def _hand_over(self, path: Path) -> None:
        if self._account is not None:
            os.chown(path, self._account.pw_uid, self._account.pw_gid)

    def _initdb(self) -> None:
        self._run(
            "initdb",
            "--pgdata",
            str(self._data_dir),
            "--username",
            SUPERUSER,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )

    def _configure(self, port: int) -> None:
        lines = [f"{name} = {value}\n" for name, value in SETTINGS.items()]
        lines.append(f"port = {port}\n")
        with (self._data_dir / "postgresql.conf").open("a") as conf:
            conf.writelines(lines)

    def _pg_ctl(self, action: str, *options: str) -> None:
        timeout = str(TIMEOUT_SECONDS)
        self._run("pg_ctl", action, "-D", str(self._data_dir), "-t", timeout, *options)

    def _create_database(self, port: int) -> None:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database))
        with psycopg.connect(
            host="127.0.0.1",
            port=port,
            user=SUPERUSER,
            dbname="postgres",
            autocommit=True,
            connect_timeout=TIMEOUT_SECONDS,
        ) as connection:
            connection.execute(statement)

    def _run(self, program: str, *arguments: str) -> None:
        assert self._bin_dir is not None and self.root is not None
        account = self._account
        completed = subprocess.run(
            [str(self._bin_dir / program), *arguments],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS * 2,
            user=None if account is None else account.pw_uid,
            group=None if account is None else account.pw_gid,
            extra_groups=None if account is None else [],
        )
        if completed.returncode != 0:
            raise PostgresClusterError(
                f"{program} exited with {completed.returncode}:\n"
                f"{completed.stdout}{completed.stderr}{self._log_tail()}"
            )

    def _log_tail(self) -> str:
        if self.root is None or not self._log_path.exists():
            return ""
        return "\n".join(self._log_path.read_text().splitlines()[-20:])


def _server_bin_dir() -> Path:
    initdb = find_pg_bin("initdb")
    if initdb is None:
        raise PostgresClusterError(
            "PostgreSQL's initdb was not found on PATH nor in "
            f"{DEBIAN_SERVER_ROOT}/*/bin: install Debian's postgresql package"
        )
    # pg_ctl must come from the same version as initdb, hence its folder.
    return Path(initdb).resolve().parent


def _unprivileged_account() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(UNPRIVILEGED_ACCOUNT)
    except KeyError:
        raise PostgresClusterError(
            f"running as root needs the account {UNPRIVILEGED_ACCOUNT!r} to run "
            "PostgreSQL, which refuses root"
        ) from None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _version_key(folder: str) -> tuple[int, ...]:
    parts = folder.split(".")
    if not all(part.isdigit() for part in parts):
        return (-1,)
    return tuple(int(part) for part in parts)

"""Check scimserver against RFC 7643 and RFC 7644 with scim2-tester.

By default a fresh server is started on a free loopback port with a SQLite
database in a temporary folder, migrated, loaded with the demo data and given
a client whose bearer token the checks use; ``--server-log`` keeps its output.
``--url`` and ``--token`` check a server that already runs instead.

A summary, each failure and each deviation from a SHOULD are printed. The exit
status is 1 when a check failed and 2 when the server could not be started.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import CheckResult, Status, check_server

logger = logging.getLogger("conformance")

DESCRIPTION = "Check scimserver against RFC 7643 and RFC 7644 with scim2-tester."

HOST = "127.0.0.1"
SCIM_PATH = "/scim/v2"
CLIENT_NAME = "conformance"
SCOPES = ("scim:read", "scim:write")
COMMAND_TIMEOUT_SECONDS = 120
STARTUP_TIMEOUT_SECONDS = 60
SHUTDOWN_TIMEOUT_SECONDS = 15
REQUEST_TIMEOUT_SECONDS = 30
DATA_PREVIEW_CHARS = 400

#: MUST-level violations; a DEVIATION only departs from a SHOULD.
FAILED = frozenset({Status.ERROR, Status.CRITICAL})


class ServerError(RuntimeError):
    """Raised when the server under test cannot be prepared or started."""


@dataclass(frozen=True)
class Selection:
    """Which scim2-tester checks to run; empty means all of them."""

    include_tags: frozenset[str]
    exclude_tags: frozenset[str]
    resource_types: tuple[str, ...]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the checks and return the process exit status."""
    options = parse_arguments(argv)
    logging.basicConfig(format="conformance: %(message)s")
    logger.setLevel(logging.INFO)
    selection = Selection(
        frozenset(options.include_tag),
        frozenset(options.exclude_tag),
        tuple(options.resource_type),
    )

    try:
        if options.url:
            results = run_checks(options.url, options.token, selection)
        else:
            results = check_fresh_server(selection, options.server_log)
    except ServerError as error:
        logger.error("%s", error)
        return 2

    report(results, verbose=options.verbose)
    return 1 if any(result.status in FAILED for result in results) else 0


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument(
        "--url",
        help=f"SCIM root of a running server, such as http://{HOST}:8000{SCIM_PATH}",
    )
    parser.add_argument("--token", help="bearer token for --url")
    parser.add_argument("--include-tag", action="append", default=[], metavar="TAG")
    parser.add_argument("--exclude-tag", action="append", default=[], metavar="TAG")
    parser.add_argument("--resource-type", action="append", default=[], metavar="NAME")
    parser.add_argument("--verbose", action="store_true", help="print every check")
    parser.add_argument(
        "--server-log",
        type=Path,
        metavar="FILE",
        help="keep the started server's output in FILE (default: discarded)",
    )
    options = parser.parse_args(argv)

    if bool(options.url) != bool(options.token):
        parser.error("--url and --token go together")
    return options


def check_fresh_server(
    selection: Selection, server_log: Path | None
) -> list[CheckResult]:
    """Start a new server with its own database, check it and stop it."""
    scimserver = find_scimserver()

    with tempfile.TemporaryDirectory(prefix="scimserver-conformance-") as workdir:
        port = free_port()
        environment = server_environment(Path(workdir), port)
        run_cli(scimserver, environment, "db", "upgrade")
        run_cli(scimserver, environment, "demo", "load")
        scope_options = [option for scope in SCOPES for option in ("--scope", scope)]
        token = run_cli(
            scimserver,
            environment,
            "clients",
            "create",
            CLIENT_NAME,
            *scope_options,
            "--policy-template",
            "source-of-record",
        )

        url = f"http://{HOST}:{port}{SCIM_PATH}"
        command = [scimserver, "serve", "--host", HOST, "--port", str(port)]
        log_path = server_log or Path(workdir) / "server.log"
        with running_server(command, environment, url, log_path):
            return run_checks(url, token, selection)


def run_checks(url: str, token: str, selection: Selection) -> list[CheckResult]:
    """Run scim2-tester against the SCIM root ``url``."""
    logger.info("checking %s", url)
    headers = {"Authorization": f"Bearer {token}"}

    with http_client(url, headers) as http:
        return check_server(
            SyncSCIMClient(http),
            include_tags=set(selection.include_tags) or None,
            exclude_tags=set(selection.exclude_tags) or None,
            resource_types=list(selection.resource_types) or None,
        )


def report(results: Sequence[CheckResult], *, verbose: bool) -> None:
    """Print the failures, the deviations and a one-line count."""
    failed = [result for result in results if result.status in FAILED]
    deviations = [result for result in results if result.status is Status.DEVIATION]
    skipped = sum(result.status is Status.SKIPPED for result in results)
    passed = len(results) - len(failed) - skipped

    if verbose:
        print_section("All checks", results)
    print_section("Deviations from a SHOULD (counted as passed)", deviations)
    print_section("Failures", failed)
    print(f"conformance: {passed} passed, {len(failed)} failed, {skipped} skipped")


def print_section(heading: str, results: Sequence[CheckResult]) -> None:
    """Print one line per result under a heading, and the data of failures."""
    if not results:
        return

    print(f"\n{heading}:")
    for result in results:
        where = f"{result.resource_type} " if result.resource_type else ""
        print(f"  {result.status.name:<10} {where}{result.title}: {result.reason}")
        if result.status in FAILED and result.data is not None:
            print(f"             data: {str(result.data)[:DATA_PREVIEW_CHARS]}")
    print()


def find_scimserver() -> str:
    """Return the ``scimserver`` command beside this interpreter, or on PATH."""
    beside = Path(sys.executable).parent / "scimserver"
    if beside.exists():
        return str(beside)

    on_path = shutil.which("scimserver")
    if on_path is None:
        raise ServerError("the scimserver command is not installed (make venv)")
    return on_path


def server_environment(workdir: Path, port: int) -> dict[str, str]:
    """Return the environment that points the server at ``workdir``."""
    environment = dict(os.environ)
    environment["SCIMSERVER_DATABASE_URL"] = f"sqlite:///{workdir / 'scimserver.db'}"
    environment["SCIMSERVER_BASE_URL"] = f"http://{HOST}:{port}"
    return environment


def run_cli(scimserver: str, environment: dict[str, str], *arguments: str) -> str:
    """Run one ``scimserver`` command and return what it printed."""
    completed = subprocess.run(
        [scimserver, *arguments],
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
    )
    if completed.returncode != 0:
        raise ServerError(
            f"scimserver {' '.join(arguments[:2])} exited with "
            f"{completed.returncode}:\n{completed.stderr}"
        )
    return completed.stdout.strip()


@contextlib.contextmanager
def running_server(
    command: list[str], environment: dict[str, str], url: str, log_path: Path
) -> Iterator[None]:
    """Run the server for the duration of the block; its output goes to a log."""
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            command,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    try:
        wait_until_ready(server, url, log_path)
        yield
    finally:
        stop_server(server)


def wait_until_ready(server: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Wait until the server answers HTTP, whatever the status."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS

    with http_client(url, {}) as http:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise ServerError(
                    f"the server exited with {server.returncode}:\n{log_tail(log)}"
                )
            try:
                http.get("ServiceProviderConfig")
            except httpx2.TransportError:
                time.sleep(0.2)
                continue
            logger.info("the server answers on %s", url)
            return

    raise ServerError(f"the server did not answer within {STARTUP_TIMEOUT_SECONDS} s")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """Stop the server gracefully, then kill whatever is left of its group."""
    server.terminate()
    try:
        server.wait(timeout=SHUTDOWN_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        logger.warning("the server did not stop in time; killing it")

    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)
    server.wait()


def http_client(url: str, headers: dict[str, str]) -> httpx2.Client:
    """Return an HTTP client for ``url`` that ignores proxy settings."""
    return httpx2.Client(
        base_url=url,
        headers=headers,
        timeout=REQUEST_TIMEOUT_SECONDS,
        trust_env=False,
    )


def free_port() -> int:
    """Return a loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
    return port


def log_tail(path: Path, lines: int = 30) -> str:
    """Return the last lines of a log file."""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


if __name__ == "__main__":
    sys.exit(main())

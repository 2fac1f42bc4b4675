"""Benchmark scimserver under gunicorn with wrk, beside a bare Flask baseline.

For each backend (SQLite, and PostgreSQL in a throwaway cluster) the database
is seeded, the baseline app and then scimserver are served by gunicorn with
``deploy/gunicorn.conf.py`` on a free 127.0.0.1 port, and wrk drives each
workload for a few seconds. Printed per workload: requests per second, median
and 99th-percentile latency, failed requests and the ratio to the baseline;
then the peak RSS of each scimserver worker and a Bulk import.

``make bench`` runs it with the defaults; see ``--help`` and bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import baseline  # noqa: E402
from bench.seed import Seeded, seed, user_payload  # noqa: E402
from bench.wrk import Measurement, ensure_wrk, run_wrk  # noqa: E402
from scimserver import create_app, schema_migrations  # noqa: E402
from scimserver.db import get_database  # noqa: E402
from scimserver.policy.client_policies import set_policy  # noqa: E402
from scimserver.policy.client_view import EXTENSION_KEY  # noqa: E402
from scimserver.policy.clients import create_client  # noqa: E402
from scimserver.policy.templates import source_of_record  # noqa: E402
from scimserver.scim.api import REGISTRY_KEY  # noqa: E402
from tests.support.postgres import PostgresCluster  # noqa: E402

GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SAMPLE = 10_000
STARTUP_SECONDS = 60
#: How long a workload whose requests outlast the run is measured on one connection.
SLOW_SECONDS = 30


@dataclass(frozen=True)
class Workload:
    """One wrk workload: its script entry, the data it picks from, its target."""

    name: str
    title: str
    script: str
    data: str
    target: float | None = None
    #: Query string appended to the request path, e.g. to trim the response.
    query: str = ""
    #: ``Prefer`` header sent with each request (RFC 7240), e.g. return=minimal.
    prefer: str = ""


WORKLOADS = [
    Workload("get_user", "GET /Users/{id}", "get_user", "user_ids", 0.6),
    Workload("filter_eq", 'filter userName eq "..."', "filter_eq", "user_names", 0.6),
    Workload("list_page", "list, count=100", "list_page", "user_ids", 0.3),
    Workload("create_user", "POST /Users", "create_user", "user_ids", 0.6),
    Workload("patch_active", "PATCH active", "patch_active", "user_ids", 0.6),
    Workload(
        "add_member_small", "add member, 10-member group", "add_member", "user_ids"
    ),
    Workload("add_member_big", "add member, big group", "add_member", "user_ids"),
    Workload(
        "add_member_big_lean",
        "add member, big group, excludedAttributes=members",
        "add_member",
        "user_ids",
        query="?excludedAttributes=members",
    ),
    Workload(
        "add_member_small_minimal",
        "add member, 10-member group, Prefer: return=minimal",
        "add_member",
        "user_ids",
        prefer="return=minimal",
    ),
    Workload(
        "add_member_big_minimal",
        "add member, big group, Prefer: return=minimal",
        "add_member",
        "user_ids",
        prefer="return=minimal",
    ),
    Workload("filter_co", 'filter userName co "..."', "filter_co", "substrings"),
]


@dataclass(frozen=True)
class Result:
    """A workload's measurement and its ratio to the baseline's throughput."""

    workload: str
    title: str
    requests: int
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int
    ratio: float
    target: float | None
    connections: int
    peak_rss_mb: float
    #: Throughput of the baseline, measured just before this workload.
    baseline_rate: float = 0.0


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000, help="users to seed")
    parser.add_argument(
        "--big-group",
        type=int,
        default=100_000,
        help="members of the big group (users of their own)",
    )
    parser.add_argument(
        "--backend", choices=["sqlite", "postgresql", "both"], default="both"
    )
    parser.add_argument("--duration", type=int, default=5, help="seconds per workload")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--threads",
        type=int,
        help="threads per worker (default: as deploy/gunicorn.conf.py chooses for "
        "the database, 1 on SQLite and 4 on PostgreSQL)",
    )
    parser.add_argument("--bulk-users", type=int, default=10_000)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--logs", type=Path, help="keep the servers' logs here")
    parser.add_argument(
        "--workload",
        action="append",
        choices=[workload.name for workload in WORKLOADS],
        help="run only this workload (repeat for several)",
    )
    parser.add_argument(
        "--no-write-reference",
        dest="write_reference",
        action="store_false",
        help="skip the baseline app's bare audited write",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark for each backend and print the results."""
    options = parse_arguments(argv)
    wrk = ensure_wrk()
    backends = (
        ["sqlite", "postgresql"] if options.backend == "both" else [options.backend]
    )
    report: dict[str, Any] = {"machine": machine(), "options": _plain(vars(options))}

    for backend in backends:
        with (
            tempfile.TemporaryDirectory(prefix="scimserver-bench-") as folder,
            database(backend, Path(folder)) as url,
        ):
            report[backend] = bench_backend(wrk, url, Path(folder), options)
        print_backend(backend, report[backend])

    if options.json is not None:
        options.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


@contextlib.contextmanager
def database(backend: str, folder: Path) -> Iterator[str]:
    """A fresh database URL: a SQLite file, or a throwaway PostgreSQL cluster."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    cluster = PostgresCluster("scimserver_bench")
    try:
        yield cluster.start()
    finally:
        cluster.stop()


def bench_backend(
    wrk: str, url: str, folder: Path, options: argparse.Namespace
) -> dict[str, Any]:
    """Seed, measure the baseline, then every workload against scimserver."""
    schema_migrations.upgrade(url)
    app = create_app({"database_url": url})
    seeded = seed(
        get_database(app).engine,
        app.extensions[REGISTRY_KEY],
        options.users,
        options.big_group,
    )
    baseline.seed(url, options.users)
    token = _token(app)
    get_database(app).dispose()
    data = write_data(folder, seeded, options.users)
    print(
        f"seeded {options.users} users and a group of {seeded.big_group_size} "
        f"in {seeded.seconds:.1f} s",
        file=sys.stderr,
    )

    base_env = {"BENCH_TOKEN": token, "BENCH_RUN": str(int(time.time()))}
    results: list[Result] = []
    baseline_log = folder / "baseline.log"
    with Server("bench.baseline:app", url, baseline_log, options) as base_server:
        ids = data["baseline_ids"]
        measure(wrk, base_server, "baseline", ids, base_env, options, warmup=True)
        for workload in selected(options.workload):
            base = measure(wrk, base_server, "baseline", ids, base_env, options)
            env = {**base_env, "BENCH_GROUP": _group(workload, seeded)}
            result = bench_workload(wrk, url, folder, workload, data, env, options)
            results.append(_paired(result, base))
        if options.write_reference:
            base = measure(wrk, base_server, "baseline", ids, base_env, options)
            write = measure(wrk, base_server, "baseline_write", ids, base_env, options)
            results.append(_paired(_reference_write(write, base_server, options), base))
    bulk: dict[str, Any] = {"skipped": "--bulk-users 0"}
    if options.bulk_users > 0:
        with Server("scimserver.wsgi:app", url, folder / "scim.log", options) as server:
            bulk = bulk_import(server.base_url, token, options.bulk_users)
            bulk["peak_rss_mb"] = max(server.peak_rss_mb())

    if options.logs is not None:
        options.logs.mkdir(parents=True, exist_ok=True)
        for log in folder.glob("*.log"):
            shutil.copy(log, options.logs / f"{backend_name(url)}-{log.name}")
    return {
        "users": options.users,
        "big_group_members": seeded.big_group_size,
        "seed_seconds": round(seeded.seconds, 1),
        "results": [asdict(result) for result in results],
        "bulk": bulk,
    }


def _reference_write(
    measured: Measurement, server: Server, options: argparse.Namespace
) -> Result:
    """The baseline app's bare audited write (see ``bench/baseline.py``)."""
    return _result(
        Workload(
            "reference_write",
            "reference: bare audited write (baseline app, not scimserver)",
            "baseline_write",
            "baseline_ids",
        ),
        measured,
        options.connections,
        max(server.peak_rss_mb()),
    )


def _result(
    workload: Workload, measured: Measurement, connections: int, peak_rss: float
) -> Result:
    """A workload's result, before its baseline is paired with it."""
    return Result(
        workload.name,
        workload.title,
        measured.requests,
        measured.rate,
        measured.p50_ms,
        measured.p99_ms,
        measured.errors,
        0.0,
        workload.target,
        connections,
        peak_rss,
    )


def selected(names: list[str] | None) -> list[Workload]:
    """The workloads named on the command line, or all of them."""
    return [w for w in WORKLOADS if names is None or w.name in names]


def _paired(result: Result, base: Measurement) -> Result:
    """Attach the baseline measured just before ``result``, and the ratio."""
    ratio = round(result.rate / base.rate, 2) if base.rate else 0.0
    return replace(result, baseline_rate=base.rate, ratio=ratio)


def backend_name(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def bench_workload(
    wrk: str,
    url: str,
    folder: Path,
    workload: Workload,
    data: dict[str, Path],
    environment: dict[str, str],
    options: argparse.Namespace,
) -> Result:
    """Measure one workload on a freshly started server.

    A fresh server per workload keeps requests that wrk abandoned at the end of
    one workload from slowing the next, and gives each its own peak RSS. When no
    request completes in time, one connection measures single requests instead.
    """
    env = {**environment, "BENCH_QUERY": workload.query}
    env["BENCH_PREFER"] = workload.prefer
    script, picks = workload.script, data[workload.data]
    connections = options.connections
    with Server("scimserver.wsgi:app", url, folder / "scim.log", options) as server:
        measure(
            wrk, server, "get_user", data["user_ids"], environment, options, warmup=True
        )
        measured = measure(wrk, server, script, picks, env, options)
        peak_rss = max(server.peak_rss_mb())

    if measured.requests == 0:
        connections = 1
        with Server("scimserver.wsgi:app", url, folder / "scim.log", options) as server:
            measured = measure(
                wrk, server, script, picks, env, options, SLOW_SECONDS, connections
            )
            peak_rss = max(peak_rss, *server.peak_rss_mb())
    return _result(workload, measured, connections, peak_rss)


def measure(
    wrk: str,
    server: Server,
    script: str,
    data: Path,
    environment: dict[str, str],
    options: argparse.Namespace,
    duration: int | None = None,
    connections: int | None = None,
    warmup: bool = False,
) -> Measurement:
    """Run one workload (or a one-second warm-up) against ``server``."""
    print(f"  {script} ...", file=sys.stderr)
    seconds = 1 if warmup else duration or options.duration
    clients = connections or options.connections
    return run_wrk(
        wrk,
        server.base_url,
        script,
        {**environment, "BENCH_DATA": str(data)},
        seconds,
        clients,
        min(options.wrk_threads, clients),
    )


def write_data(folder: Path, seeded: Seeded, rows: int) -> dict[str, Path]:
    """Write the files the Lua script picks ids, names and substrings from."""
    chooser = random.Random(7)
    count = min(SAMPLE, len(seeded.user_ids))
    picked = chooser.sample(range(len(seeded.user_ids)), count)
    contents = {
        "user_ids": [seeded.user_ids[n] for n in picked],
        "user_names": [seeded.user_names[n] for n in picked],
        "substrings": [f"{chooser.randrange(10_000):04d}" for _ in range(1_000)],
        "baseline_ids": [str(chooser.randrange(1, rows + 1)) for _ in range(SAMPLE)],
    }
    paths = {}
    for name, lines in contents.items():
        paths[name] = folder / f"{name}.txt"
        paths[name].write_text("\n".join(lines) + "\n")
    return paths


class Server:
    """A gunicorn server for the benchmark, on a free 127.0.0.1 port."""

    def __init__(
        self, app_path: str, url: str, log: Path, options: argparse.Namespace
    ) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ready_path = "/readyz" if app_path.startswith("scimserver") else "/items/1"
        self.command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(GUNICORN_CONF),
        ]
        self.command += ["--bind", f"127.0.0.1:{self.port}"]
        self.command += ["--workers", str(options.workers), "--max-requests", "0"]
        self.command.append(app_path)
        self.env = {
            **os.environ,
            "SCIMSERVER_DATABASE_URL": url,
            "SCIMSERVER_BASE_URL": self.base_url,
            "SCIMSERVER_RATE_LIMIT_PER_SECOND": "0",
        }
        # The config file picks threads and pool size from the database URL.
        self.env.pop("SCIMSERVER_THREADS", None)
        self.env.pop("SCIMSERVER_DB_POOL_SIZE", None)
        if options.threads is not None:
            self.env["SCIMSERVER_THREADS"] = str(options.threads)
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=log, stderr=log, cwd=ROOT
            )
        self._wait_ready()
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)  # quick shutdown: drop abandoned work
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def peak_rss_mb(self) -> list[float]:
        """Return the peak resident memory (VmHWM) of each worker, in MB."""
        assert self.process is not None
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [round(_peak_rss_kb(int(child)) / 1024, 1) for child in children]

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(self.base_url + self.ready_path, timeout=5),
            ):
                return
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not become ready; see {self.log}")


def bulk_import(base_url: str, token: str, users: int) -> dict[str, Any]:
    """POST ``users`` users through /Bulk in requests of its maxOperations."""
    config = _call(base_url, token, "GET", "/scim/v2/ServiceProviderConfig")[1]
    bulk = config.get("bulk", {}) if isinstance(config, dict) else {}
    if not bulk.get("supported"):
        print("  Bulk: not supported by this server; skipped", file=sys.stderr)
        return {"skipped": "the server does not support Bulk"}

    size = max(1, min(int(bulk.get("maxOperations", 1000)), users))
    durations: list[float] = []
    failed = 0
    stamp = int(time.time())
    for start in range(0, users, size):
        body = _bulk_body(stamp, range(start, min(start + size, users)))
        began = time.perf_counter()
        status, reply = _call(base_url, token, "POST", "/scim/v2/Bulk", body)
        durations.append(time.perf_counter() - began)
        failed += _failed_operations(status, reply, len(body["Operations"]))

    total = sum(durations)
    print(f"  Bulk: {users} users in {total:.1f} s", file=sys.stderr)
    return {
        "users": users,
        "requests": len(durations),
        "operations_per_request": size,
        "seconds": round(total, 2),
        "users_per_second": round(users / total, 1),
        "slowest_request_seconds": round(max(durations), 2),
        "failed_operations": failed,
    }


def _bulk_body(stamp: int, numbers: range) -> dict[str, Any]:
    operations = [
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": f"u{n}",
            "data": user_payload(f"bulk-{stamp}-{n}", n),
        }
        for n in numbers
    ]
    return {"schemas": [BULK_REQUEST], "Operations": operations}


def _failed_operations(status: int, reply: Any, sent: int) -> int:
    if status != 200 or not isinstance(reply, dict):
        return sent
    results = reply.get("Operations", [])
    return sum(1 for op in results if not str(op.get("status", "")).startswith("2"))


def _call(
    base_url: str, token: str, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base_url + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/scim+json")
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None


def print_backend(backend: str, report: dict[str, Any]) -> None:
    """Print one backend's results as a Markdown table."""
    print(
        f"\n### {backend}: {report['users']} users, big group of "
        f"{report['big_group_members']} members "
        f"(seeded in {report['seed_seconds']} s)\n"
    )
    print(
        "| workload | req/s | p50 ms | p99 ms | errors "
        "| baseline req/s | ratio | target | peak RSS MB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|")
    for row in report["results"]:
        target = "" if row["target"] is None else f"≥ {row['target']}"
        title = row["title"]
        if row["connections"] == 1:
            title += " (1 connection)"
        print(
            f"| {title} | {row['rate']:.1f} | {row['p50_ms']:.1f} "
            f"| {row['p99_ms']:.1f} | {row['errors']} | {row['baseline_rate']:.0f} "
            f"| {row['ratio']:.2f} | {target} | {row['peak_rss_mb']:.0f} |"
        )
    print(f"\nbulk: {report['bulk']}")


def machine() -> dict[str, Any]:
    """Describe the machine the figures come from."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": model,
        "cores": len(os.sched_getaffinity(0)),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "python": sys.version.split()[0],
    }


def _group(workload: Workload, seeded: Seeded) -> str:
    big = workload.name.startswith("add_member_big")
    return seeded.big_group_id if big else seeded.small_group_id


def _token(app: Any) -> str:
    """The HRIS's token: the source-of-record policy, as in production."""
    release = app.extensions[EXTENSION_KEY]
    with app.app_context(), get_database(app).sessions() as session:
        client, token = create_client(session, "bench", ["scim:read", "scim:write"])
        set_policy(
            session,
            client,
            source_of_record(release.registry, release.dictionary),
            release.registry,
            release.dictionary,
            actor="bench",
        )
        session.commit()
    return token


def _peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {
        key: str(value) if isinstance(value, Path) else value
        for key, value in values.items()
    }


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark the outbox: its cost on the write path, and delivery throughput.

For each backend (SQLite, and PostgreSQL in a throwaway cluster), in one run:

1. Write path: ``POST /Users`` with wrk against scimserver under gunicorn,
   without connectors and with one webhook connector (no worker runs, so the
   second pays exactly the enqueue), alternating for ``--rounds`` rounds so
   that the drift of a shared machine hits both alike. The ratio compares the
   mean rates.
2. Delivery: the events the second run queued are delivered by
   ``scimserver worker`` processes (1, then 2 at once) to a local receiver on
   127.0.0.1 that answers 204; events per second are counted from the first
   event the receiver gets to the last, so process start-up is left out.

``.venv/bin/python bench/outbox.py --help`` lists the options; nothing here is
part of ``make test``. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from statistics import mean
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import update  # noqa: E402
from werkzeug.serving import WSGIRequestHandler, make_server  # noqa: E402
from werkzeug.wrappers import Request, Response  # noqa: E402

from bench.run import Server, database  # noqa: E402
from bench.wrk import ensure_wrk, run_wrk  # noqa: E402
from scimserver import schema_migrations  # noqa: E402
from scimserver.connectors.models import PENDING, OutboxEvent  # noqa: E402
from scimserver.db import make_engine  # noqa: E402

SECRET_ENV = "BENCH_WEBHOOK_SECRET"
SECRET = "whsec_" + base64.b64encode(b"bench-secret-for-the-outbox-run!").decode()
SCIMSERVER = [sys.executable, "-c", "from scimserver.cli import main; main()"]


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *_args: Any) -> None:
        """One line per request would cost more than the request itself."""


class Receiver:
    """A threaded HTTP server on 127.0.0.1 that counts POSTs and answers 204."""

    def __init__(self) -> None:
        self.count = 0
        self.first = self.last = 0.0
        self._lock = threading.Lock()
        self._server = make_server(
            "127.0.0.1", 0, self._app, threaded=True, request_handler=_QuietHandler
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        Request(environ).get_data()
        with self._lock:
            self.count += 1
            self.last = time.perf_counter()
            self.first = self.first or self.last
        return Response(status=204)(environ, start_response)


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backend", choices=["sqlite", "postgresql", "both"], default="both"
    )
    parser.add_argument("--duration", type=int, default=5, help="seconds per run")
    parser.add_argument(
        "--rounds", type=int, default=3, help="POST /Users runs without and with"
    )
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run both measurements on each backend and print them."""
    options = parse_arguments(argv)
    wrk = ensure_wrk()
    backends = (
        ["sqlite", "postgresql"] if options.backend == "both" else [options.backend]
    )
    report: dict[str, Any] = {}
    for backend in backends:
        with (
            tempfile.TemporaryDirectory(prefix="scimserver-outbox-") as folder,
            database(backend, Path(folder)) as url,
            Receiver() as receiver,
        ):
            report[backend] = bench_backend(wrk, url, Path(folder), receiver, options)
        print(f"{backend}: {json.dumps(report[backend], indent=2)}")
    if options.json is not None:
        options.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def bench_backend(
    wrk: str,
    url: str,
    folder: Path,
    receiver: Receiver,
    options: argparse.Namespace,
) -> dict[str, Any]:
    """Measure POST /Users without and with a connector, then delivery."""
    schema_migrations.upgrade(url)
    connectors = folder / "connectors.toml"
    connectors.write_text(
        f'[[connectors]]\nname = "bench"\ntype = "webhook"\n'
        f'url = "{receiver.url}"\nsecret_env = "{SECRET_ENV}"\n'
    )
    environment = {"SCIMSERVER_DATABASE_URL": url, SECRET_ENV: SECRET}
    token = _token(environment)

    runs: dict[str, list[dict[str, Any]]] = {"without": [], "with": []}
    for _round in range(options.rounds):  # alternate, so drift hits both alike
        for label, file in (("without", None), ("with", connectors)):
            env = {**environment, "SCIMSERVER_CONNECTORS_FILE": str(file or "")}
            runs[label].append(
                _post_users(wrk, url, folder, env, token, label, options)
            )
    writes: dict[str, Any] = {
        f"{label}_connector": {"rates": [run["rate"] for run in measured]}
        for label, measured in runs.items()
    }
    means = {
        label: mean(r["rate"] for r in measured) for label, measured in runs.items()
    }
    writes["ratio"] = round(means["with"] / means["without"], 2)

    env = {**environment, "SCIMSERVER_CONNECTORS_FILE": str(connectors)}
    delivery = {f"{count}_workers": _deliver(env, receiver, count) for count in (1, 2)}
    return {"post_users": writes, "delivery": delivery}


def _post_users(
    wrk: str,
    url: str,
    folder: Path,
    env: dict[str, str],
    token: str,
    label: str,
    options: argparse.Namespace,
) -> dict[str, Any]:
    print(f"  POST /Users {label} ...", file=sys.stderr)
    server = Server("scimserver.wsgi:app", url, folder / f"{label}.log", options)
    server.env.update(env)
    with server:
        wrk_env = {"BENCH_TOKEN": token, "BENCH_RUN": f"{label}-{time.time_ns()}"}
        measured = run_wrk(
            wrk,
            server.base_url,
            "create_user",
            {**wrk_env, "BENCH_DATA": "/dev/null"},
            options.duration,
            options.connections,
            min(options.wrk_threads, options.connections),
        )
    return {
        "rate": measured.rate,
        "p50_ms": measured.p50_ms,
        "p99_ms": measured.p99_ms,
        "errors": measured.errors,
    }


def _deliver(env: dict[str, str], receiver: Receiver, workers: int) -> dict[str, Any]:
    """Queue every event again, then time ``workers`` processes delivering them."""
    full_env = {**os.environ, **env}
    _sql_requeue(full_env)
    pending = _pending(full_env)
    print(f"  delivering {pending} events with {workers} workers ...", file=sys.stderr)
    before, receiver.first = receiver.count, 0.0
    processes = [
        subprocess.Popen(
            [*SCIMSERVER, "worker", "--once", "--batch", "50"],
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    for process in processes:
        process.wait()
    delivered = receiver.count - before
    elapsed = receiver.last - receiver.first  # from the first event to the last
    return {
        "events": pending,
        "delivered": delivered,
        "seconds": round(elapsed, 2),
        "events_per_second": round((delivered - 1) / elapsed, 1) if elapsed else 0,
    }


def _sql_requeue(env: dict[str, str]) -> None:
    """Make every event pending again, so each run delivers the same backlog."""
    engine = make_engine(env["SCIMSERVER_DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(
            update(OutboxEvent).values(status=PENDING, attempts=0, finished=None)
        )
    engine.dispose()


def _pending(env: dict[str, str]) -> int:
    listed = subprocess.run(
        [*SCIMSERVER, "outbox", "list", "--limit", "1"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return sum(
        int(line.rsplit("=", 1)[1])
        for line in listed.stderr.splitlines()
        if "pending=" in line
    )


def _token(env: dict[str, str]) -> str:
    """A client that may create Users (the HRIS's template policy)."""
    created = subprocess.run(
        [
            *SCIMSERVER,
            *("clients", "create", "bench-hris"),
            *("--scope", "scim:read", "--scope", "scim:write"),
            *("--policy-template", "source-of-record"),
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return created.stdout.strip()


if __name__ == "__main__":
    sys.exit(main())

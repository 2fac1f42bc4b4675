"""Running wrk against a loopback server and reading its summary."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "workloads.lua"
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
LATENCY_LINE = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.M)
RATE_LINE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
ERRORS_LINE = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
SOCKET_ERRORS = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"
)
TOTAL_LINE = re.compile(r"^\s*(\d+) requests in", re.M)


@dataclass(frozen=True)
class Measurement:
    """What wrk measured for one workload."""

    requests: int
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int


def ensure_wrk() -> str:
    """Return the path of wrk, installing Debian's package when it is missing."""
    found = shutil.which("wrk")
    if found is not None:
        return found
    if os.geteuid() != 0:
        sys.exit("wrk is not installed: run `apt-get install wrk` as root")

    print("installing wrk with apt-get ...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)
    found = shutil.which("wrk")
    if found is None:
        sys.exit("apt-get installed no wrk")
    return found


def run_wrk(
    wrk: str,
    base_url: str,
    workload: str,
    environment: dict[str, str],
    duration: int,
    connections: int,
    threads: int,
) -> Measurement:
    """Drive ``base_url`` (a loopback address) for ``duration`` seconds."""
    if not base_url.startswith("http://127.0.0.1:"):
        raise ValueError("the benchmark only targets 127.0.0.1")
    command = [wrk, f"--threads={threads}", f"--connections={connections}"]
    command += [f"--duration={duration}s", "--timeout=60s", "--latency"]
    command += ["--script", str(SCRIPT), base_url]
    env = {**os.environ, **environment, "BENCH_WORKLOAD": workload}

    completed = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=duration + 60
    )
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed for {workload}: {completed.stderr}")
    return parse_summary(completed.stdout)


def parse_summary(text: str) -> Measurement:
    """Read requests, rate, median and 99th percentile, and errors from wrk."""
    latencies = {
        int(p): float(v) * UNITS_MS[u] for p, v, u in LATENCY_LINE.findall(text)
    }
    rate = RATE_LINE.search(text)
    total = TOTAL_LINE.search(text)
    if rate is None or total is None or not {50, 99} <= latencies.keys():
        raise ValueError(f"unexpected wrk output:\n{text}")

    errors = sum(int(n) for n in ERRORS_LINE.findall(text))
    socket_errors = SOCKET_ERRORS.search(text)
    if socket_errors is not None:
        errors += sum(int(n) for n in socket_errors.groups())
    return Measurement(
        int(total.group(1)), float(rate.group(1)), latencies[50], latencies[99], errors
    )

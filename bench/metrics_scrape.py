#!/usr/bin/env python3
"""Time to scrape `GET /metrics` of `lrs serve` with N active jobs in the store (default 100).

Starts `lrs serve` (plain HTTP on loopback, SQLite in a temporary folder) with the client
tests' harness (tests/clients/lrs_server.py: ready line, then /healthz), forges one small
chain, starts N continuous migrations of it (spread over instances of 25), waits until the
metrics show N jobs restoring, then times sequential scrapes over one keep-alive connection
and prints p50 / p99 / mean and the size of an answer. Stdlib only.

    ./bench/metrics_scrape.py [--lrs target/release/lrs] [--jobs 100] [--scrapes 300]

Without --lrs it builds and uses target/release/lrs (CARGO_TARGET_DIR is honoured).
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "clients"))
from lrs_server import LrsServer  # noqa: E402  (tests/clients/lrs_server.py, stdlib only)

SUB = "00000000-1111-2222-3333-444444444444"
API = "api-version=2024-11-01-preview"


def lrs_binary(path):
    if path:
        return path
    subprocess.run(["cargo", "build", "--release", "-p", "lrs"], check=True)
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    return os.path.join(target, "release", "lrs")


def request(conn, method, path, body=None):
    headers = {"content-type": "application/json"} if body is not None else {}
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def restoring_jobs(text):
    total = 0.0
    for line in text.splitlines():
        if line.startswith("lrs_jobs{") and 'state="Restoring"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lrs", help="lrs binary (default: build target/release/lrs)")
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--scrapes", type=int, default=300)
    args = parser.parse_args()
    lrs = lrs_binary(args.lrs)

    with tempfile.TemporaryDirectory() as root:
        blobs = os.path.join(root, "blobs")
        folder = os.path.join(blobs, "bench")
        subprocess.run(
            [lrs, "forge", "chain", "--db", "Bench", "--out", folder, "--checksum", "--logs", "2",
             "--data-size", "1MiB", "--log-size", "64KiB"],
            check=True, stdout=subprocess.DEVNULL)
        server = LrsServer(lrs, os.path.join(root, "data"), None, "--local-root", blobs,
                           "--poll-interval", "2", env={"RUST_LOG": "warn"})
        try:
            conn = http.client.HTTPConnection(server.http_host, server.http_port, timeout=30)
            for i in range(args.jobs):
                instance = f"mi{i // 25}"
                path = (f"/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Sql/"
                        f"managedInstances/{instance}/databases/db{i}?{API}")
                status, body = request(conn, "PUT", path, {
                    "location": "westeurope",
                    "properties": {"createMode": "RestoreExternalBackup",
                                   "storageContainerUri": f"file://{folder}",
                                   "autoCompleteRestore": False}})
                if status != 202:
                    sys.exit(f"PUT db{i}: {status} {body[:300]!r}")
            deadline = time.monotonic() + 300
            while True:
                status, body = request(conn, "GET", "/metrics")
                if restoring_jobs(body.decode()) >= args.jobs:
                    break
                if time.monotonic() > deadline:
                    sys.exit(f"the {args.jobs} jobs never all reached Restoring")
                time.sleep(0.5)
            times = []
            size = 0
            for _ in range(args.scrapes):
                started = time.perf_counter()
                status, body = request(conn, "GET", "/metrics")
                times.append(time.perf_counter() - started)
                size = len(body)
                if status != 200:
                    sys.exit(f"/metrics answered {status}")
            times.sort()
            p = lambda q: times[min(len(times) - 1, int(q * len(times)))] * 1000
            print(json.dumps({
                "jobs": args.jobs, "scrapes": args.scrapes, "answer_bytes": size,
                "p50_ms": round(p(0.50), 3), "p99_ms": round(p(0.99), 3),
                "mean_ms": round(statistics.mean(times) * 1000, 3),
                "lrs": lrs}))
        finally:
            server.stop()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Issue #13: two `lrs serve` nodes sharing one PostgreSQL store (and the target's journal).

1. Adoption: per round, node A starts a migration (restore speed limited so that it is caught
   mid-way), restores the full, and is killed with SIGKILL; the time from the kill to the next
   set restored, by node B, is recorded. Reported per lease length: min, median, max.
2. Load: 200 continuous migrations, 100 on each node (one managed instance each: the limit is
   100 per instance), all restored; then each node's resident memory, and the latency of
   GET restoreDetails on each node (sequential requests on random databases).

Loopback only; PostgreSQL is started (and stopped) with scripts/services/postgres.sh; the
nodes are started with the client tests' harness (tests/clients/lrs_server.py: ready line,
then /healthz). It builds and uses target/release/lrs (CARGO_TARGET_DIR is honoured).

    bench/adoption.py [--rounds 5] [--leases 2,10] [--migrations 200] [--requests 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "clients"))
from lrs_server import LrsServer  # noqa: E402  (tests/clients/lrs_server.py, stdlib only)

# Where `cargo build --release` (run in ROOT) puts it: CARGO_TARGET_DIR is honoured, as cargo does.
LRS = ROOT / os.environ.get("CARGO_TARGET_DIR", "target") / "release" / "lrs"
PREFIX = ("/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg1"
          "/providers/Microsoft.Sql/managedInstances/")
INSTANCE = PREFIX + "mi1"
API = "api-version=2024-11-01-preview"


def call(method: str, url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        text = r.read()
    return json.loads(text) if text else {}


def start_node(data: Path, store: str, blobs: Path, lease: float, mbps: str,
               poll: str = "0.05") -> LrsServer:
    """A node on plain HTTP only (`--no-https --http 127.0.0.1:0`), ready and healthy."""
    return LrsServer(LRS, data, None, "--store", store, "--local-root", str(blobs),
                     "--lease", str(lease), "--poll-interval", poll,
                     "--target-throughput-mbps", mbps,
                     listeners="http", stderr=subprocess.DEVNULL)


def details(base: str, db: str) -> dict:
    return call("GET", f"{base}{INSTANCE}/databases/{db}/restoreDetails/Default?{API}")["properties"]


def one_round(store: str, work: Path, lease: float, n: int) -> float:
    db = f"Adopt{n}"
    blobs = work / "blobs"
    folder = blobs / db
    subprocess.run([str(LRS), "forge", "chain", "--db", db, "--out", str(folder), "--checksum",
                    "--logs", "4", "--data-size", "8MiB", "--log-size", "8MiB", "--seed", str(n + 1)],
                   check=True, stdout=subprocess.DEVNULL)
    last = sorted(p.name for p in folder.iterdir() if "_LOG_" in p.name)[-1]
    a = start_node(work / f"a{n}", store, blobs, lease, "8")
    b = start_node(work / f"b{n}", store, blobs, lease, "8")
    a_url, b_url = a.http, b.http
    try:
        call("PUT", f"{a_url}{INSTANCE}/databases/{db}?{API}", {
            "location": "westeurope", "properties": {
                "createMode": "RestoreExternalBackup", "storageContainerUri": f"file://{folder}",
                "autoCompleteRestore": True, "lastBackupName": last}})
        while details(a_url, db).get("numberOfFilesRestored", 0) < 1:
            time.sleep(0.01)
        restored = details(a_url, db)["numberOfFilesRestored"]
        a.kill()  # SIGKILL
        killed = time.monotonic()
        while details(b_url, db).get("numberOfFilesRestored", 0) <= restored:
            time.sleep(0.01)
        return time.monotonic() - killed
    finally:
        for node in (a, b):
            node.kill()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def load(store: str, work: Path, migrations: int, requests: int) -> None:
    import random
    blobs = work / "load"
    template = blobs / "template"
    subprocess.run([str(LRS), "forge", "chain", "--db", "Load", "--out", str(template),
                    "--checksum", "--logs", "2", "--data-size", "1MiB", "--log-size", "1MiB"],
                   check=True, stdout=subprocess.DEVNULL)
    per_node = migrations // 2
    for i in range(migrations):
        shutil.copytree(template, blobs / f"db{i}")
    nodes = [start_node(work / f"load-{k}", store, blobs, 30, "1000", poll="2")
             for k in ("a", "b")]
    try:
        placed = []
        for i in range(migrations):
            node = i // per_node
            base = nodes[node].http
            inst = f"mi{node + 1}"
            call("PUT", f"{base}{PREFIX}{inst}/databases/db{i}?{API}", {
                "location": "westeurope", "properties": {
                    "createMode": "RestoreExternalBackup",
                    "storageContainerUri": f"file://{blobs / f'db{i}'}",
                    "autoCompleteRestore": False}})
            placed.append((node, inst, f"db{i}"))
        for node, inst, db in placed:
            base = nodes[node].http
            url = f"{base}{PREFIX}{inst}/databases/{db}/restoreDetails/Default?{API}"
            while call("GET", url)["properties"].get("numberOfFilesRestored", 0) < 3:
                time.sleep(0.02)
        print("| node | migrations | RSS (MiB) | restoreDetails p50 (ms) | p99 (ms) |")
        print("|---|---:|---:|---:|---:|")
        for k, server in enumerate(nodes):
            base = server.http
            mine = [p for p in placed if p[0] == k]
            latencies = []
            for _ in range(requests):
                _, inst, db = random.choice(mine)
                t = time.perf_counter()
                call("GET", f"{base}{PREFIX}{inst}/databases/{db}/restoreDetails/Default?{API}")
                latencies.append((time.perf_counter() - t) * 1000)
            latencies.sort()
            p50 = latencies[len(latencies) // 2]
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            print(f"| {'AB'[k]} | {len(mine)} | {rss_kib(server.pid) / 1024:.1f} | {p50:.1f} | {p99:.1f} |")
    finally:
        for server in nodes:
            server.kill()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--leases", default="2,10")
    parser.add_argument("--migrations", type=int, default=200)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "-p", "lrs"], cwd=ROOT, check=True)
    work = Path(tempfile.mkdtemp(prefix="lrs-adoption-"))
    # PostgreSQL runs as its own user, which must reach its folder inside.
    work.chmod(0o755)
    pg = work / "pg"
    pg.mkdir()
    url = subprocess.run([str(ROOT / "scripts/services/postgres.sh"), "start", str(pg)],
                         check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    try:
        print("| lease (s) | rounds | min (s) | median (s) | max (s) |")
        print("|---:|---:|---:|---:|---:|")
        n = 0
        for lease in (float(x) for x in args.leases.split(",")):
            times = []
            for _ in range(args.rounds):
                store = url.rsplit("/", 1)[0] + f"/adopt{n}"
                subprocess.run(["psql", url, "-q", "-c", f"CREATE DATABASE adopt{n}"], check=True)
                times.append(one_round(store, work, lease, n))
                n += 1
            print(f"| {lease:g} | {len(times)} | {min(times):.2f} | {statistics.median(times):.2f} "
                  f"| {max(times):.2f} |")
            sys.stdout.flush()
        print()
        subprocess.run(["psql", url, "-q", "-c", "CREATE DATABASE load"], check=True)
        load(url.rsplit("/", 1)[0] + "/load", work, args.migrations, args.requests)
    finally:
        subprocess.run([str(ROOT / "scripts/services/postgres.sh"), "stop", str(pg)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

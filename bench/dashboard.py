#!/usr/bin/env python3
"""The live dashboard (`GET /`) with N continuous migrations (default 100): what it costs the
server and how fast it shows things, measured with real headless Chromium tabs.

Run it with the python of the client-test venv, which has websocket-client (the CDP driver,
tests/clients/cdp.py, is shared with tests/clients/test_dashboard.py):

    tests/clients/.venv/bin/python bench/dashboard.py [--lrs target/release/lrs]

(or another venv with websocket-client; Chromium is Debian's /usr/bin/chromium, or
LRS_CHROMIUM=path). Without --lrs it builds and uses target/release/lrs (CARGO_TARGET_DIR is
honoured).

What it does. It forges two chains with `lrs forge chain` (a small one shared by the idle
migrations, and a longer "live" one kept aside), starts `lrs serve` (plain HTTP on loopback,
SQLite in a temporary data folder, --local-root on that folder; with the client tests'
harness, tests/clients/lrs_server.py) and N continuous migrations
over instances of 25 databases. The first --live migrations (5) have folders of their own;
during the run the 2nd..last of them each receive the next log of the live chain every
--feed-every seconds (4; staggered; copied aside, then renamed into the folder: a log appears
whole), the first receives its logs only in part 3. Then:

1. restoreDetails with and without the dashboard open: open-loop GETs of
   `…/restoreDetails/Default` round robin over the N databases at --rate per second for
   --duration seconds over --connections keep-alive HTTP/1.1 connections, with 0, 1 and 5
   Chromium tabs showing the dashboard with a live migration selected; p50/p99 from the
   scheduled send time, and the requests per second the tabs add (the server's
   `lrs_http_requests_total` delta minus the bench's own requests), CPU of the server and of
   Chromium.
2. First load: --loads fresh tabs (cache disabled), each navigated to `/`; time from
   navigation start to the list showing all N databases (the page's performance.now() at the
   first DOM poll, every 20 ms, that sees N rows), and DOMContentLoaded / load from the
   Navigation Timing API.
3. Update latency: a tab with the first live migration selected; --updates times, the tab is
   reloaded at a random moment, then after a random pause the migration's next log is renamed
   into its folder; the API (GET restore details every 50 ms) and the page (DOM every 50 ms)
   are polled until each shows the log as the last restored file.

Only loopback traffic. Prints the machine, load averages and markdown tables, then one JSON
line with every figure.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import queue
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "clients"))
import cdp  # noqa: E402  (tests/clients/cdp.py)
from lrs_server import LrsServer  # noqa: E402  (tests/clients/lrs_server.py)

SUB = "00000000-1111-2222-3333-444444444444"
API = "api-version=2024-11-01-preview"
#: Keep the tabs' timers running at full rate whatever Chromium thinks of their visibility.
TAB_FLAGS = ["--disable-background-timer-throttling", "--disable-renderer-backgrounding",
             "--disable-backgrounding-occluded-windows"]


def lrs_binary(path):
    if path:
        return path
    subprocess.run(["cargo", "build", "--release", "-p", "lrs"], check=True)
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    return os.path.join(target, "release", "lrs")


def pct(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def ms(seconds):
    return round(seconds * 1000, 1)


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    chromium = subprocess.run([cdp.chromium_path(), "--version"], capture_output=True,
                              text=True).stdout.strip()
    return {"nproc": os.cpu_count(), "cpu": model, "memory_gib": round(mem_kib / 2**20, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "chromium": chromium}


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def cpu_seconds(pids):
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / ticks


def descendants(root):
    """The pid and every descendant of it (Chromium's renderers, GPU, utility processes)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except OSError:
                pass
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


class Client:
    """One keep-alive HTTP/1.1 connection to the server."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.conn = http.client.HTTPConnection(host, port, timeout=30)

    def request(self, method, path, body=None):
        headers = {"Authorization": "Bearer bench"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=json.dumps(body) if body is not None else None,
                                  headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, OSError):
                if attempt:
                    raise
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def json(self, path):
        status, body = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
        return json.loads(body)


def http_requests(client):
    """lrs_http_requests_total summed by route."""
    status, body = client.request("GET", "/metrics")
    by_route = {}
    for line in body.decode().splitlines():
        if line.startswith("lrs_http_requests_total{"):
            route = re.search(r'route="([^"]*)"', line).group(1)
            by_route[route] = by_route.get(route, 0) + float(line.rsplit(" ", 1)[1])
    return by_route


def restoring_jobs(client):
    status, body = client.request("GET", "/metrics")
    return sum(float(line.rsplit(" ", 1)[1]) for line in body.decode().splitlines()
               if line.startswith("lrs_jobs{") and 'state="Restoring"' in line)


def open_loop(host, port, paths, rate, duration, connections):
    """GET paths round robin at `rate`/s for `duration` s, each request on its schedule whatever
    earlier answers do; [(latency from schedule, latency from send, status)]."""
    work = queue.Queue()
    results = []
    lock = threading.Lock()

    def worker():
        client = Client(host, port)
        while True:
            item = work.get()
            if item is None:
                return
            path, scheduled = item
            sent = time.perf_counter()
            status, _ = client.request("GET", path)
            done = time.perf_counter()
            with lock:
                results.append((done - scheduled, done - sent, status))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for t in threads:
        t.start()
    count = int(rate * duration)
    start = time.perf_counter() + 0.05
    for i in range(count):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        work.put((paths[i % len(paths)], scheduled))
    for _ in threads:
        work.put(None)
    for t in threads:
        t.join()
    return results


class Feeder(threading.Thread):
    """Moves the next log of the live chain into a live migration's folder."""

    def __init__(self, aside, staging, folders, logs, every):
        super().__init__(daemon=True)
        self.aside, self.staging, self.folders = aside, staging, folders
        self.logs = logs  # file names of the live chain's logs, in order
        self.next = {folder: 2 for folder in folders}  # LOG_00001 is there from the start
        self.every = every
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.delivered = 0

    def deliver(self, folder):
        """Put the folder's next log in place; its file name."""
        with self.lock:
            name = self.logs[self.next[folder]]
            self.next[folder] += 1
        tmp = self.staging / f"{folder.name}-{name}"
        shutil.copyfile(self.aside / name, tmp)
        os.rename(tmp, folder / name)  # the same file system: the log appears whole
        return name

    def run(self):
        fed = self.folders[1:]  # the first one is fed by hand (update latency)
        i = 0
        while fed and not self.stop.wait(self.every / len(fed)):  # each one every `every` s
            self.deliver(fed[i % len(fed)])
            self.delivered += 1
            i += 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lrs", help="lrs binary (default: build target/release/lrs)")
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--live", type=int, default=5,
                        help="migrations with folders of their own receiving logs")
    parser.add_argument("--feed-every", type=float, default=4.0,
                        help="seconds between two logs delivered to each fed migration")
    parser.add_argument("--poll-interval", default="2", help="lrs serve --poll-interval")
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--dashboards", default="0,1,5")
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    lrs = lrs_binary(args.lrs)
    chromium = cdp.chromium_path()
    rng = random.Random(args.seed)
    begun = time.monotonic()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    info = {"machine": machine(), "started": started, "load_start": loadavg(),
            "command": " ".join(sys.argv), "lrs": lrs}
    print(f"machine: {info['machine']}\nstarted {started}, load average {info['load_start']}",
          flush=True)

    with tempfile.TemporaryDirectory(prefix="lrs-dash-bench-") as tmp:
        root = Path(tmp)
        blobs, aside, staging = root / "blobs", root / "aside", root / "staging"
        staging.mkdir()
        forge = [lrs, "forge", "chain", "--checksum", "--data-size", "1MiB", "--log-size", "64KiB"]
        subprocess.run([*forge, "--db", "Bench", "--out", str(blobs / "shared"), "--logs", "2"],
                       check=True, stdout=subprocess.DEVNULL)
        live_logs = 300
        subprocess.run([*forge, "--db", "Live", "--out", str(aside), "--logs", str(live_logs)],
                       check=True, stdout=subprocess.DEVNULL)
        full = "Live_FULL_01.bak"
        logs = [None] + [f"Live_LOG_{n:05}.trn" for n in range(1, live_logs + 1)]
        assert (aside / full).is_file() and (aside / logs[-1]).is_file(), sorted(os.listdir(aside))[:5]
        folders = []
        for k in range(args.live):
            folder = blobs / f"live{k}"
            folder.mkdir()
            for name in (full, logs[1]):
                shutil.copyfile(aside / name, folder / name)
            folders.append(folder)

        server = LrsServer(lrs, root / "data", None, "--local-root", str(blobs),
                           "--poll-interval", args.poll_interval,
                           env={"RUST_LOG": "warn"}, stderr=root / "serve.log")
        browser = None
        feeder = None
        try:
            host, port, base = server.http_host, server.http_port, server.http
            client = Client(host, port)

            def db_path(i):
                return (f"/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Sql/"
                        f"managedInstances/mi{i // 25}/databases/db{i:03}")

            for i in range(args.jobs):
                folder = folders[i] if i < args.live else blobs / "shared"
                status, body = client.request("PUT", f"{db_path(i)}?{API}", {
                    "location": "westeurope",
                    "properties": {"createMode": "RestoreExternalBackup",
                                   "storageContainerUri": f"file://{folder}",
                                   "autoCompleteRestore": False}})
                if status != 202:
                    sys.exit(f"PUT db{i:03}: {status} {body[:300]!r}")
            details = [f"{db_path(i)}/restoreDetails/Default?{API}" for i in range(args.jobs)]

            def last_restored(i):
                return client.json(details[i])["properties"].get("lastRestoredFileName") or ""

            cdp.wait_for(f"{args.jobs} jobs restoring",
                         lambda: restoring_jobs(client) >= args.jobs, timeout=300, interval=0.5)
            for k in range(args.live):
                cdp.wait_for(f"db{k:03} at its first log",
                             lambda: logs[1] in last_restored(k), timeout=120, interval=0.2)
            print(f"{args.jobs} migrations restoring, {time.monotonic() - begun:.0f} s in",
                  flush=True)

            feeder = Feeder(aside, staging, folders, logs, args.feed_every)
            feeder.start()
            browser = cdp.Browser(chromium, flags=TAB_FLAGS)

            def dashboard(i):
                """A tab showing the dashboard with migration db{i:03} selected."""
                page = browser.new_page()
                page.open(f"{base}/#{db_path(i)}")
                cdp.wait_for("the migration selected",
                             lambda: page.text("#detail-title") == f"db{i:03}"
                             and logs[1][:8] in page.text("#last-restored"), timeout=30)
                return page

            # 1. restoreDetails with 0, 1, 5 dashboards open.
            phases = []
            for n in [int(x) for x in args.dashboards.split(",")]:
                tabs = [dashboard(1 + t % max(1, args.live - 1)) for t in range(n)]
                time.sleep(3)  # the tabs' polling under way
                chrome_pids = descendants(browser.process.pid)
                before, load_before = http_requests(client), loadavg()
                cpu_server, cpu_chrome = cpu_seconds([server.pid]), cpu_seconds(chrome_pids)
                t0 = time.perf_counter()
                results = open_loop(host, port, details, args.rate, args.duration, args.connections)
                elapsed = time.perf_counter() - t0
                cpu_server = cpu_seconds([server.pid]) - cpu_server
                cpu_chrome = cpu_seconds(descendants(browser.process.pid)) - cpu_chrome
                after = http_requests(client)
                delta = {r: after.get(r, 0) - before.get(r, 0) for r in after}
                own = {"GetRestoreDetails": len(results), "Metrics": 1}  # the `before` scrape
                tab_routes = {r: round((d - own.get(r, 0)) / elapsed, 2)
                              for r, d in sorted(delta.items()) if d - own.get(r, 0) > 0}
                bad = sum(1 for r in results if r[2] != 200)
                latency = [r[0] for r in results]
                sent = [r[1] for r in results]
                phase = {
                    "dashboards": n, "requests": len(results), "non_200": bad,
                    "p50_ms": ms(pct(latency, 0.5)), "p99_ms": ms(pct(latency, 0.99)),
                    "max_ms": ms(max(latency)),
                    "p50_from_send_ms": ms(pct(sent, 0.5)), "p99_from_send_ms": ms(pct(sent, 0.99)),
                    "tabs_requests_per_s": round(sum(tab_routes.values()), 2),
                    "tabs_by_route_per_s": tab_routes,
                    "server_cpu_pct": round(100 * cpu_server / elapsed, 1),
                    "chromium_cpu_pct": round(100 * cpu_chrome / elapsed, 1),
                    "load": f"{load_before} -> {loadavg()}",
                }
                phases.append(phase)
                print(json.dumps({"phase": phase}), flush=True)
                for tab in tabs:
                    assert tab.errors == [], tab.errors
                    tab.close_tab()

            # 2. First load of `/` in fresh tabs, cache disabled.
            loads = []
            for _ in range(args.loads):
                page = browser.new_page()
                page.send("Network.enable")
                page.send("Network.setCacheDisabled", cacheDisabled=True)
                wall = time.perf_counter()
                page.send("Page.navigate", url=f"{base}/")
                listed = None
                while listed is None:
                    seen = page.eval("[location.href, document.querySelectorAll("
                                     "'#databases tbody tr').length, performance.now()]")
                    if seen[0] == f"{base}/" and seen[1] == args.jobs:
                        listed = seen[2]
                    elif time.perf_counter() - wall > 30:
                        raise AssertionError(f"the list never showed {args.jobs} rows: {seen}")
                    else:
                        time.sleep(0.02)
                wall = time.perf_counter() - wall
                nav = page.eval("performance.getEntriesByType('navigation')[0].toJSON()")
                load = {"listed_ms": round(listed, 1), "wall_ms": ms(wall),
                        "dcl_ms": round(nav["domContentLoadedEventEnd"], 1),
                        "load_ms": round(nav["loadEventEnd"], 1),
                        "response_end_ms": round(nav["responseEnd"], 1)}
                loads.append(load)
                print(json.dumps({"first_load": load}), flush=True)
                assert page.errors == [], page.errors
                page.close_tab()

            # 3. Update latency on db000 (not fed by the feeder).
            page = dashboard(0)
            updates = []
            shown = logs[1]
            for _ in range(args.updates):
                # The page polls every 1 s after its last round ended, the server every
                # --poll-interval: left alone, the two drift slowly against each other and
                # successive logs see nearly the same phase. A reload at a random moment, then
                # another random pause, gives each log an independent phase to both.
                time.sleep(rng.uniform(0, float(args.poll_interval)))
                origin = page.eval("performance.timeOrigin")

                def reloaded():
                    try:
                        return (page.eval("performance.timeOrigin") != origin
                                and page.text("#detail-title") == "db000"
                                and shown in page.text("#last-restored"))
                    except AssertionError:  # evaluated while the old document went away
                        return False

                page.send("Page.reload")
                cdp.wait_for("the page reloaded", reloaded, timeout=30, interval=0.05)
                time.sleep(rng.uniform(0, 1))
                name = feeder.deliver(folders[0])
                t0 = time.perf_counter()
                seen_api = {}

                def poll_api():
                    poller = Client(host, port)
                    while time.perf_counter() - t0 < 60:
                        status, body = poller.request("GET", details[0])
                        if status == 200 and name in (json.loads(body)["properties"]
                                                      .get("lastRestoredFileName") or ""):
                            seen_api["t"] = time.perf_counter() - t0
                            return
                        time.sleep(0.05)

                api = threading.Thread(target=poll_api)
                api.start()
                page_t = None
                while page_t is None and time.perf_counter() - t0 < 60:
                    if name in page.text("#last-restored"):
                        page_t = time.perf_counter() - t0
                    else:
                        time.sleep(0.05)
                api.join()
                if page_t is None or "t" not in seen_api:
                    raise AssertionError(f"{name} not seen restored: api {seen_api}, page {page_t}")
                update = {"log": name, "api_ms": ms(seen_api["t"]), "page_ms": ms(page_t),
                          "page_minus_api_ms": ms(page_t - seen_api["t"])}
                updates.append(update)
                shown = name
                print(json.dumps({"update": update}), flush=True)
            assert page.errors == [], page.errors
            page.close_tab()
        finally:
            if feeder:
                feeder.stop.set()
            if browser:
                browser.close()
            server.stop()

    info["load_end"] = loadavg()
    info["ended"] = time.strftime("%H:%M UTC", time.gmtime())
    info["logs_fed"] = feeder.delivered
    report(args, info, phases, loads, updates)


def report(args, info, phases, loads, updates):
    m = info["machine"]
    print(f"\nmachine: nproc {m['nproc']}, {m['cpu']}, {m['memory_gib']} GiB; {m['chromium']}")
    print(f"{info['started']} to {info['ended']}, load average {info['load_start']} at the start,"
          f" {info['load_end']} at the end; {info['logs_fed']} logs fed to db001..db{args.live - 1:03}")
    print(f"\n1. restoreDetails, open loop {args.rate:g}/s for {args.duration:g} s, "
          f"{args.jobs} migrations\n")
    print("| dashboards open | requests | p50 | p99 | max | requests/s the tabs add |"
          " server CPU | Chromium CPU | load average |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for p in phases:
        print(f"| {p['dashboards']} | {p['requests']} | {p['p50_ms']} ms | {p['p99_ms']} ms |"
              f" {p['max_ms']} ms | {p['tabs_requests_per_s']} | {p['server_cpu_pct']} % |"
              f" {p['chromium_cpu_pct']} % | {p['load']} |")
    for p in phases:
        if p["tabs_by_route_per_s"]:
            print(f"\n{p['dashboards']} tabs, by route (/s): {p['tabs_by_route_per_s']}")
    print(f"\n2. first load of / ({len(loads)} fresh tabs, cache disabled)\n")
    print("| | median | max |\n|---|---:|---:|")
    for key, label in (("listed_ms", f"all {args.jobs} databases listed"),
                       ("dcl_ms", "DOMContentLoaded"), ("load_ms", "load event"),
                       ("wall_ms", "listed, seen by the bench (wall)")):
        values = [x[key] for x in loads]
        print(f"| {label} | {statistics.median(values):.1f} ms | {max(values):.1f} ms |")
    print(f"\n3. update latency ({len(updates)} logs, --poll-interval {args.poll_interval})\n")
    print("| | p50 | max |\n|---|---:|---:|")
    for key, label in (("api_ms", "log renamed in → API reports it restored"),
                       ("page_ms", "log renamed in → page shows it"),
                       ("page_minus_api_ms", "page − API (what the dashboard adds)")):
        values = [x[key] for x in updates]
        print(f"| {label} | {statistics.median(values):.0f} ms | {max(values):.0f} ms |")
    print(json.dumps({**info, "args": vars(args), "phases": phases, "first_loads": loads,
                      "updates": updates}))


if __name__ == "__main__":
    try:
        main()
    except cdp.Unavailable as e:
        sys.exit(f"error: {e} (run with tests/clients/.venv/bin/python; see bench/README.md)")

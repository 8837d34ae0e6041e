"""The live dashboard at `GET /`, in a real headless Chromium: it lists the migration, shows its
backup sets and progress advancing as logs arrive, shows an injected cutover refusal's code,
cuts the migration over (the SDK sees the database Online) and shows a failed migration's code.

Chromium is Debian's (`apt-get install chromium`, /usr/bin/chromium, or LRS_CHROMIUM=path),
driven through the Chrome DevTools Protocol over a WebSocket with `websocket-client` (installed
in .venv with azure-cli, which depends on it; the driver is cdp.py, shared with
bench/dashboard.py): no browser download, no driver. The page is
opened over the emulator's HTTPS listener; Chromium trusts exactly the emulator's certificate
(`--ignore-certificate-errors-spki-list` with its public key's hash). Under CI (CI=true) a
missing Chromium is an error; elsewhere the test is skipped, saying why.

Screenshots of each step are saved in the test's tmp_path (printed; pytest keeps the last
three runs' folders under /tmp/pytest-of-$USER)."""

from __future__ import annotations

import json
import os
import ssl
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from azure.mgmt.sql.models import ManagedDatabase

import cdp
from harness import INSTANCE, RESOURCE_GROUP, forge_chain, unique, wait_until

#: The tenant of `lrs serve`'s emulated AAD authority (crates/lrs-arm/src/config.rs).
TENANT = "00000000-0000-0000-0000-00000000000a"


def unavailable(reason: str) -> None:
    """An error under CI, a skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (required under CI)", pytrace=False)
    pytest.skip(reason)


def chromium_path() -> str:
    try:
        return cdp.chromium_path()
    except cdp.Unavailable as e:
        unavailable(str(e))


def open_browser(chromium: str, cert: Path) -> cdp.Browser:
    """A headless Chromium trusting exactly the server's certificate (cdp.py)."""
    try:
        return cdp.Browser(chromium, cert)
    except cdp.Unavailable as e:
        unavailable(str(e))


@pytest.fixture
def browser(services):
    b = open_browser(chromium_path(), services.cert)
    yield b
    b.close()


def start(sql, storage, container: str, db: str):
    return sql.managed_databases.begin_create_or_update(
        RESOURCE_GROUP, INSTANCE, db,
        ManagedDatabase(
            location="westeurope",
            create_mode="RestoreExternalBackup",
            storage_container_uri=storage.uri(container, db),
            storage_container_sas_token=storage.sas(container),
            auto_complete_restore=False,
        ),
    )


def set_rows(browser: cdp.Browser) -> list[list[str]]:
    """The backup-set table: [type, name, status] per row."""
    return browser.eval("""[...document.querySelectorAll('#sets tbody tr')]
        .map(r => [...r.cells].slice(0, 3).map(c => c.innerText.trim()))""")


def test_the_dashboard_follows_a_migration_cuts_it_over_and_shows_errors(
        services, storage, sql, browser, tmp_path):
    shots = tmp_path / "screenshots"
    shots.mkdir()
    print(f"dashboard screenshots: {shots}")

    # The page and its assets are served by both listeners, without a token.
    trust = ssl.create_default_context(cafile=str(services.cert))
    for base in (services.http, services.arm):
        with urllib.request.urlopen(f"{base}/", timeout=10, context=trust) as r:
            assert r.headers["Content-Type"].startswith("text/html")
            assert b"/ui/dashboard.js" in r.read()

    db = unique("dash")
    chain = forge_chain(services, db, diffs=1, logs=6, seed=11)
    first, later = chain.files[:5], chain.files[5:]  # FULL, LOG1-3, DIFF | LOG4-6
    container = storage.container()
    storage.upload(container, db, first)
    start(sql, storage, container, db)

    browser.open(f"{services.arm}/")
    assert browser.eval("document.title") == "LRS emulator: live dashboard"
    wait_until(f"{db} listed", lambda: db in browser.text("#databases"), timeout=30)
    browser.click(f'button[aria-label="Show migration {db} on {INSTANCE}"]')
    wait_until("the selected migration", lambda: browser.text("#detail-title") == db, timeout=10)

    # The first batch: the full and the differential restored, the logs before it skipped.
    wait_until("the diff restored", lambda: f"{db}_DIFF_01.bak" in browser.text("#last-restored"))
    wait_until("two files restored", lambda: browser.text("#n-restored") == "2", timeout=10)
    assert browser.text("#status") == "Restoring"
    assert browser.text("#n-detected") == "5"
    assert set_rows(browser) == [
        ["Full", f"{db}_FULL_01.bak", "Restored"],
        ["Diff", f"{db}_DIFF_01.bak", "Restored"],
        *[["Log", f"{db}_LOG_0000{i}.trn", "Skipped"] for i in (1, 2, 3)],
    ]
    browser.screenshot(shots / "01-first-batch.png")

    # The filter narrows the list (by database, instance or status).
    rows = "document.querySelectorAll('#databases tbody tr').length"
    browser.type_into("#filter", "no-such-database")
    wait_until("an empty list", lambda: browser.eval(rows) == 0, timeout=5)
    browser.type_into("#filter", db)
    wait_until("the migration alone", lambda: browser.eval(rows) == 1, timeout=5)
    browser.type_into("#filter", "dash")  # this test's databases: the failing one comes later

    # More logs arrive: the page follows without a reload.
    storage.upload(container, db, later)
    last = f"{db}_LOG_00006.trn"
    wait_until(f"{last} restored on the page", lambda: last in browser.text("#last-restored"))
    wait_until("five files restored", lambda: browser.text("#n-restored") == "5", timeout=10)
    assert browser.text("#n-detected") == "8"
    assert [row[2] for row in set_rows(browser)][-3:] == ["Restored"] * 3
    browser.screenshot(shots / "02-logs-restored.png")

    # An injected cutover refusal, through the page's fault form: the cutover shows its code.
    browser.click("#faults-box summary")
    browser.type_into("#fault-code", "ExternalBackupUpgradeInProgress")
    browser.click("#fault-inject")
    wait_until("the fault injected", lambda: "injected" in browser.text("#action-result"))
    browser.click("#cutover")
    refused = "#action-result code"
    wait_until("the refusal's code", lambda: browser.text(refused) == "ExternalBackupUpgradeInProgress")
    assert "upgrade is in progress" in browser.text("#action-result")
    browser.screenshot(shots / "03-cutover-refused.png")

    # The fault fired once: the next cutover completes the migration.
    browser.click("#cutover")
    wait_until("the database Online on the page", lambda: browser.text("#db-status") == "Online",
               timeout=60)
    wait_until("the migration Completed", lambda: browser.text("#status") == "Completed")
    assert sql.managed_databases.get(RESOURCE_GROUP, INSTANCE, db).status == "Online"
    browser.screenshot(shots / "04-online.png")

    # A failed migration: its status, code and message.
    failing = unique("dashfail")
    chain = forge_chain(services, failing, diffs=0, logs=1, seed=12)
    storage.upload(container, failing, chain.files)
    fault = {"code": "BackupSetNotFound", "effect": "fail", "subscription": services.subscription,
             "resourceGroup": RESOURCE_GROUP, "instance": INSTANCE, "database": failing}
    request = urllib.request.Request(f"{services.http}/admin/faults", method="POST",
                                     data=json.dumps(fault).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as r:
        assert r.status == 201
    start(sql, storage, container, failing)
    wait_until(f"{failing} listed", lambda: failing in browser.text("#databases"), timeout=30)
    browser.click(f'button[aria-label="Show migration {failing} on {INSTANCE}"]')
    wait_until("Failed on the page", lambda: browser.text("#status") == "Failed", timeout=60)
    wait_until("the failure's code", lambda: browser.text("#error code") == "BackupSetNotFound")
    assert "No backups were found" in browser.text("#error")
    browser.screenshot(shots / "05-failed.png")

    # Stop: a second click drops the database, which leaves the list.
    browser.click("#stop")
    browser.click("#stop-confirm")
    wait_until("the drop accepted", lambda: "accepted, dropping" in browser.text("#action-result"))
    wait_until(f"{failing} gone", lambda: failing not in browser.text("#databases"), timeout=30)
    # A system patch (harmless inside the 47-hour window): the page reports the jobs affected.
    browser.click("#system-patch")
    wait_until("the patch reported", lambda: "System patch: done" in browser.text("#action-result"))

    assert browser.errors == [], "the page logged errors"


def test_under_strict_auth_the_dashboard_says_a_token_is_needed_and_takes_one(
        second_server, tmp_path):
    chromium = chromium_path()
    server = second_server("--auth", "strict")
    browser = open_browser(chromium, server.cert)
    try:
        browser.open(f"{server.arm}/")
        wait_until("the token notice", lambda: "needs a token" in browser.text("#problem"),
                   timeout=15)
        browser.screenshot(tmp_path / "strict-needs-token.png")
        print(f"dashboard screenshot: {tmp_path / 'strict-needs-token.png'}")

        # A token from the server's own token endpoint, pasted under "Token".
        form = urllib.parse.urlencode({
            "grant_type": "client_credentials", "client_id": "22222222-2222-2222-2222-222222222222",
            "client_secret": "not-a-secret", "scope": "https://management.core.windows.net//.default",
        }).encode()
        trust = ssl.create_default_context(cafile=str(server.cert))
        with urllib.request.urlopen(f"{server.arm}/{TENANT}/oauth2/v2.0/token", data=form,
                                    timeout=10, context=trust) as r:
            token = json.load(r)["access_token"]
        browser.click("#auth summary")
        browser.type_into("#token", token)
        wait_until("the notice gone", lambda: browser.eval("document.getElementById('problem').hidden"),
                   timeout=15)
        assert "databases" in browser.text("#list-summary")
        assert browser.errors == [], "the page logged errors"
    finally:
        browser.close()


def test_a_hundred_databases_list_live_and_filter(second_server, tmp_path):
    """The list stays live with 100 databases (plain creates on a server of its own: the page
    polls only the lists, never the details of databases that are not selected)."""
    chromium = chromium_path()
    server = second_server()
    trust = ssl.create_default_context(cafile=str(server.cert))
    base = (f"{server.arm}/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/"
            "rg-dash/providers/Microsoft.Sql/managedInstances/mi-dash")

    def create(i: int) -> None:
        request = urllib.request.Request(
            f"{base}/databases/db{i:03}?api-version=2024-11-01-preview", method="PUT",
            data=json.dumps({"location": "westeurope"}).encode(),
            headers={"Content-Type": "application/json", "Authorization": "Bearer x"})
        with urllib.request.urlopen(request, timeout=30, context=trust) as r:
            assert r.status in (200, 201, 202), r.status

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(create, range(100)))
    browser = open_browser(chromium, server.cert)
    try:
        browser.open(f"{server.arm}/")
        rows = "document.querySelectorAll('#databases tbody tr').length"
        wait_until("100 rows", lambda: browser.eval(rows) == 100, timeout=20)
        assert browser.text("#list-summary").startswith("100 databases")
        # Still live: the refresh stamp moves on.
        stamp = browser.text("#refresh")
        wait_until("another refresh", lambda: browser.text("#refresh") != stamp, timeout=5)
        browser.type_into("#filter", "db09")
        wait_until("ten rows", lambda: browser.eval(rows) == 10, timeout=5)
        browser.click('button[aria-label="Show migration db095 on mi-dash"]')
        # A plain database has no restore details: the page says so with ARM's code.
        wait_until("the refusal's code", lambda: browser.text("#error code")
                   == "RestoreDetailsNotAvailableOrExpired", timeout=10)
        browser.screenshot(tmp_path / "hundred-databases.png")
        browser.click("#failover")
        wait_until("the failover reported", lambda: browser.text("#action-result")
                   == "Failover of mi-dash: done, 0 jobs affected", timeout=10)
        print(f"dashboard screenshot: {tmp_path / 'hundred-databases.png'}")
        assert browser.errors == [], "the page logged errors"
    finally:
        browser.close()

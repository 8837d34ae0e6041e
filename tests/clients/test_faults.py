"""Fault injection (`lrs admin inject`), as the real clients see it: every code of
docs/errors.md, injected, reaches azure-mgmt-sql (and az for the storage limit) with the HTTP
status, code and message of the catalogue, through the API the real service uses for it."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.sql.models import CompleteDatabaseRestoreDefinition, ManagedDatabase

from harness import (
    AZ_ERROR,
    INSTANCE,
    RESOURCE_GROUP,
    assert_az_http_error,
    assert_az_ok,
    az,
    error_of,
    midb,
    unique,
    wait_until,
)

ERRORS_MD = Path(__file__).resolve().parents[2] / "docs" / "errors.md"


def catalogue() -> list[dict[str, str]]:
    """The rows of docs/errors.md's generated table: code, status, message, surface."""
    text = ERRORS_MD.read_text()
    begin = text.index("<!-- generated from")
    end = text.index("<!-- generated: end -->")
    rows = []
    for line in text[begin:end].splitlines()[3:]:
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        code = cells[0].split("`")[1]
        rows.append(dict(code=code, status=cells[1], message=cells[2], surface=cells[3]))
    assert len(rows) > 50, f"only {len(rows)} rows in {ERRORS_MD}"
    return rows


def codes_shown_in(surface: str) -> list[dict[str, str]]:
    return [row for row in catalogue() if row["surface"].startswith(surface)]


def lrs_admin(services, *args: str) -> dict:
    """`lrs admin …` against the suite's server; its JSON answer."""
    done = subprocess.run(
        [str(services.lrs_bin), "admin", *args,
         "--endpoint", services.arm, "--cacert", str(services.cert)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, f"lrs admin {' '.join(args)}:\n{done.stderr}"
    return json.loads(done.stdout)


def inject(services, code: str, *extra: str) -> dict:
    fault = lrs_admin(services, "inject", "--code", code, *extra)
    assert fault["code"] == code
    return fault


@pytest.fixture
def faults(services):
    """No fault outlives its test."""
    yield
    lrs_admin(services, "clear-faults")


def start_body(storage, container: str, folder: str) -> ManagedDatabase:
    return ManagedDatabase(
        location="westeurope",
        create_mode="RestoreExternalBackup",
        storage_container_uri=storage.uri(container, folder),
        storage_container_sas_token=storage.sas(container),
        auto_complete_restore=False,
    )


def expect_http_error(call, status: int | None, code: str, message: str) -> None:
    """`call()` raises an HttpResponseError with this code and message, and this HTTP status
    when one is given (a failed LRO carries the status of its last poll, not the error's)."""
    with pytest.raises(HttpResponseError) as caught:
        call()
    got_status, got_code, got_message = error_of(caught.value)
    assert (got_code, got_message) == (code, message)
    if status is not None:
        assert got_status == status, (code, got_status)


def aimed_at(services, db: str) -> tuple[str, ...]:
    return ("--database", db, "--subscription", services.subscription,
            "--resource-group", RESOURCE_GROUP, "--instance", INSTANCE)


def test_an_injected_storage_limit_fails_az_start_like_the_real_one(services, storage, faults):
    db = unique("full")
    container = storage.container()
    fault = inject(services, "ManagedInstanceStorageLimitHit")
    message = "The managed instance has reached its storage limit."
    assert fault["message"] == message
    result = az(
        "sql", "midb", "log-replay", "start",
        *midb("-n", db, "-a", "--last-bn", "log.trn",
              "--su", storage.uri(container, db), "--ss", storage.sas(container)),
        timeout=120,
    )
    assert_az_http_error(result, AZ_ERROR, "ManagedInstanceStorageLimitHit", message)
    shown = assert_az_ok(az("sql", "midb", "log-replay", "show", *midb("-n", db))).json()
    assert shown["status"] == "Failed", shown
    assert shown["blockReason"] == message
    assert lrs_admin(services, "faults") == {"value": []}, "a once fault fired and is gone"
    assert_az_ok(az("sql", "midb", "log-replay", "stop", *midb("-n", db, "--yes")))


def test_every_job_code_fails_the_start_operation_through_the_sdk(services, storage, sql, faults):
    container = storage.container()
    rows = codes_shown_in("start operation")
    assert len(rows) >= 30
    for row in rows:
        db = unique("job")
        fault = inject(services, row["code"], *aimed_at(services, db))
        if "{" not in row["message"] and "%d" not in row["message"]:
            assert fault["message"] == row["message"]
        poller = sql.managed_databases.begin_create_or_update(
            RESOURCE_GROUP, INSTANCE, db, start_body(storage, container, db)
        )
        expect_http_error(lambda: poller.result(timeout=60), None, row["code"], fault["message"])
        details = sql.managed_database_restore_details.get(RESOURCE_GROUP, INSTANCE, db, "Default")
        assert (details.status, details.block_reason) == ("Failed", fault["message"]), row["code"]
        sql.managed_databases.begin_delete(RESOURCE_GROUP, INSTANCE, db).result(timeout=60)


def test_every_request_code_refuses_its_request_through_the_sdk(services, storage, sql, faults):
    container = storage.container()
    for row in codes_shown_in("start request"):
        db = unique("refused")
        fault = inject(services, row["code"], *aimed_at(services, db))
        expect_http_error(
            lambda: sql.managed_databases.begin_create_or_update(
                RESOURCE_GROUP, INSTANCE, db, start_body(storage, container, db), polling=False
            ),
            int(row["status"]), row["code"], fault["message"],
        )
        with pytest.raises(HttpResponseError):
            sql.managed_databases.get(RESOURCE_GROUP, INSTANCE, db)

    db = unique("cutover")
    sql.managed_databases.begin_create_or_update(
        RESOURCE_GROUP, INSTANCE, db, start_body(storage, container, db), polling=False
    ).result()
    aim = aimed_at(services, db)
    for row in codes_shown_in("completeRestore"):
        fault = inject(services, row["code"], *aim)
        expect_http_error(
            lambda: sql.managed_databases.begin_complete_restore(
                RESOURCE_GROUP, INSTANCE, db,
                CompleteDatabaseRestoreDefinition(last_backup_name="log.trn"),
            ).result(timeout=60),
            int(row["status"]), row["code"], fault["message"],
        )
    for row in codes_shown_in("GET restoreDetails"):
        fault = inject(services, row["code"], *aim)
        expect_http_error(
            lambda: sql.managed_database_restore_details.get(RESOURCE_GROUP, INSTANCE, db, "Default"),
            int(row["status"]), row["code"], fault["message"],
        )
    # Once: the requests are answered normally again.
    wait_until(
        "restore details served again",
        lambda: sql.managed_database_restore_details.get(RESOURCE_GROUP, INSTANCE, db, "Default"),
    )
    sql.managed_databases.begin_delete(RESOURCE_GROUP, INSTANCE, db).result(timeout=60)


def test_a_stall_holds_the_migration_until_cleared(services, storage, sql, faults):
    db = unique("stall")
    container = storage.container()
    fault = lrs_admin(services, "inject", "--effect", "stall",
                      "--code", "StorageBrokenIssueDetectedWhileInProgress",
                      *aimed_at(services, db))
    sql.managed_databases.begin_create_or_update(
        RESOURCE_GROUP, INSTANCE, db, start_body(storage, container, db), polling=False
    ).result()
    stalled = (
        "StorageBrokenIssueDetectedWhileInProgress: Storage connection is broken. "
        "Retrying automatically..."
    )
    wait_until(
        "the stall shown",
        lambda: sql.managed_database_restore_details.get(
            RESOURCE_GROUP, INSTANCE, db, "Default"
        ).block_reason == stalled,
    )
    assert lrs_admin(services, "clear-faults", "--id", fault["id"]) == {"cleared": 1}
    # The job lists its folder again: the empty folder's own wait replaces the stall.
    wait_until(
        "the stall lifted",
        lambda: sql.managed_database_restore_details.get(
            RESOURCE_GROUP, INSTANCE, db, "Default"
        ).block_reason != stalled,
    )
    sql.managed_databases.begin_delete(RESOURCE_GROUP, INSTANCE, db).result(timeout=60)

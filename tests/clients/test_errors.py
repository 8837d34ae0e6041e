"""Refusals, as the real clients see them: the HTTP status, ARM code and message through
azure-mgmt-sql, and az's exit code and printed `Code:`/`Message:` (docs/references.md#errors,
#client-call-sequences, #failure-modes)."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.sql.models import CompleteDatabaseRestoreDefinition, ManagedDatabase

from harness import (
    AZ_ERROR,
    AZ_NOT_FOUND,
    INSTANCE,
    RESOURCE_GROUP,
    assert_az_cli_error,
    assert_az_http_error,
    assert_az_ok,
    az,
    error_of,
    first_page_offset,
    forge_chain,
    midb,
    sql_client,
    unique,
    wait_until,
)


def lrs_body(storage, container: str, folder: str, **extra) -> ManagedDatabase:
    """A continuous-mode start request with a read+list SAS, plus `extra` fields."""
    fields = dict(
        location="westeurope",
        create_mode="RestoreExternalBackup",
        storage_container_uri=storage.uri(container, folder),
        storage_container_sas_token=storage.sas(container),
        auto_complete_restore=False,
    )
    fields.update(extra)
    return ManagedDatabase(**fields)


def plain_database(sql, name: str) -> None:
    """Create a database the normal way (no createMode): online at once, not made by LRS."""
    created = sql.managed_databases.begin_create_or_update(
        RESOURCE_GROUP, INSTANCE, name, ManagedDatabase(location="westeurope")
    ).result(timeout=60)
    assert created.name == name
    assert created.status == "Online"


def expect_http_error(call, status: int, code: str, message: str) -> None:
    """`call()` raises an HttpResponseError with exactly this status, code and message."""
    with pytest.raises(HttpResponseError) as caught:
        call()
    assert error_of(caught.value) == (status, code, message)


def assert_absent(db: str) -> None:
    """The refused start created nothing: az show exits 3."""
    assert az("sql", "midb", "show", *midb("-n", db)).returncode == AZ_NOT_FOUND


def assert_start_fails(db: str, storage, container: str, last: str, code: str, message: str):
    """An autocomplete start of `db` from `container/db` ending at `last` is accepted, then the
    job fails: az (polling the start operation) prints `code` and `message`, `show` reports the
    migration Failed with that message and nothing restored, and `stop` drops it."""
    result = az(
        "sql", "midb", "log-replay", "start",
        *midb("-n", db, "-a", "--last-bn", last,
              "--su", storage.uri(container, db), "--ss", storage.sas(container)),
        timeout=120,
    )
    assert_az_http_error(result, AZ_ERROR, code, message)
    shown = assert_az_ok(az("sql", "midb", "log-replay", "show", *midb("-n", db))).json()
    assert shown["status"] == "Failed", shown
    assert shown["blockReason"] == message
    assert shown["numberOfFilesRestored"] == 0
    assert_az_ok(az("sql", "midb", "log-replay", "stop", *midb("-n", db, "--yes")))
    assert_absent(db)


def test_start_on_an_existing_database_name_is_refused(services, storage, sql):
    db = unique("taken")
    plain_database(sql, db)
    container = storage.container()
    message = f"Database '{db}' already exists. Choose a different database name."

    result = az(
        "sql", "midb", "log-replay", "start",
        *midb("-n", db, "--su", storage.uri(container, db), "--ss", storage.sas(container),
              "--no-wait"),
    )
    assert_az_http_error(result, AZ_ERROR, "ManagedDatabaseNameInUse", message)
    expect_http_error(
        lambda: sql.managed_databases.begin_create_or_update(
            RESOURCE_GROUP, INSTANCE, db, lrs_body(storage, container, db), polling=False
        ),
        400,
        "ManagedDatabaseNameInUse",
        message,
    )
    # The existing database is untouched.
    assert sql.managed_databases.get(RESOURCE_GROUP, INSTANCE, db).status == "Online"


def test_sas_with_write_permission_is_refused(services, storage, sql):
    db = unique("sasw")
    container = storage.container()
    sas = storage.sas(container, write=True)
    assert "sp=rwl" in sas
    message = (
        "Blob storage failure has occurred. the SAS token grants 'rwl' (read, write, list) but "
        "LRS requires exactly Read and List ('rl'): remove write"
    )

    result = az(
        "sql", "midb", "log-replay", "start",
        *midb("-n", db, "--su", storage.uri(container, db), "--ss", sas, "--no-wait"),
    )
    assert_az_http_error(result, AZ_ERROR, "BlobStorageFailure", message)
    assert "sig=" not in result.stderr.lower() and sas not in result.stderr
    assert_absent(db)

    expect_http_error(
        lambda: sql.managed_databases.begin_create_or_update(
            RESOURCE_GROUP,
            INSTANCE,
            db,
            lrs_body(storage, container, db, storage_container_sas_token=sas),
            polling=False,
        ),
        400,
        "BlobStorageFailure",
        message,
    )
    assert_absent(db)


def test_start_without_a_sas_token_is_refused(services, storage, sql):
    db = unique("nosas")
    container = storage.container()
    message = "Missing storage container SAS token"

    # az requires --ss; an empty one is sent as "".
    result = az(
        "sql", "midb", "log-replay", "start",
        *midb("-n", db, "--su", storage.uri(container, db), "--ss", "", "--no-wait"),
    )
    assert_az_http_error(result, AZ_ERROR, "MissingStorageContainerSasToken", message)
    expect_http_error(
        lambda: sql.managed_databases.begin_create_or_update(
            RESOURCE_GROUP,
            INSTANCE,
            db,
            lrs_body(storage, container, db, storage_container_sas_token=None),
            polling=False,
        ),
        400,
        "MissingStorageContainerSasToken",
        message,
    )
    assert_absent(db)


def test_managed_identity_is_refused_by_the_2021_profile(services, storage):
    db = unique("mi2021")
    container = storage.container()
    result = az(
        "sql", "midb", "log-replay", "start",
        *midb("-n", db, "--su", storage.uri(container, db), "--si", "ManagedIdentity",
              "--ss", "", "--no-wait"),
    )
    assert_az_http_error(
        result,
        AZ_ERROR,
        "InvalidDatabaseCreateOrUpdateRequest",
        "The request body for the create or update database operation is invalid. "
        "storageContainerIdentity 'ManagedIdentity' is not available in the 'lrs-2021' profile "
        "(the 2021 preview authenticates with a SAS token only); start the emulator with "
        "--profile ga.",
    )
    assert_absent(db)


def test_full_backup_without_checksum_fails_the_start_operation(services, storage):
    # The 2021 preview profile (the server's default) requires CHECKSUM: the start is accepted,
    # then the job fails and so does the start operation az is polling.
    db = unique("nosum")
    chain = forge_chain(services, db, diffs=0, logs=1, seed=8, checksum=False)
    container = storage.container()
    storage.upload(container, db, chain.files)
    full = f"{db}_FULL_01.bak"
    message = f"Provided full backup is missing checksum. File: '{full}'."

    result = az(
        "sql", "midb", "log-replay", "start",
        *midb("-n", db, "-a", "--last-bn", chain.files[-1].name,
              "--su", storage.uri(container, db), "--ss", storage.sas(container)),
        timeout=120,
    )
    assert_az_http_error(result, AZ_ERROR, "FullBackupMissingChecksum", message)

    shown = assert_az_ok(az("sql", "midb", "log-replay", "show", *midb("-n", db))).json()
    assert shown["typePropertiesType"] == "LRSRestore"
    assert shown["status"] == "Failed", shown
    assert shown["blockReason"] == message
    assert shown["numberOfFilesRestored"] == 0
    assert shown["lastRestoredFileName"] is None

    # A failed migration can only be dropped: stop works on it.
    assert_az_ok(az("sql", "midb", "log-replay", "stop", *midb("-n", db, "--yes")))
    assert_absent(db)


def test_a_folder_holding_two_databases_fails_the_start_operation(services, storage):
    # Backups of two databases (two FamilyGUIDs) in the migration's folder: the job fails with
    # the spec's code and message, on the start operation az is polling and in the details.
    db = unique("mixed")
    other = unique("stray")
    chain = forge_chain(services, db, diffs=0, logs=1, seed=31)
    stray = forge_chain(services, other, diffs=0, logs=0, seed=32)
    container = storage.container()
    storage.upload(container, db, chain.files + stray.files)
    found = ", ".join(f"'{name}'" for name in sorted([db, other]))
    message = (
        "There are backups from multiple databases in the container folder. Please make sure "
        f"the container folder has backups from a single database. Databases found: {found}."
    )

    assert_start_fails(
        db, storage, container, chain.files[-1].name,
        "BackupsFromMultipleDatabasesDetectedInTheContainerFromTheStart", message,
    )


def test_a_database_with_two_log_files_fails_with_an_incompatible_layout(services, storage):
    # FILELISTONLY of the full shows two log files, which Managed Instance cannot hold.
    db = unique("twologs")
    chain = forge_chain(services, db, diffs=0, logs=1, seed=33, log_files=2)
    container = storage.container()
    storage.upload(container, db, chain.files)
    message = (
        "Database backup contains incompatible physical layout. Multiple log files are not "
        f"supported. File: '{chain.files[0].name}'."
    )
    assert_start_fails(
        db, storage, container, chain.files[-1].name,
        "IncompatiblePhysicalLayoutWrongNumberOfLogFiles", message,
    )


def test_a_corrupt_page_fails_the_migration_with_corrupted_pages_in_backup_set(services, storage):
    # One flipped byte in a data page of a full taken WITH CHECKSUM: RESTORE's page check
    # fails (3183), the service reports CorruptedPagesInBackupSet on the start operation az is
    # polling and in the restore details, naming the page.
    db = unique("corrupt")
    chain = forge_chain(services, db, diffs=0, logs=1, seed=9)
    full = chain.files[0]
    data = bytearray(full.read_bytes())
    data[first_page_offset(full) + 12 * 8192 + 700] ^= 0x10  # page (1:12)
    full.write_bytes(bytes(data))
    container = storage.container()
    storage.upload(container, db, chain.files)

    result = az(
        "sql", "midb", "log-replay", "start",
        *midb("-n", db, "-a", "--last-bn", chain.files[-1].name,
              "--su", storage.uri(container, db), "--ss", storage.sas(container)),
        timeout=120,
    )
    assert result.returncode == AZ_ERROR, result.describe()
    assert "Code: CorruptedPagesInBackupSet" in result.stderr.splitlines(), result.describe()
    shown = assert_az_ok(az("sql", "midb", "log-replay", "show", *midb("-n", db))).json()
    assert shown["status"] == "Failed", shown
    reason = shown["blockReason"]
    assert reason.startswith(
        "Operation was aborted because RESTORE detected one or more corrupted pages in the "
        f"backup set. File: '{full.name}'. Msg 3183: RESTORE detected an error on page (1:12) "
        f'in database "{db}" as read from the backup set.'
    ), reason
    assert f"Message: {reason}" in result.stderr.splitlines(), result.describe()
    assert shown["numberOfFilesRestored"] == 0
    assert_az_ok(az("sql", "midb", "log-replay", "stop", *midb("-n", db, "--yes")))
    assert_absent(db)


def test_autocomplete_without_last_backup_name(services, storage, sql):
    db = unique("nolast")
    container = storage.container()

    # az refuses by itself (after looking the instance up, before any PUT).
    result = az(
        "sql", "midb", "log-replay", "start",
        *midb("-n", db, "-a", "--su", storage.uri(container, db), "--ss", storage.sas(container),
              "--no-wait"),
    )
    assert_az_cli_error(result, "Please specify a last backup name when using auto complete flag.")
    assert_absent(db)

    # The SDK does not check: the service answers 400.
    expect_http_error(
        lambda: sql.managed_databases.begin_create_or_update(
            RESOURCE_GROUP,
            INSTANCE,
            db,
            lrs_body(storage, container, db, auto_complete_restore=True),
            polling=False,
        ),
        400,
        "AutoCompleteMissingLastBackupName",
        "Auto complete restore request must have lastBackupName parameter provided.",
    )
    assert_absent(db)


def test_complete_with_a_name_that_is_not_the_last_restored(services, storage, sql):
    db = unique("wrong")
    chain = forge_chain(services, db, diffs=0, logs=3, seed=5)
    container = storage.container()
    storage.upload(container, db, chain.files)
    start = sql.managed_databases.begin_create_or_update(
        RESOURCE_GROUP, INSTANCE, db, lrs_body(storage, container, db)
    )
    last = f"{db}_LOG_00003.trn"
    wait_until(
        f"{last} restored",
        lambda: sql.managed_database_restore_details.get(
            RESOURCE_GROUP, INSTANCE, db, "Default"
        ).last_restored_file_name
        == last,
    )

    # Under the default profile (2021) a name of the chain is accepted even when later logs
    # were restored (the cutover then waits for the chain: test_replay.py, docs/fidelity.md);
    # a name that is no backup of the chain never can be.
    for wrong in ("no-such-file.trn",):
        message = (
            f"Migration cannot be completed because provided backup file name '{wrong}' should "
            f"be the last restore backup file '{last}'."
        )
        result = az("sql", "midb", "log-replay", "complete", *midb("-n", db, "--last-bn", wrong))
        assert_az_http_error(result, AZ_ERROR, "RequiredBackupIsNotLastRestored", message)
        expect_http_error(
            lambda: sql.managed_databases.begin_complete_restore(
                RESOURCE_GROUP,
                INSTANCE,
                db,
                CompleteDatabaseRestoreDefinition(last_backup_name=wrong),
                polling=False,
            ),
            400,
            "RequiredBackupIsNotLastRestored",
            message,
        )
    # Still restoring; the right name completes it (az complete waits and prints nothing).
    assert sql.managed_databases.get(RESOURCE_GROUP, INSTANCE, db).status == "Restoring"
    assert not start.done()
    done = assert_az_ok(
        az("sql", "midb", "log-replay", "complete", *midb("-n", db, "--last-bn", last))
    )
    assert done.stdout.strip() == ""
    assert assert_az_ok(az("sql", "midb", "show", *midb("-n", db))).json()["status"] == "Online"
    assert start.result(timeout=60).status == "Online"


def test_complete_without_a_last_backup_name(services, storage, sql):
    db = unique("cnoname")
    chain = forge_chain(services, db, diffs=0, logs=1, seed=9)
    container = storage.container()
    storage.upload(container, db, chain.files)
    start = sql.managed_databases.begin_create_or_update(
        RESOURCE_GROUP, INSTANCE, db, lrs_body(storage, container, db)
    )
    last = chain.files[-1].name
    wait_until(
        f"{last} restored",
        lambda: sql.managed_database_restore_details.get(
            RESOURCE_GROUP, INSTANCE, db, "Default"
        ).last_restored_file_name
        == last,
    )
    # --last-bn is optional in az: it then POSTs {}.
    result = az("sql", "midb", "log-replay", "complete", *midb("-n", db))
    assert_az_http_error(
        result,
        AZ_ERROR,
        "InvalidDatabaseCompleteRestoreRequest",
        "The complete database restore request is invalid",
    )
    assert sql.managed_databases.get(RESOURCE_GROUP, INSTANCE, db).status == "Restoring"
    assert not start.done()
    assert_az_ok(az("sql", "midb", "log-replay", "stop", *midb("-n", db, "--yes")))
    assert_absent(db)


def test_stop_on_a_database_not_created_by_lrs_is_refused_by_az(services, sql):
    db = unique("plain")
    plain_database(sql, db)

    # The restore details of a non-LRS database: 400 RestoreDetailsNotAvailableOrExpired.
    expect_http_error(
        lambda: sql.managed_database_restore_details.get(RESOURCE_GROUP, INSTANCE, db, "Default"),
        400,
        "RestoreDetailsNotAvailableOrExpired",
        "Requested restore details are not available, or have expired.",
    )
    result = az("sql", "midb", "log-replay", "stop", *midb("-n", db, "--yes"))
    assert_az_cli_error(
        result,
        f"Cannot stop the log replay as database {db} on the instance {INSTANCE} in the resource "
        f"group {RESOURCE_GROUP} was not created with log replay service.",
    )
    # Nothing was dropped.
    shown = assert_az_ok(az("sql", "midb", "show", *midb("-n", db))).json()
    assert shown["status"] == "Online"


def test_the_101st_concurrent_restore_on_an_instance_is_refused(services, storage, second_server):
    # A server of its own, scanning rarely: 100 idle jobs must not load the shared one.
    server = second_server("--poll-interval", "30")
    sql = sql_client(services, base_url=server.arm, connection_verify=str(server.cert))
    container = storage.container()
    sas = storage.sas(container)

    def body(folder: str) -> ManagedDatabase:
        return ManagedDatabase(
            location="westeurope",
            create_mode="RestoreExternalBackup",
            storage_container_uri=storage.uri(container, folder),
            storage_container_sas_token=sas,
            auto_complete_restore=False,
        )

    def start(instance: str, name: str, folder: str | None = None) -> int:
        """Send the PUT without polling; the HTTP status it got."""
        return sql.managed_databases.begin_create_or_update(
            RESOURCE_GROUP,
            instance,
            name,
            body(folder or name),
            polling=False,
            cls=lambda response, deserialized, headers: response.http_response.status_code,
        ).result()

    instance = "mi-limit"
    for i in range(100):
        assert start(instance, f"db{i:03}") == 202, f"db{i:03}"
    restoring = [d for d in sql.managed_databases.list_by_instance(RESOURCE_GROUP, instance)]
    assert len(restoring) == 100
    assert {d.status for d in restoring} == {"Restoring"}

    message = (
        "Log Replay Service supports up to 100 simultaneous restore processes per managed "
        f"instance; managed instance '{instance}' already runs 100."
    )
    expect_http_error(
        lambda: sql.managed_databases.begin_create_or_update(
            RESOURCE_GROUP, instance, "db100", body("db100"), polling=False
        ),
        400,
        "TooManyConcurrentRestores",
        message,
    )
    with pytest.raises(HttpResponseError):
        sql.managed_databases.get(RESOURCE_GROUP, instance, "db100")

    # The limit is per instance: another instance on the same server still starts one.
    assert start("mi-limit-2", "db000", "other") == 202

    # Stopping one migration frees a slot.
    sql.managed_databases.begin_delete(RESOURCE_GROUP, instance, "db042").result(timeout=60)
    assert start(instance, "db100") == 202
    expect_http_error(
        lambda: sql.managed_databases.begin_create_or_update(
            RESOURCE_GROUP, instance, "db101", body("db101"), polling=False
        ),
        400,
        "TooManyConcurrentRestores",
        message,
    )


def test_system_database_names_are_reserved(services, storage, sql):
    container = storage.container()
    message = "Cannot use reserved database name in this operation."
    expect_http_error(
        lambda: sql.managed_databases.begin_create_or_update(
            RESOURCE_GROUP, INSTANCE, "msdb", lrs_body(storage, container, "msdb"), polling=False
        ),
        400, "CannotUseReservedDatabaseName", message,
    )
    expect_http_error(
        lambda: sql.managed_databases.begin_create_or_update(
            RESOURCE_GROUP, INSTANCE, "TempDB", ManagedDatabase(location="westeurope"),
            polling=False,
        ),
        400, "CannotUseReservedDatabaseName", message,
    )


def test_complete_refuses_an_unknown_database_and_a_non_ascii_name(services, storage, sql):
    missing = unique("missing")
    expect_http_error(
        lambda: sql.managed_databases.begin_complete_restore(
            RESOURCE_GROUP, INSTANCE, missing,
            CompleteDatabaseRestoreDefinition(last_backup_name="log.trn"),
        ).result(timeout=60),
        404, "ResourceDoesNotExist",
        f"Resource with the name '{missing}' does not exist. To continue, specify a valid "
        "resource name.",
    )
    db = unique("cutname")
    container = storage.container()
    sql.managed_databases.begin_create_or_update(
        RESOURCE_GROUP, INSTANCE, db, lrs_body(storage, container, db), polling=False
    ).result()
    expect_http_error(
        lambda: sql.managed_databases.begin_complete_restore(
            RESOURCE_GROUP, INSTANCE, db,
            CompleteDatabaseRestoreDefinition(last_backup_name="lög.trn"),
        ).result(timeout=60),
        400, "InvalidDatabaseCompleteRestoreRequestLastBackupName", "The last backup name is invalid",
    )
    sql.managed_databases.begin_delete(RESOURCE_GROUP, INSTANCE, db).result(timeout=60)


def test_the_ga_profile_refuses_a_101st_database_on_an_instance(services, storage, second_server):
    server = second_server("--profile", "ga", "--poll-interval", "30")
    sql = sql_client(services, base_url=server.arm, connection_verify=str(server.cert))
    instance = "mi-db-limit"
    for i in range(99):
        sql.managed_databases.begin_create_or_update(
            RESOURCE_GROUP, instance, f"plain{i:03}", ManagedDatabase(location="westeurope"),
            polling=False,
        ).result()
    container = storage.container()
    sql.managed_databases.begin_create_or_update(
        RESOURCE_GROUP, instance, "lrs099", lrs_body(storage, container, "lrs099"), polling=False
    ).result()
    assert len(list(sql.managed_databases.list_by_instance(RESOURCE_GROUP, instance))) == 100
    message = "Maximum number of databases for SQL Database Managed Instance reached."
    expect_http_error(
        lambda: sql.managed_databases.begin_create_or_update(
            RESOURCE_GROUP, instance, "lrs100", lrs_body(storage, container, "lrs100"),
            polling=False,
        ),
        400, "DatabaseNumberLimitReached", message,
    )
    expect_http_error(
        lambda: sql.managed_databases.begin_create_or_update(
            RESOURCE_GROUP, instance, "plain100", ManagedDatabase(location="westeurope"),
            polling=False,
        ),
        400, "DatabaseNumberLimitReached", message,
    )
    sql.managed_databases.begin_delete(RESOURCE_GROUP, instance, "plain000").result(timeout=60)
    sql.managed_databases.begin_create_or_update(
        RESOURCE_GROUP, instance, "lrs100", lrs_body(storage, container, "lrs100"), polling=False
    ).result()

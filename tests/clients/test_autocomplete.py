"""Autocomplete mode: the whole chain is uploaded first, LRS restores it up to the named last
backup and brings the database online by itself (docs/references.md#start,
#restore-details, #client-call-sequences)."""

from __future__ import annotations

from azure.mgmt.sql.models import ManagedDatabase

from harness import (
    INSTANCE,
    RESOURCE_GROUP,
    assert_az_ok,
    az,
    forge_chain,
    midb,
    unique,
)


def assert_restored_set(entry: dict, name: str, size_mb: int) -> None:
    """One restored backup set as `az … show` prints it."""
    assert entry["status"] == "Restored", entry
    assert entry["firstStripeName"] == name, entry
    assert entry["numberOfStripes"] == 1, entry
    assert entry["backupSizeMb"] == size_mb, entry
    assert entry["restoreStartedTimestampUtc"], entry
    assert entry["restoreFinishedTimestampUtc"], entry
    assert entry["restoreStartedTimestampUtc"] <= entry["restoreFinishedTimestampUtc"], entry


def assert_skipped_set(entry: dict, name: str) -> None:
    """A backup set the plan did not need (a log the differential already covers)."""
    assert entry["status"] == "Skipped", entry
    assert entry["firstStripeName"] == name, entry
    assert entry["restoreStartedTimestampUtc"] is None, entry
    assert entry["restoreFinishedTimestampUtc"] is None, entry


def test_az_autocomplete_restores_the_chain_and_brings_the_database_online(services, storage):
    db = unique("auto")
    chain = forge_chain(services, db, diffs=1, logs=4)
    # Chain order: FULL, LOG1, LOG2, DIFF, LOG3, LOG4; the plan is FULL, DIFF, LOG3, LOG4.
    assert chain.names() == [
        f"{db}_FULL_01.bak",
        f"{db}_LOG_00001.trn",
        f"{db}_LOG_00002.trn",
        f"{db}_DIFF_01.bak",
        f"{db}_LOG_00003.trn",
        f"{db}_LOG_00004.trn",
    ]
    container = storage.container()
    storage.upload(container, db, chain.files)
    last = f"{db}_LOG_00004.trn"

    # Without --no-wait az polls the start operation until the migration is over, then GETs
    # the database and prints it.
    started = assert_az_ok(
        az(
            "sql", "midb", "log-replay", "start",
            *midb("-n", db, "-a", "--last-bn", last,
                  "--su", storage.uri(container, db), "--ss", storage.sas(container)),
            timeout=240,
        )
    )
    database = started.json()
    assert database["name"] == db
    assert database["status"] == "Online", started.describe()
    assert database["type"] == "Microsoft.Sql/managedInstances/databases"
    assert database["id"] == (
        f"/subscriptions/{services.subscription}/resourceGroups/{RESOURCE_GROUP}/providers/"
        f"Microsoft.Sql/managedInstances/{INSTANCE}/databases/{db}"
    )
    # The secret never comes back.
    assert database["storageContainerSasToken"] is None

    shown = assert_az_ok(az("sql", "midb", "log-replay", "show", *midb("-n", db)))
    details = shown.json()
    assert details["typePropertiesType"] == "LRSRestore", shown.describe()
    assert details["type"] == "Microsoft.Sql/managedInstances/databases/restoreDetails"
    assert details["name"] == "Default"
    assert details["id"] == database["id"] + "/restoreDetails/Default"
    assert details["resourceGroup"] == RESOURCE_GROUP
    assert details["status"] == "Completed", shown.describe()
    assert details["blockReason"] is None
    assert details["percentCompleted"] == 100
    assert details["numberOfFilesDetected"] == 6
    assert details["numberOfFilesRestored"] == 4
    assert details["numberOfFilesSkipped"] == 2
    assert details["numberOfFilesQueued"] == 0
    assert details["numberOfFilesRestoring"] == 0
    assert details["numberOfFilesUnrestorable"] == 0
    assert details["unrestorableFiles"] == []
    assert details["lastRestoredFileName"] == last
    assert details["lastUploadedFileName"] == last
    assert details["currentRestoredSizeMb"] == details["currentRestorePlanSizeMb"], details
    assert details["currentRestorePlanSizeMb"] >= 5, details  # 4 MiB full + diff + 2 logs

    assert len(details["fullBackupSets"]) == 1
    assert_restored_set(details["fullBackupSets"][0], f"{db}_FULL_01.bak", 4)
    assert len(details["diffBackupSets"]) == 1
    assert_restored_set(details["diffBackupSets"][0], f"{db}_DIFF_01.bak", 0)
    logs = details["logBackupSets"]
    assert [entry["firstStripeName"] for entry in logs] == [
        f"{db}_LOG_0000{i}.trn" for i in range(1, 5)
    ]
    assert_skipped_set(logs[0], f"{db}_LOG_00001.trn")
    assert_skipped_set(logs[1], f"{db}_LOG_00002.trn")
    assert_restored_set(logs[2], f"{db}_LOG_00003.trn", 1)
    assert_restored_set(logs[3], f"{db}_LOG_00004.trn", 1)
    # Restore order: full, then the differential, then the logs after it.
    full, diff = details["fullBackupSets"][0], details["diffBackupSets"][0]
    assert full["restoreFinishedTimestampUtc"] <= diff["restoreStartedTimestampUtc"]
    assert diff["restoreFinishedTimestampUtc"] <= logs[2]["restoreStartedTimestampUtc"]
    assert logs[2]["restoreFinishedTimestampUtc"] <= logs[3]["restoreStartedTimestampUtc"]

    online = assert_az_ok(az("sql", "midb", "show", *midb("-n", db)))
    assert online.json()["status"] == "Online"


def test_sdk_autocomplete_poller_ends_with_the_online_database(services, storage, sql):
    db = unique("sdkauto")
    chain = forge_chain(services, db, diffs=0, logs=3, seed=2)
    container = storage.container()
    storage.upload(container, db, chain.files)
    last = chain.files[-1].name

    poller = sql.managed_databases.begin_create_or_update(
        RESOURCE_GROUP,
        INSTANCE,
        db,
        ManagedDatabase(
            location="westeurope",
            create_mode="RestoreExternalBackup",
            storage_container_uri=storage.uri(container, db),
            storage_container_sas_token=storage.sas(container),
            auto_complete_restore=True,
            last_backup_name=last,
        ),
    )
    database = poller.result(timeout=120)
    assert poller.status() == "Succeeded"
    assert database.name == db
    assert database.status == "Online"

    details = sql.managed_database_restore_details.get(RESOURCE_GROUP, INSTANCE, db, "Default")
    assert details.type_properties_type == "LRSRestore"
    assert details.status == "Completed"
    assert details.last_restored_file_name == last
    assert details.number_of_files_detected == 4
    assert details.number_of_files_restored == 4
    assert details.number_of_files_skipped == 0
    assert [s.status for s in details.log_backup_sets] == ["Restored"] * 3
    assert [s.first_stripe_name for s in details.log_backup_sets] == chain.names(chain.named("LOG"))


def test_az_autocomplete_no_wait_then_wait_for_online(services, storage):
    db = unique("autonw")
    chain = forge_chain(services, db, diffs=0, logs=2, seed=11)
    container = storage.container()
    storage.upload(container, db, chain.files)
    last = chain.files[-1].name

    # --no-wait: the PUT only; az prints nothing.
    started = assert_az_ok(
        az(
            "sql", "midb", "log-replay", "start",
            *midb("-n", db, "-a", "--last-bn", last,
                  "--su", storage.uri(container, db), "--ss", storage.sas(container),
                  "--no-wait"),
        )
    )
    assert started.stdout.strip() == ""

    # `wait --custom` polls GET database until the JMESPath condition holds (managed databases
    # have no provisioningState, so --created would never end: docs/references.md#client-call-sequences).
    waited = assert_az_ok(
        az(
            "sql", "midb", "log-replay", "wait",
            *midb("-n", db, "--custom", "status=='Online'", "--interval", "1", "--timeout", "90"),
            timeout=120,
        )
    )
    assert waited.stdout.strip() == ""
    shown = assert_az_ok(az("sql", "midb", "log-replay", "show", *midb("-n", db))).json()
    assert shown["status"] == "Completed"
    assert shown["lastRestoredFileName"] == last
    assert [s["status"] for s in shown["logBackupSets"]] == ["Restored", "Restored"]

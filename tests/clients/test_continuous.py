"""Continuous mode through azure-mgmt-sql: LRS keeps restoring what is uploaded until the user
completes the migration (docs/references.md#start to
#complete, #long-running-operations)."""

from __future__ import annotations

from azure.mgmt.sql.models import CompleteDatabaseRestoreDefinition, ManagedDatabase

from harness import INSTANCE, RESOURCE_GROUP, forge_chain, unique, wait_until


def test_sdk_continuous_restores_new_logs_until_completed(services, storage, sql):
    db = unique("cont")
    chain = forge_chain(services, db, diffs=1, logs=6, seed=3)
    # Chain order: FULL, LOG1, LOG2, LOG3, DIFF, LOG4, LOG5, LOG6.
    assert chain.names() == [
        f"{db}_FULL_01.bak",
        *[f"{db}_LOG_0000{i}.trn" for i in (1, 2, 3)],
        f"{db}_DIFF_01.bak",
        *[f"{db}_LOG_0000{i}.trn" for i in (4, 5, 6)],
    ]
    first, later = chain.files[:5], chain.files[5:]
    container = storage.container()
    storage.upload(container, db, first)

    start = sql.managed_databases.begin_create_or_update(
        RESOURCE_GROUP,
        INSTANCE,
        db,
        ManagedDatabase(
            location="westeurope",
            create_mode="RestoreExternalBackup",
            storage_container_uri=storage.uri(container, db),
            storage_container_sas_token=storage.sas(container),
            auto_complete_restore=False,
        ),
    )

    def details():
        return sql.managed_database_restore_details.get(RESOURCE_GROUP, INSTANCE, db, "Default")

    def restored(name):
        return lambda: (d := details()).last_restored_file_name == name and d

    # The first batch: full, then the differential (the three logs before it are not needed).
    now = wait_until(f"{db}_DIFF_01.bak restored", restored(f"{db}_DIFF_01.bak"))
    assert now.type_properties_type == "LRSRestore"
    assert now.status == "Restoring"
    assert now.number_of_files_detected == 5
    assert now.number_of_files_restored == 2
    assert now.number_of_files_skipped == 3
    assert [s.status for s in now.full_backup_sets] == ["Restored"]
    assert [s.status for s in now.diff_backup_sets] == ["Restored"]
    assert [s.status for s in now.log_backup_sets] == ["Skipped"] * 3
    # Continuous mode: the start operation runs until the migration is completed.
    assert not start.done()
    assert start.status() == "InProgress"
    database = sql.managed_databases.get(RESOURCE_GROUP, INSTANCE, db)
    assert database.status == "Restoring"

    # New log backups arrive while LRS runs: it picks them up and restores them in order.
    storage.upload(container, db, later)
    last = f"{db}_LOG_00006.trn"
    now = wait_until(f"{last} restored", restored(last))
    assert now.status == "Restoring"
    assert now.number_of_files_detected == 8
    assert now.number_of_files_restored == 5
    assert now.number_of_files_skipped == 3
    assert now.number_of_files_queued == 0
    assert now.last_uploaded_file_name == last
    assert [(s.first_stripe_name, s.status) for s in now.log_backup_sets] == [
        (f"{db}_LOG_00001.trn", "Skipped"),
        (f"{db}_LOG_00002.trn", "Skipped"),
        (f"{db}_LOG_00003.trn", "Skipped"),
        (f"{db}_LOG_00004.trn", "Restored"),
        (f"{db}_LOG_00005.trn", "Restored"),
        (f"{db}_LOG_00006.trn", "Restored"),
    ]
    assert not start.done()

    # Cutover.
    complete = sql.managed_databases.begin_complete_restore(
        RESOURCE_GROUP, INSTANCE, db, CompleteDatabaseRestoreDefinition(last_backup_name=last)
    )
    assert complete.result(timeout=120) is None
    assert complete.status() == "Succeeded"
    assert sql.managed_databases.get(RESOURCE_GROUP, INSTANCE, db).status == "Online"

    # The start operation ends with the cutover; its final GET is the online database.
    database = start.result(timeout=60)
    assert start.status() == "Succeeded"
    assert database.name == db
    assert database.status == "Online"

    final = details()
    assert final.status == "Completed"
    assert final.last_restored_file_name == last
    assert final.percent_completed == 100

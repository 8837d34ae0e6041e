"""The managed instance's operations as the LRS article tells users to query them when a request
fails: `az sql mi op list` and `az sql mi op show` (GET …/managedInstances/{mi}/operations and
…/operations/{operationId}) list the migrations' start, cutover and stop operations of an
instance, newest first, with their state, progress and, for a failed one, its error
(docs/engine.md, "Managed instance operations")."""

from __future__ import annotations

from harness import (
    AZ_ERROR,
    AZ_NOT_FOUND,
    RESOURCE_GROUP,
    assert_az_http_error,
    assert_az_ok,
    az,
    forge_chain,
    unique,
    wait_until,
)

START = "CreateExternalManagedBackupRestoreV2Request"
COMPLETE = "ManagedDatabaseCompleteExternalRestore"
DROP = "DropManagedDatabase"


def on(instance: str, *args: str) -> list[str]:
    """`-g RG --mi instance` plus `args`: each test works on an instance of its own, so that its
    operation list holds only its own operations."""
    return ["-g", RESOURCE_GROUP, "--mi", instance, *args]


def op_list(instance: str) -> list[dict]:
    return assert_az_ok(az("sql", "mi", "op", "list", *on(instance))).json()


def op_show(instance: str, operation_id: str) -> dict:
    return assert_az_ok(az("sql", "mi", "op", "show", *on(instance, "--name", operation_id))).json()


def summary(ops: list[dict]) -> list[tuple[str, str, int]]:
    return [(o["operation"], o["state"], o["percentComplete"]) for o in ops]


def test_az_mi_op_list_and_show_follow_start_complete_and_stop(services, storage):
    mi = unique("mi-ops-")
    db = unique("opsdb")
    chain = forge_chain(services, db, diffs=0, logs=1, seed=11)
    container = storage.container()
    storage.upload(container, db, chain.files)
    last = chain.files[-1].name

    # A new instance has no operations yet.
    assert op_list(mi) == []

    # Continuous start: the start operation is listed in progress until the cutover.
    assert_az_ok(
        az(
            "sql", "midb", "log-replay", "start",
            *on(mi, "-n", db, "--su", storage.uri(container, db), "--ss", storage.sas(container),
                "--no-wait"),
        )
    )
    ops = op_list(mi)
    assert summary(ops) == [(START, "InProgress", 0)], ops
    start = ops[0]
    assert start["operationFriendlyName"] == "START LOG REPLAY MIGRATION"
    assert start["managedInstanceName"] == mi
    assert start["isCancellable"] is False
    assert start["type"] == "Microsoft.Sql/managedInstances/operations"
    assert start["resourceGroup"] == RESOURCE_GROUP
    assert start["id"].endswith(
        f"/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.Sql/managedInstances/{mi}"
        f"/operations/{start['name']}"
    )
    assert start["description"] == (
        f"Log replay migration of database '{db}' (createMode RestoreExternalBackup)."
    )
    assert start["startTime"]
    assert start.get("errorCode") is None
    assert start.get("errorDescription") is None
    assert op_show(mi, start["name"]) == start

    def restored():
        shown = assert_az_ok(az("sql", "midb", "log-replay", "show", *on(mi, "-n", db))).json()
        return shown["lastRestoredFileName"] == last and shown

    wait_until(f"{last} restored", restored)

    # Cutover (az waits for it): the complete operation comes first, and it ended the start.
    assert_az_ok(az("sql", "midb", "log-replay", "complete", *on(mi, "-n", db, "--last-bn", last)))
    ops = op_list(mi)
    assert summary(ops) == [(COMPLETE, "Succeeded", 100), (START, "Succeeded", 100)], ops
    assert ops[0]["operationFriendlyName"] == "COMPLETE LOG REPLAY MIGRATION"
    assert ops[1]["name"] == start["name"]
    assert op_show(mi, ops[0]["name"])["state"] == "Succeeded"

    # A second migration, stopped: its drop operation is the newest, and the stop ended its
    # start operation.
    other = unique("opsstop")
    storage.upload(container, other, forge_chain(services, other, diffs=0, logs=1, seed=12).files)
    assert_az_ok(
        az(
            "sql", "midb", "log-replay", "start",
            *on(mi, "-n", other, "--su", storage.uri(container, other),
                "--ss", storage.sas(container), "--no-wait"),
        )
    )
    assert_az_ok(az("sql", "midb", "log-replay", "stop", *on(mi, "-n", other, "--yes")))
    ops = op_list(mi)
    assert summary(ops) == [
        (DROP, "Succeeded", 100),
        (START, "Succeeded", 100),
        (COMPLETE, "Succeeded", 100),
        (START, "Succeeded", 100),
    ], ops
    assert ops[0]["operationFriendlyName"] == "DROP MANAGED DATABASE"
    assert ops[0]["description"] == (
        f"Drop of database '{other}' (stops its log replay migration, if any)."
    )
    assert ops[1]["description"].startswith(f"Log replay migration of database '{other}'")


def test_a_failed_start_shows_its_error(services, storage):
    # The 2021 preview profile (the server's default) requires CHECKSUM: the start fails, and
    # the instance's operation list says why.
    mi = unique("mi-opsfail-")
    db = unique("opsnosum")
    chain = forge_chain(services, db, diffs=0, logs=1, seed=13, checksum=False)
    container = storage.container()
    storage.upload(container, db, chain.files)
    message = f"Provided full backup is missing checksum. File: '{db}_FULL_01.bak'."

    result = az(
        "sql", "midb", "log-replay", "start",
        *on(mi, "-n", db, "-a", "--last-bn", chain.files[-1].name,
            "--su", storage.uri(container, db), "--ss", storage.sas(container)),
        timeout=120,
    )
    assert_az_http_error(result, AZ_ERROR, "FullBackupMissingChecksum", message)

    ops = op_list(mi)
    assert summary(ops) == [(START, "Failed", 100)], ops
    failed = ops[0]
    assert failed["errorCode"] == 50000
    assert failed["errorDescription"] == f"FullBackupMissingChecksum: {message}"
    assert failed["errorSeverity"] == 16
    assert failed["isUserError"] is True
    assert failed["isCancellable"] is False
    assert op_show(mi, failed["name"]) == failed


def test_show_of_an_unknown_or_another_instances_operation_is_not_found(services, storage):
    mi = unique("mi-opsnone-")
    elsewhere = unique("mi-opsother-")
    db = unique("opsother")
    container = storage.container()
    assert_az_ok(
        az(
            "sql", "midb", "log-replay", "start",
            *on(elsewhere, "-n", db, "--su", storage.uri(container, db),
                "--ss", storage.sas(container), "--no-wait"),
        )
    )
    [theirs] = op_list(elsewhere)
    for operation_id in [theirs["name"], "00000000-1111-2222-3333-444444444444"]:
        result = az("sql", "mi", "op", "show", *on(mi, "--name", operation_id))
        assert_az_http_error(
            result,
            AZ_NOT_FOUND,
            "ResourceNotFound",
            "The requested resource of type 'Microsoft.Sql/managedInstances/operations' with "
            f"name '{operation_id}' was not found on managed instance '{mi}' under resource "
            f"group '{RESOURCE_GROUP}'.",
        )
    assert_az_ok(az("sql", "midb", "log-replay", "stop", *on(elsewhere, "-n", db, "--yes")))

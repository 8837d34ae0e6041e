"""Stop (abort) a migration with `az sql midb log-replay stop`: az checks the restore details'
type, then DELETEs the database (docs/references.md#stop, #client-call-sequences)."""

from __future__ import annotations

from azure.core.exceptions import ResourceNotFoundError

from harness import (
    AZ_NOT_FOUND,
    INSTANCE,
    RESOURCE_GROUP,
    assert_az_http_error,
    assert_az_ok,
    az,
    error_of,
    forge_chain,
    midb,
    unique,
    wait_until,
)


def test_az_stop_drops_the_restoring_database(services, storage, sql):
    db = unique("stop")
    chain = forge_chain(services, db, diffs=0, logs=2, seed=4)
    container = storage.container()
    storage.upload(container, db, chain.files)

    # Continuous start with --no-wait: az sends the PUT and returns at once, printing nothing.
    started = assert_az_ok(
        az(
            "sql", "midb", "log-replay", "start",
            *midb("-n", db, "--su", storage.uri(container, db), "--ss", storage.sas(container),
                  "--no-wait"),
        )
    )
    assert started.stdout.strip() == ""

    last = chain.files[-1].name

    def restored():
        shown = assert_az_ok(az("sql", "midb", "log-replay", "show", *midb("-n", db))).json()
        return shown["lastRestoredFileName"] == last and shown

    shown = wait_until(f"{last} restored", restored)
    assert shown["typePropertiesType"] == "LRSRestore"
    assert shown["status"] == "Restoring"
    assert assert_az_ok(az("sql", "midb", "show", *midb("-n", db))).json()["status"] == "Restoring"

    # stop waits for the DELETE operation and prints nothing.
    stopped = assert_az_ok(az("sql", "midb", "log-replay", "stop", *midb("-n", db, "--yes")))
    assert stopped.stdout.strip() == ""

    # The database is gone: az exits 3 (not found) with the resource provider's 404 for a
    # database that existed (not ARM's gateway one: docs/fidelity.md).
    not_found = (
        "The requested resource of type 'Microsoft.Sql/managedInstances/databases' with name "
        f"'{db}' was not found."
    )
    assert_az_http_error(
        az("sql", "midb", "show", *midb("-n", db)), AZ_NOT_FOUND, "ResourceNotFound", not_found
    )
    try:
        sql.managed_databases.get(RESOURCE_GROUP, INSTANCE, db)
    except ResourceNotFoundError as e:
        assert error_of(e) == (404, "ResourceNotFound", not_found)
    else:
        raise AssertionError(f"{db} still exists after stop")
    listed = assert_az_ok(az("sql", "midb", "list", "-g", RESOURCE_GROUP, "--mi", INSTANCE)).json()
    assert db not in [d["name"] for d in listed]

    # The name is free again: a new migration with the same name starts.
    again = assert_az_ok(
        az(
            "sql", "midb", "log-replay", "start",
            *midb("-n", db, "--su", storage.uri(container, db), "--ss", storage.sas(container),
                  "--no-wait"),
        )
    )
    assert again.stdout.strip() == ""
    wait_until(f"{last} restored again", restored)
    assert_az_ok(az("sql", "midb", "log-replay", "stop", *midb("-n", db, "--yes")))

"""The GA profile (`lrs serve --profile ga`) through az: managed-identity storage access
(`--si ManagedIdentity --ss ""`, docs/references.md#start) and backups without CHECKSUM."""

from __future__ import annotations

from harness import (
    AZ_ERROR,
    AZ_NOT_FOUND,
    assert_az_http_error,
    assert_az_ok,
    az,
    az_profile,
    forge_chain,
    midb,
    unique,
    wait_until,
)


def test_az_autocomplete_with_managed_identity_and_no_checksum(
    services, storage, second_server, tmp_path
):
    server = second_server("--profile", "ga", "--poll-interval", "0.2")
    env = az_profile(server.arm, server.cert, tmp_path / "az-ga")

    db = unique("ga")
    chain = forge_chain(services, db, diffs=1, logs=2, seed=10, checksum=False)
    container = storage.container()
    storage.upload(container, db, chain.files)
    last = chain.files[-1].name

    # No SAS: the emulated managed identity reaches Azurite's development account.
    started = assert_az_ok(
        az(
            "sql", "midb", "log-replay", "start",
            *midb("-n", db, "-a", "--last-bn", last, "--su", storage.uri(container, db),
                  "--si", "ManagedIdentity", "--ss", ""),
            env=env,
            timeout=180,
        )
    )
    assert started.json()["status"] == "Online"

    shown = assert_az_ok(az("sql", "midb", "log-replay", "show", *midb("-n", db), env=env)).json()
    assert shown["typePropertiesType"] == "LRSRestore"
    assert shown["status"] == "Completed"
    assert shown["lastRestoredFileName"] == last
    assert shown["numberOfFilesDetected"] == 4
    assert [s["status"] for s in shown["fullBackupSets"]] == ["Restored"]
    assert [s["status"] for s in shown["diffBackupSets"]] == ["Restored"]

    # The main server (the 2021 profile) knows nothing of this database.
    assert az("sql", "midb", "show", *midb("-n", db)).returncode == AZ_NOT_FOUND


def test_ga_refuses_a_cutover_naming_a_log_restored_before_the_last(
    services, storage, second_server, tmp_path
):
    """Under GA nothing is restored past a cutover's file, so a file restored before the last
    can never be the last restored one: RequiredBackupIsNotLastRestored with both names. (The
    2021 profile accepts it and restores the chain found: docs/fidelity.md.)"""
    server = second_server("--profile", "ga", "--poll-interval", "0.2")
    env = az_profile(server.arm, server.cert, tmp_path / "az-ga")
    db = unique("gawrong")
    chain = forge_chain(services, db, diffs=0, logs=2, seed=12)
    container = storage.container()
    storage.upload(container, db, chain.files)
    assert_az_ok(
        az(
            "sql", "midb", "log-replay", "start", "--no-wait",
            *midb("-n", db, "--su", storage.uri(container, db), "--ss", storage.sas(container)),
            env=env,
        )
    )
    last, earlier = chain.files[-1].name, chain.files[-2].name

    def restored_last() -> bool:
        shown = az("sql", "midb", "log-replay", "show", *midb("-n", db), env=env)
        return shown.returncode == 0 and shown.json().get("lastRestoredFileName") == last

    wait_until(f"{last} restored", restored_last)
    result = az("sql", "midb", "log-replay", "complete", *midb("-n", db, "--last-bn", earlier),
                env=env)
    assert_az_http_error(
        result, AZ_ERROR, "RequiredBackupIsNotLastRestored",
        f"Migration cannot be completed because provided backup file name '{earlier}' should "
        f"be the last restore backup file '{last}'.",
    )
    assert_az_ok(az("sql", "midb", "log-replay", "complete", *midb("-n", db, "--last-bn", last),
                    env=env))
    assert assert_az_ok(az("sql", "midb", "show", *midb("-n", db), env=env)).json()[
        "status"] == "Online"

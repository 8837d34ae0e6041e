"""The GA profile (`lrs serve --profile ga`) through az: managed-identity storage access
(`--si ManagedIdentity --ss ""`, docs/references.md#start) and backups without CHECKSUM."""

from __future__ import annotations

from harness import AZ_NOT_FOUND, assert_az_ok, az, az_profile, forge_chain, midb, unique


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

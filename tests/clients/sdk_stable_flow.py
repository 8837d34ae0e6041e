"""A continuous-mode migration driven by azure-mgmt-sql 4.0.0 (the latest stable SDK,
api-version 2025-01-01, models with a `properties` object), run in its own virtualenv
(.venv-stable) by test_sdk_stable.py. It prints what it observed as one JSON object; the test
asserts on it. It only drives the SDK: the backups are uploaded by the test.

Arguments come from the environment: STABLE_ARM (https://localhost:PORT), STABLE_SUBSCRIPTION,
STABLE_RG, STABLE_MI, STABLE_DB, STABLE_PLAIN_DB, STABLE_URI, STABLE_SAS, STABLE_LAST,
STABLE_WRONG; REQUESTS_CA_BUNDLE trusts the server's certificate.
"""

from __future__ import annotations

import json
import os
import sys
import time

from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError
from azure.mgmt.sql import SqlManagementClient
from azure.mgmt.sql import models as m


class FakeCredential:
    """Any token does: the emulator does not validate them."""

    def get_token(self, *scopes, **kwargs):
        return AccessToken("fake-token", int(time.time()) + 3600)


def error(e: HttpResponseError) -> dict:
    return {"status": e.status_code, "code": e.error.code, "message": e.error.message}


def main() -> int:
    env = os.environ
    rg, mi, db = env["STABLE_RG"], env["STABLE_MI"], env["STABLE_DB"]
    last = env["STABLE_LAST"]
    sql = SqlManagementClient(
        FakeCredential(), env["STABLE_SUBSCRIPTION"], base_url=env["STABLE_ARM"],
        polling_interval=1,
    )
    seen: dict = {"api_version": sql._config.api_version}

    start = sql.managed_databases.begin_create_or_update(
        rg, mi, db,
        m.ManagedDatabase(
            location="westeurope",
            properties=m.ManagedDatabaseProperties(
                create_mode="RestoreExternalBackup",
                storage_container_uri=env["STABLE_URI"],
                storage_container_sas_token=env["STABLE_SAS"],
                auto_complete_restore=False,
            ),
        ),
    )
    deadline = time.monotonic() + 60
    while True:
        details = sql.managed_database_restore_details.get(rg, mi, db, "Default")
        if details.properties.last_restored_file_name == last or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    p = details.properties
    seen["restoring"] = {
        "type": p.type,
        "status": p.status,
        "last_restored_file_name": p.last_restored_file_name,
        "number_of_files_detected": p.number_of_files_detected,
        "number_of_files_restored": p.number_of_files_restored,
        "full_backup_sets": [[s.first_stripe_name, s.status] for s in p.full_backup_sets or []],
        "log_backup_sets": [[s.first_stripe_name, s.status] for s in p.log_backup_sets or []],
        "database_status": sql.managed_databases.get(rg, mi, db).properties.status,
        "start_done": start.done(),
    }

    try:
        sql.managed_databases.begin_complete_restore(
            rg, mi, db, m.CompleteDatabaseRestoreDefinition(last_backup_name=env["STABLE_WRONG"]),
            polling=False,
        )
        seen["wrong_name"] = None
    except HttpResponseError as e:
        seen["wrong_name"] = error(e)

    complete = sql.managed_databases.begin_complete_restore(
        rg, mi, db, m.CompleteDatabaseRestoreDefinition(last_backup_name=last)
    )
    seen["complete_result"] = complete.result(timeout=120)
    seen["complete_status"] = complete.status()
    database = start.result(timeout=60)
    seen["start_status"] = start.status()
    seen["database"] = {"name": database.name, "status": database.properties.status}
    seen["completed_details_status"] = (
        sql.managed_database_restore_details.get(rg, mi, db, "Default").properties.status
    )

    plain = env["STABLE_PLAIN_DB"]
    created = sql.managed_databases.begin_create_or_update(
        rg, mi, plain, m.ManagedDatabase(location="westeurope")
    ).result(timeout=60)
    seen["plain_status"] = created.properties.status
    try:
        sql.managed_database_restore_details.get(rg, mi, plain, "Default")
        seen["plain_details"] = None
    except HttpResponseError as e:
        seen["plain_details"] = error(e)

    sql.managed_databases.begin_delete(rg, mi, plain).result(timeout=60)
    try:
        sql.managed_databases.get(rg, mi, plain)
        seen["after_delete"] = None
    except HttpResponseError as e:
        seen["after_delete"] = error(e)

    json.dump(seen, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

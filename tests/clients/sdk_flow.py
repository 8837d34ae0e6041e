"""A continuous-mode migration driven by one azure-mgmt-sql release in a virtualenv of its own
(test_sdk_versions.py runs it with that venv's python). It prints what it observed as one JSON
object; the test asserts on it. It only drives the SDK: the backups are uploaded by the test.

It works with both model styles: flattened models (3.x: `ManagedDatabase(create_mode=…)`,
`details.percent_completed`) and models with a `properties` object (4.0.0, 5.0.0b2).

Arguments come from the environment: SDK_ARM (https://localhost:PORT), SDK_SUBSCRIPTION,
SDK_RG, SDK_MI, SDK_DB, SDK_PLAIN_DB, SDK_URI, SDK_SAS, SDK_LAST, SDK_WRONG; SDK_FIELDS, the
restore-details attributes to report (comma-separated); SDK_ALSO_GET, api-versions (comma-
separated, may be empty) at which the same SDK call is sent again once the last backup is
restored. REQUESTS_CA_BUNDLE trusts the server's certificate.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError
from azure.mgmt.sql import SqlManagementClient
from azure.mgmt.sql import models as m

# 3.x has flattened models; later releases put the resource's fields under `properties`.
FLAT = not hasattr(m, "ManagedDatabaseProperties")


class FakeCredential:
    """Any token does: the emulator does not validate them."""

    def get_token(self, *scopes, **kwargs):
        return AccessToken("fake-token", int(time.time()) + 3600)


def error(e: HttpResponseError) -> dict:
    return {"status": e.status_code, "code": e.error.code, "message": e.error.message}


def props(resource):
    """The resource's fields, in either model style."""
    return resource if FLAT else resource.properties


def plain(value):
    """A deserialized value as JSON: backup sets as [first stripe, status], unrestorable-file
    models as their name, datetimes in ISO form; strings, numbers and lists as they are."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if hasattr(value, "first_stripe_name"):
        return [value.first_stripe_name, value.status]
    if hasattr(value, "name") and not isinstance(value, str):
        return value.name
    return value


def at_api_version(version: str):
    """A raw_request_hook that sends the SDK's own request with another api-version."""

    def hook(request):
        url = urlsplit(request.http_request.url)
        query = [(k, version if k == "api-version" else v) for k, v in parse_qsl(url.query)]
        request.http_request.url = urlunsplit(url._replace(query=urlencode(query)))

    return hook


def main() -> int:
    env = os.environ
    rg, mi, db = env["SDK_RG"], env["SDK_MI"], env["SDK_DB"]
    last = env["SDK_LAST"]
    fields = [f for f in env["SDK_FIELDS"].split(",") if f]
    also_get = [v for v in env.get("SDK_ALSO_GET", "").split(",") if v]
    sql = SqlManagementClient(
        FakeCredential(), env["SDK_SUBSCRIPTION"], base_url=env["SDK_ARM"], polling_interval=1
    )

    def details(**kwargs) -> tuple[dict, dict, str]:
        """The SDK's restore details: the reported fields, the raw `properties` as sent, and
        the api-version of the request."""
        got = sql.managed_database_restore_details.get(
            rg, mi, db, "Default",
            cls=lambda response, model, _headers: (response, model), **kwargs,
        )
        response, model = got
        sent = dict(parse_qsl(urlsplit(response.http_request.url).query))["api-version"]
        missing = "<no such attribute>"
        seen = {f: plain(getattr(props(model), f, missing)) for f in fields}
        return seen, json.loads(response.http_response.text())["properties"], sent

    create = dict(
        create_mode="RestoreExternalBackup",
        storage_container_uri=env["SDK_URI"],
        storage_container_sas_token=env["SDK_SAS"],
        auto_complete_restore=False,
    )
    database = (
        m.ManagedDatabase(location="westeurope", **create)
        if FLAT
        else m.ManagedDatabase(location="westeurope", properties=m.ManagedDatabaseProperties(**create))
    )
    start = sql.managed_databases.begin_create_or_update(rg, mi, db, database)
    deadline = time.monotonic() + 60
    while True:
        seen_details, raw, sent = details()
        if raw.get("lastRestoredFileName") == last or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    seen: dict = {
        "api_version": sent,
        "restoring": {
            **seen_details,
            "database_status": props(sql.managed_databases.get(rg, mi, db)).status,
            "start_done": start.done(),
        },
        "restoring_raw": raw,
        "also": {},
    }
    for version in also_get:
        got, got_raw, got_sent = details(raw_request_hook=at_api_version(version))
        seen["also"][version] = {"sent": got_sent, "fields": got, "raw": got_raw}

    try:
        sql.managed_databases.begin_complete_restore(
            rg, mi, db, m.CompleteDatabaseRestoreDefinition(last_backup_name=env["SDK_WRONG"]),
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
    seen["database"] = {"name": database.name, "status": props(database).status}
    seen["completed_details_status"] = details()[1]["status"]

    plain_db = env["SDK_PLAIN_DB"]
    created = sql.managed_databases.begin_create_or_update(
        rg, mi, plain_db, m.ManagedDatabase(location="westeurope")
    ).result(timeout=60)
    seen["plain_status"] = props(created).status
    try:
        sql.managed_database_restore_details.get(rg, mi, plain_db, "Default")
        seen["plain_details"] = None
    except HttpResponseError as e:
        seen["plain_details"] = error(e)

    sql.managed_databases.begin_delete(rg, mi, plain_db).result(timeout=60)
    try:
        sql.managed_databases.get(rg, mi, plain_db)
        seen["after_delete"] = None
    except HttpResponseError as e:
        seen["after_delete"] = error(e)

    json.dump(seen, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""azure-mgmt-sql releases other than the one az pins, each in a virtualenv of its own (they
cannot share one with azure-cli, which pins 4.0.0b22), driven by sdk_flow.py: a continuous
migration, a refused cutover, the cutover, and a non-LRS database.

* old: 3.0.1, api-version 2020-11-01-preview, flattened models, the old restore-details shape;
  the same call is sent again at the stable 2023-08-01 (no release sends that version for
  restore details: 4.0.0b13–b20 and b23 send 2022-05-01-preview, b21 2024-05-01-preview, b22
  2024-11-01-preview, 4.0.0 and b25 2025-01-01), whose spec keeps the old shape.
* stable: 4.0.0, api-version 2025-01-01, the new shape.
* newest: 5.0.0b2, api-version 2026-08-01-preview, the new shape.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from harness import INSTANCE, RESOURCE_GROUP, forge_chain, redact, unique

HERE = Path(__file__).resolve().parent

# The properties the old shape (stable ≤ 2023-08-01, previews < 2022-02-01-preview) may carry.
OLD_SHAPE_KEYS = {
    "status", "blockReason", "currentRestoringFileName", "lastRestoredFileName",
    "lastRestoredFileTime", "percentCompleted", "unrestorableFiles", "numberOfFilesDetected",
    "lastUploadedFileName", "lastUploadedFileTime",
}
OLD_FIELDS = [
    "status", "last_restored_file_name", "current_restoring_file_name", "percent_completed",
    "number_of_files_detected", "unrestorable_files",
]
NEW_FIELDS = [
    "type", "status", "last_restored_file_name", "number_of_files_detected",
    "number_of_files_restored", "number_of_files_unrestorable", "percent_completed",
    "full_backup_sets", "log_backup_sets", "unrestorable_files",
]
NOT_A_BACKUP = "ImageFile.JPG"


def sdk_python(variable: str) -> Path:
    """The python of an SDK virtualenv, from run.sh; empty when setup.sh has not installed it
    (run.sh printed why): an error under CI, a skip elsewhere."""
    python = os.environ.get(variable, "")
    if not python:
        message = f"{variable} is empty: that SDK's virtualenv is missing (tests/clients/setup.sh)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return Path(python)


def run_flow(services, storage, python: Path, fields: list[str], *, seed: int, also_get=()):
    """Upload a full and two logs (and a file that is not a backup), run sdk_flow.py; returns
    what it saw, the database, the last and the first log's names."""
    db = unique("sdk")
    chain = forge_chain(services, db, diffs=0, logs=2, seed=seed)
    junk = services.work / unique("junk") / NOT_A_BACKUP
    junk.parent.mkdir()
    junk.write_bytes(b"\xff\xd8\xff\xe0 not a backup" * 64)
    container = storage.container()
    storage.upload(container, db, [*chain.files, junk])
    # `wrong` is no file of the chain: refused under every profile.
    last, wrong = f"{db}_LOG_00002.trn", f"{db}_LOG_00009.trn"
    env = dict(os.environ)
    env.update(
        SDK_ARM=services.arm,
        SDK_SUBSCRIPTION=services.subscription,
        SDK_RG=RESOURCE_GROUP,
        SDK_MI=INSTANCE,
        SDK_DB=db,
        SDK_PLAIN_DB=unique("sdkplain"),
        SDK_URI=storage.uri(container, db),
        SDK_SAS=storage.sas(container),
        SDK_LAST=last,
        SDK_WRONG=wrong,
        SDK_FIELDS=",".join(fields),
        SDK_ALSO_GET=",".join(also_get),
    )
    done = subprocess.run(
        [str(python), str(HERE / "sdk_flow.py")],
        capture_output=True, text=True, env=env, timeout=240, check=False,
    )
    assert done.returncode == 0, redact(f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}")
    return json.loads(done.stdout), db, last, wrong


def assert_cutover_and_plain_database(seen: dict, db: str, last: str, wrong: str) -> None:
    """What every release sees after the restore: the refused and the real cutover, Online,
    Completed details, and a database not created by LRS."""
    assert seen["wrong_name"] == {
        "status": 400,
        "code": "RequiredBackupIsNotLastRestored",
        "message": (
            f"Migration cannot be completed because provided backup file name '{wrong}' should "
            f"be the last restore backup file '{last}'."
        ),
    }
    assert seen["complete_result"] is None
    assert seen["complete_status"] == "Succeeded"
    assert seen["start_status"] == "Succeeded"
    assert seen["database"] == {"name": db, "status": "Online"}
    assert seen["completed_details_status"] == "Completed"
    assert seen["plain_status"] == "Online"
    assert seen["plain_details"] == {
        "status": 400,
        "code": "RestoreDetailsNotAvailableOrExpired",
        "message": "Requested restore details are not available, or have expired.",
    }
    assert seen["after_delete"]["status"] == 404
    assert seen["after_delete"]["code"] == "ResourceNotFound"


def assert_old_shape(fields: dict, raw: dict, last: str) -> None:
    """The old shape as sent and as 3.0.1's models deserialize it."""
    assert set(raw) <= OLD_SHAPE_KEYS, sorted(set(raw) - OLD_SHAPE_KEYS)
    assert isinstance(raw["percentCompleted"], float)
    assert raw["unrestorableFiles"] == [NOT_A_BACKUP]
    assert fields["status"] == "Restoring"
    assert fields["last_restored_file_name"] == last
    assert fields["current_restoring_file_name"] is None or isinstance(
        fields["current_restoring_file_name"], str
    )
    assert isinstance(fields["percent_completed"], float)
    assert 0.0 <= fields["percent_completed"] <= 100.0
    assert fields["number_of_files_detected"] == 4
    assert fields["unrestorable_files"] == [NOT_A_BACKUP]


def assert_new_shape(seen: dict, db: str, last: str, wrong: str) -> None:
    assert seen["restoring"] == {
        "type": "LRSRestore",
        "status": "Restoring",
        "last_restored_file_name": last,
        "number_of_files_detected": 4,
        "number_of_files_restored": 3,
        "number_of_files_unrestorable": 1,
        "percent_completed": seen["restoring"]["percent_completed"],
        "full_backup_sets": [[f"{db}_FULL_01.bak", "Restored"]],
        "log_backup_sets": [[f"{db}_LOG_00001.trn", "Restored"], [last, "Restored"]],
        "unrestorable_files": [NOT_A_BACKUP],
        "database_status": "Restoring",
        "start_done": False,
    }
    assert isinstance(seen["restoring"]["percent_completed"], int)
    assert seen["restoring_raw"]["unrestorableFiles"] == [{"name": NOT_A_BACKUP}]


def test_old_sdk_3_0_1_gets_the_old_shape_also_at_stable_2023_08_01(services, storage):
    python = sdk_python("CLIENTS_OLD_PYTHON")
    seen, db, last, wrong = run_flow(
        services, storage, python, OLD_FIELDS, seed=7, also_get=["2023-08-01"]
    )
    assert seen["api_version"] == "2020-11-01-preview"
    assert seen["restoring"]["database_status"] == "Restoring"
    assert seen["restoring"]["start_done"] is False
    assert_old_shape(seen["restoring"], seen["restoring_raw"], last)
    stable = seen["also"]["2023-08-01"]
    assert stable["sent"] == "2023-08-01"
    assert_old_shape(stable["fields"], stable["raw"], last)
    assert_cutover_and_plain_database(seen, db, last, wrong)


@pytest.mark.parametrize(
    ("variable", "api_version", "seed"),
    [("CLIENTS_STABLE_PYTHON", "2025-01-01", 6), ("CLIENTS_NEWEST_PYTHON", "2026-08-01-preview", 8)],
    ids=["stable_4_0_0", "newest_5_0_0b2"],
)
def test_new_shape_sdk_continuous_migration(services, storage, variable, api_version, seed):
    python = sdk_python(variable)
    seen, db, last, wrong = run_flow(services, storage, python, NEW_FIELDS, seed=seed)
    assert seen["api_version"] == api_version
    assert_new_shape(seen, db, last, wrong)
    assert_cutover_and_plain_database(seen, db, last, wrong)

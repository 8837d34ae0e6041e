"""The latest stable azure-mgmt-sql (4.0.0, api-version 2025-01-01) against the emulator: a
continuous migration, a refused cutover, the cutover, and a non-LRS database. The SDK runs in
its own virtualenv (it cannot share one with azure-cli, which pins 4.0.0b22); see
sdk_stable_flow.py."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from harness import INSTANCE, RESOURCE_GROUP, forge_chain, redact, unique

HERE = Path(__file__).resolve().parent


def test_stable_sdk_continuous_migration(services, storage):
    python = Path(os.environ["CLIENTS_STABLE_PYTHON"])
    db = unique("stable")
    chain = forge_chain(services, db, diffs=0, logs=2, seed=6)
    container = storage.container()
    storage.upload(container, db, chain.files)
    last = f"{db}_LOG_00002.trn"
    wrong = f"{db}_LOG_00001.trn"
    plain = unique("stableplain")

    env = dict(os.environ)
    env.update(
        STABLE_ARM=services.arm,
        STABLE_SUBSCRIPTION=services.subscription,
        STABLE_RG=RESOURCE_GROUP,
        STABLE_MI=INSTANCE,
        STABLE_DB=db,
        STABLE_PLAIN_DB=plain,
        STABLE_URI=storage.uri(container, db),
        STABLE_SAS=storage.sas(container),
        STABLE_LAST=last,
        STABLE_WRONG=wrong,
    )
    done = subprocess.run(
        [str(python), str(HERE / "sdk_stable_flow.py")],
        capture_output=True, text=True, env=env, timeout=240, check=False,
    )
    assert done.returncode == 0, redact(f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}")
    seen = json.loads(done.stdout)

    assert seen["api_version"] == "2025-01-01"
    assert seen["restoring"] == {
        "type": "LRSRestore",
        "status": "Restoring",
        "last_restored_file_name": last,
        "number_of_files_detected": 3,
        "number_of_files_restored": 3,
        "full_backup_sets": [[f"{db}_FULL_01.bak", "Restored"]],
        "log_backup_sets": [[wrong, "Restored"], [last, "Restored"]],
        "database_status": "Restoring",
        "start_done": False,
    }
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

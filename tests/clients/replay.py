"""Replays of real Azure LRS traffic (recorded by Microsoft's Azure PowerShell and Azure CLI test
suites) against `lrs serve`, step by step, comparing each answer with the recorded one.

A recording is a JSON transcription (../shared/recordings/README.md; ours in
tests/clients/recordings/): the LRS requests in time order with the real service's status,
headers and body. The replay sends the same requests — the same subscription, resource group,
instance and database names, the same api-versions and bodies — to a fresh server, with three
mappings:

* the storage container: the recorded `storageContainerUri` (a real account) becomes an Azurite
  container holding a forged chain under the recorded file names (`full.bak`, `log1.bak`);
* operation URLs: a poll of a recorded `Azure-AsyncOperation`/`Location` URL goes to the URL the
  emulator answered to the request that started that operation;
* the instance: steps the transcription marks `skip` (the instance's creation) are sent, to
  create the instance from the recorded request, but not compared; a recording without them
  creates the instance from the user-set fields of its first recorded instance GET.

Intermediate states (a restore still running, an operation still `InProgress`) are reproduced
deterministically with hooks that run before a step: upload the backups, hold restores with an
injected `slow` fault or the whole job with a `stall` (both until cleared), clear them, and wait
for the state the recording shows next. Nothing depends on timing.

Each answer is compared on: the status code; the presence of `Location`, `Azure-AsyncOperation`
(and their operation type and api-version) and `Retry-After`, `x-ms-failure-cause`'s value and
the media type; the error code and message; the set of JSON key paths; the values of `status`,
`type` and `createMode`. A difference fails the test unless docs/fidelity.md lists it (its
"Known differences" table: recording, step, field, reason).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit, parse_qs

import requests

from harness import wait_until

ROOT = Path(__file__).resolve().parents[2]
FIDELITY_MD = ROOT / "docs" / "fidelity.md"
OURS = Path(__file__).resolve().parent / "recordings"


def recordings_dirs() -> list[Path]:
    """Where recordings live: ../shared/recordings (or $LRS_RECORDINGS) and ours."""
    shared = Path(os.environ.get("LRS_RECORDINGS", ROOT.parent / "shared" / "recordings"))
    return [shared, OURS]


def find_recording(name: str) -> Path | None:
    for folder in recordings_dirs():
        path = folder / name
        if path.is_file():
            return path
    return None


# ---------------------------------------------------------------------------------------------
# Comparison


LRO_HEADERS = ("Location", "Azure-AsyncOperation")
VALUE_KEYS = ("status", "type", "createMode")


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Every key path of a JSON value: `properties.status`, `value[].name`, …"""
    paths: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            path = f"{prefix}.{key}" if prefix else key
            paths.add(path)
            paths |= key_paths(inner, path)
    elif isinstance(value, list):
        for inner in value:
            paths |= key_paths(inner, f"{prefix}[]")
    return paths


def compared_values(value: Any, prefix: str = "") -> dict[str, Any]:
    """The values of every `status`, `type` and `createMode` key, by path."""
    found: dict[str, Any] = {}
    if isinstance(value, dict):
        for key, inner in value.items():
            path = f"{prefix}.{key}" if prefix else key
            if key in VALUE_KEYS and not isinstance(inner, (dict, list)):
                found[path] = inner
            found.update(compared_values(inner, path))
    elif isinstance(value, list):
        for inner in value:
            found.update(compared_values(inner, f"{prefix}[]"))
    return found


def operation_shape(url: str | None) -> tuple[str, str] | None:
    """(operation resource type, api-version) of an LRO URL: `managedDatabaseRestore…`."""
    if not url:
        return None
    parts = urlsplit(url)
    segments = parts.path.rstrip("/").split("/")
    kind = segments[-2] if len(segments) >= 2 else ""
    version = parse_qs(parts.query).get("api-version", [""])[0]
    return kind, version


def media_type(headers: dict[str, str]) -> str | None:
    value = headers.get("Content-Type")
    return value.split(";")[0].strip().lower() if value else None


def differences(expected: dict[str, Any], status: int, headers: dict[str, str], body: Any,
                compare_retry_after: bool) -> dict[str, str]:
    """What differs between a recorded answer and ours, by field name (empty: a match)."""
    diff: dict[str, str] = {}
    if status != expected["status"]:
        diff["status"] = f"recorded {expected['status']}, emulator {status}"
    recorded_headers = expected["response_headers"]
    for name in LRO_HEADERS:
        want = operation_shape(recorded_headers.get(name))
        got = operation_shape(headers.get(name))
        if want != got:
            diff[name] = f"recorded {want}, emulator {got}"
    if compare_retry_after and ("Retry-After" in recorded_headers) != ("Retry-After" in headers):
        diff["Retry-After"] = (
            f"recorded {recorded_headers.get('Retry-After')!r}, emulator {headers.get('Retry-After')!r}"
        )
    cause_want = recorded_headers.get("x-ms-failure-cause")
    cause_got = headers.get("x-ms-failure-cause")
    if cause_want != cause_got:
        diff["x-ms-failure-cause"] = f"recorded {cause_want!r}, emulator {cause_got!r}"
    if media_type(recorded_headers) != media_type(headers):
        diff["Content-Type"] = f"recorded {media_type(recorded_headers)!r}, emulator {media_type(headers)!r}"
    want_body = expected["response_body"]
    want_error = want_body.get("error") if isinstance(want_body, dict) else None
    got_error = body.get("error") if isinstance(body, dict) else None
    if want_error or got_error:
        want_pair = ((want_error or {}).get("code"), (want_error or {}).get("message"))
        got_pair = ((got_error or {}).get("code"), (got_error or {}).get("message"))
        if want_pair != got_pair:
            diff["error"] = f"recorded {want_pair}, emulator {got_pair}"
    want_paths, got_paths = key_paths(want_body), key_paths(body)
    if want_paths != got_paths:
        missing = sorted(want_paths - got_paths)
        extra = sorted(got_paths - want_paths)
        diff["keys"] = f"missing {missing}, extra {extra}"
    want_values, got_values = compared_values(want_body), compared_values(body)
    for path in sorted(set(want_values) & set(got_values)):
        if want_values[path] != got_values[path]:
            diff[f"value {path}"] = f"recorded {want_values[path]!r}, emulator {got_values[path]!r}"
    return diff


# ---------------------------------------------------------------------------------------------
# Known differences (docs/fidelity.md)


@dataclass(frozen=True)
class Known:
    recording: str
    steps: frozenset[int]
    fields: frozenset[str]
    reason: str


def known_differences(path: Path = FIDELITY_MD) -> list[Known]:
    """The rows of docs/fidelity.md's "Known differences" table:
    `| recording | steps (1, 3-5) | fields (comma-separated) | reason |`."""
    text = path.read_text()
    start = text.index("<!-- known differences: begin -->")
    end = text.index("<!-- known differences: end -->")
    rows: list[Known] = []
    for line in text[start:end].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`"):
            continue
        steps: set[int] = set()
        for part in cells[1].split(","):
            part = part.strip()
            if "-" in part:
                a, b = part.split("-")
                steps |= set(range(int(a), int(b) + 1))
            elif part:
                steps.add(int(part))
        fields = frozenset(f.strip().strip("`") for f in cells[2].split(","))
        rows.append(Known(cells[0].strip("`"), frozenset(steps), fields, cells[3]))
    return rows


# ---------------------------------------------------------------------------------------------
# The replay


@dataclass
class StepResult:
    step: int
    request: str
    diff: dict[str, str]
    listed: dict[str, str] = field(default_factory=dict)  # field -> reason

    @property
    def unlisted(self) -> dict[str, str]:
        return {k: v for k, v in self.diff.items() if k not in self.listed}


@dataclass
class Report:
    recording: str
    results: list[StepResult]
    skipped: list[tuple[int, str]]

    def summary(self) -> str:
        matched = sum(1 for r in self.results if not r.diff)
        listed = sum(1 for r in self.results if r.diff and not r.unlisted)
        failed = sum(1 for r in self.results if r.unlisted)
        return (
            f"{self.recording}: {len(self.results)} steps compared: {matched} match, "
            f"{listed} differ as docs/fidelity.md lists, {failed} differ unlisted; "
            f"{len(self.skipped)} not compared (instance creation)"
        )

    def stale_rows(self, known: list[Known]) -> list[str]:
        """Rows of docs/fidelity.md for this recording whose differences no longer occur (the
        list must stay true: a row nothing needs is removed)."""
        stale = []
        for row in known:
            if row.recording != self.recording:
                continue
            for step in sorted(row.steps):
                result = next((r for r in self.results if r.step == step), None)
                if result is None or not (row.fields & set(result.diff)):
                    stale.append(f"  step {step}: {', '.join(sorted(row.fields))} ({row.reason[:60]}…)")
        return stale

    def failures(self) -> str:
        lines = []
        for r in self.results:
            for name, text in r.unlisted.items():
                lines.append(f"  step {r.step} {r.request}: {name}: {text}")
        return "\n".join(lines)


#: One summary line per replayed recording, for the run's terminal summary (conftest.py).
SUMMARIES: list[str] = []


class UnstartedOperation(Exception):
    """A recorded poll of an operation the emulator did not start (its request was refused)."""


class Replayer:
    """Replays one recording against a running server (`arm`, trusting `cert`)."""

    def __init__(self, recording: Path, arm: str, cert: Path, storage_uri: str, sas: str):
        self.path = recording
        self.data = json.loads(recording.read_text())
        self.name = recording.name
        self.arm = arm.rstrip("/")
        self.session = requests.Session()
        # Not REQUESTS_CA_BUNDLE (the suite's main server): it would override `verify`.
        self.session.trust_env = False
        self.session.verify = str(cert)
        self.session.headers["Authorization"] = "Bearer replay"
        self.storage_uri = storage_uri
        self.sas = sas
        # Recorded operation id -> the emulator's (Azure-AsyncOperation URL, Location URL).
        self.operations: dict[str, dict[str, str]] = {}
        self.is_cli = self.name.startswith("cli-")

    # -- requests --------------------------------------------------------------------------

    def url_for(self, entry: dict[str, Any]) -> str:
        path = entry["path"]
        if "/locations/" in path:
            recorded_id = path.rstrip("/").rsplit("/", 1)[1]
            kind = path.rstrip("/").split("/")[-2]
            ours = self.operations.get(recorded_id)
            if ours is None:
                raise UnstartedOperation(
                    f"poll of operation {recorded_id}, which no replayed request started"
                )
            header = "Location" if "OperationResults" in kind else "Azure-AsyncOperation"
            url = ours.get(header)
            if url is None:
                raise UnstartedOperation(
                    f"the emulator sent no {header} for the request that started operation "
                    f"{recorded_id}"
                )
            return url
        return f"{self.arm}{path}?api-version={entry['api_version']}"

    def body_for(self, entry: dict[str, Any]) -> Any:
        body = entry["request_body"]
        if not isinstance(body, dict):
            return body
        body = json.loads(json.dumps(body))
        props = body.get("properties")
        if isinstance(props, dict) and "storageContainerUri" in props:
            props["storageContainerUri"] = self.storage_uri
            if "storageContainerSasToken" in props:
                props["storageContainerSasToken"] = self.sas
        return body

    def send(self, entry: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        url = self.url_for(entry)
        body = self.body_for(entry)
        response = self.session.request(
            entry["method"], url, json=body, timeout=60
        )
        headers = {k: v for k, v in response.headers.items()}
        canonical = {k.lower(): k for k in ("Location", "Azure-AsyncOperation", "Retry-After",
                                             "x-ms-failure-cause", "Content-Type")}
        kept = {canonical[k.lower()]: v for k, v in headers.items() if k.lower() in canonical}
        try:
            parsed = response.json() if response.content else None
        except ValueError:
            parsed = response.text
        return response.status_code, kept, parsed

    def remember_operation(self, entry: dict[str, Any], headers: dict[str, str]) -> None:
        for name in LRO_HEADERS:
            url = entry["response_headers"].get(name)
            if not url:
                continue
            recorded_id = urlsplit(url).path.rstrip("/").rsplit("/", 1)[1]
            self.operations.setdefault(recorded_id, {})
            if name in headers:
                self.operations[recorded_id][name] = headers[name]

    def create_instance_if_unrecorded(self) -> None:
        """Create the instance when the transcription left its creation out (the CLI one): a
        PUT with the fields a user sets (`az sql mi create`'s arguments), read from the first
        recorded GET of the instance."""
        instance_put = re.compile(r"/providers/Microsoft\.Sql/managedInstances/[^/]+$")
        entries = self.data["entries"]
        if any(e["method"] == "PUT" and instance_put.search(e["path"]) for e in entries):
            return
        got = next(e for e in entries
                   if e["method"] == "GET" and instance_put.search(e["path"]) and e["status"] == 200)
        recorded = got["response_body"]
        user_set = ("administratorLogin", "subnetId", "vCores", "storageSizeInGB", "licenseType",
                    "collation", "publicDataEndpointEnabled", "timezoneId", "storageAccountType")
        body: dict[str, Any] = {
            "location": recorded["location"],
            "sku": {"name": recorded["sku"]["name"]},
            "properties": {k: v for k, v in recorded["properties"].items() if k in user_set},
        }
        if "identity" in recorded:
            body["identity"] = {"type": recorded["identity"]["type"]}
        response = self.session.put(
            f"{self.arm}{got['path']}?api-version={got['api_version']}", json=body, timeout=30)
        assert response.status_code in (200, 201), response.text

    # -- the run ---------------------------------------------------------------------------

    def run(self, hooks: dict[int, list[Callable[[], None]]], known: list[Known]) -> Report:
        results: list[StepResult] = []
        skipped: list[tuple[int, str]] = []
        for entry in self.data["entries"]:
            step = entry["step"]
            for hook in hooks.get(step, []):
                hook()
            request = f"{entry['method']} {short(entry['path'])} ({entry['api_version']})"
            try:
                status, headers, body = self.send(entry)
            except UnstartedOperation as e:
                results.append(StepResult(step, request, {"request": str(e)}))
                continue
            self.remember_operation(entry, headers)
            if entry.get("skip"):
                skipped.append((step, entry["skip"]))
                continue
            diff = differences(entry, status, headers, body, compare_retry_after=not self.is_cli)
            listed = {
                field: k.reason
                for k in known
                if k.recording == self.name and step in k.steps
                for field in k.fields
                if field in diff
            }
            results.append(StepResult(step, request, diff, listed))
        return Report(self.name, results, skipped)


def short(path: str) -> str:
    """The part of a resource path after `/providers/`."""
    return path.split("/providers/", 1)[-1]


# ---------------------------------------------------------------------------------------------
# Hooks: the states the recordings show, reached deterministically


class Control:
    """What the hooks do to the server of one replay: faults aimed at the recorded database,
    uploads of the stand-in backups, and waits for a state."""

    def __init__(self, replayer: Replayer, database: dict[str, str],
                 upload: Callable[[], None]):
        self.replayer = replayer
        self.database = database  # subscription, resourceGroup, instance, database
        self._upload = upload
        self.faults: dict[str, str] = {}

    def _admin(self, method: str, path: str, body: Any = None) -> Any:
        response = self.replayer.session.request(
            method, f"{self.replayer.arm}{path}", json=body, timeout=30
        )
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def upload(self) -> None:
        self._upload()

    def slow(self) -> None:
        """Hold every restore of the database (shown `Restoring` with its file) and its drop
        until cleared."""
        fault = self._admin("POST", "/admin/faults",
                            {"effect": "slow", "delayMs": 3_600_000, "once": False, **self.database})
        self.faults["slow"] = fault["id"]

    def stall(self) -> None:
        """Hold the job (it keeps listing the folder, restores nothing) until cleared."""
        fault = self._admin("POST", "/admin/faults",
                            {"effect": "stall", "once": False, **self.database})
        self.faults["stall"] = fault["id"]

    def clear(self, kind: str) -> None:
        """Lift the `slow` or `stall` fault injected before."""
        self._admin("DELETE", f"/admin/faults/{self.faults.pop(kind)}")

    def _database_path(self) -> str:
        d = self.database
        return (f"/subscriptions/{d['subscription']}/resourceGroups/{d['resourceGroup']}"
                f"/providers/Microsoft.Sql/managedInstances/{d['instance']}/databases/{d['database']}")

    def details(self) -> dict[str, Any]:
        response = self.replayer.session.get(
            f"{self.replayer.arm}{self._database_path()}/restoreDetails/Default"
            "?api-version=2024-11-01-preview", timeout=30)
        return response.json().get("properties", {}) if response.status_code == 200 else {}

    def wait(self, what: str, probe: Callable[[], Any]) -> None:
        """harness.wait_until, naming the recording."""
        wait_until(f"{self.replayer.name}: {what}", probe, interval=0.1)

    def wait_restoring(self, file: str) -> None:
        self.wait(f"{file} restoring",
                  lambda: self.details().get("currentRestoringFileName") == file
                  and self.details().get("status") == "Restoring")

    def wait_detected(self, files: int) -> None:
        self.wait(f"{files} files detected",
                  lambda: self.details().get("numberOfFilesDetected") == files)

    def wait_online(self) -> None:
        def online() -> bool:
            r = self.replayer.session.get(
                f"{self.replayer.arm}{self._database_path()}?api-version=2024-11-01-preview",
                timeout=30)
            return r.status_code == 200 and r.json()["properties"]["status"] == "Online"
        self.wait("the database online", online)

    def fail(self, code: str) -> None:
        """Fail the migration with a catalogue code (what the container held is not known)."""
        self._admin("POST", "/admin/faults",
                    {"effect": "fail", "code": code, "once": True, **self.database})

    def wait_operations_ended(self) -> None:
        """Every operation of the instance has ended (a drop, a cutover's lag)."""
        d = self.database
        path = (f"/subscriptions/{d['subscription']}/resourceGroups/{d['resourceGroup']}"
                f"/providers/Microsoft.Sql/managedInstances/{d['instance']}/operations"
                "?api-version=2024-11-01-preview")

        def ended() -> bool:
            r = self.replayer.session.get(f"{self.replayer.arm}{path}", timeout=30)
            return r.status_code == 200 and all(
                op["properties"]["state"] != "InProgress" for op in r.json()["value"])
        self.wait("every operation ended", ended)

    def use_database(self, name: str) -> None:
        """Aim the hooks at another database of the recording (tests that use two)."""
        self.database = {**self.database, "database": name}


def copy_as(files: list[Path], names: list[str], folder: Path) -> list[Path]:
    """Copies of `files` under the recorded names, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for source, name in zip(files, names, strict=True):
        target = folder / name
        shutil.copyfile(source, target)
        out.append(target)
    return out


def recorded_database(data: dict[str, Any]) -> dict[str, str]:
    """The subscription, resource group, instance and database the recording's start request
    names."""
    pattern = re.compile(
        r"/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.Sql/"
        r"managedInstances/([^/]+)/databases/([^/]+)$")
    for entry in data["entries"]:
        match = pattern.search(entry["path"])
        if entry["method"] == "PUT" and match:
            sub, rg, mi, db = match.groups()
            return {"subscription": sub, "resourceGroup": rg, "instance": mi, "database": db}
    raise AssertionError("the recording has no database PUT")

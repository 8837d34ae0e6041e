"""Helpers of the real-client suite: the running services (from run.sh's environment), the
`az` CLI, the azure-mgmt-sql client, Azurite uploads, forged backup chains and polling, and
`LrsServer` (re-exported from lrs_server.py, the stdlib-only module the benchmarks use too),
the one Python way to start `lrs serve` (the Rust one is `lrs_testkit::server`).

run.sh starts Azurite and, with `python lrs_server.py serve …`, `lrs serve`, logs `az` in, and
exports where everything is; the other helpers only read that environment. Nothing here prints
a SAS signature or a token: commands shown in assertion messages go through `redact`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from azure.core.credentials import AccessToken
from azure.mgmt.sql import SqlManagementClient
from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas

from lrs_server import LrsServer  # noqa: F401  (re-exported: conftest.py, the tests)

#: Azurite's well-known development account (public, documented by Azurite).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

#: Resource group and managed instance the suite works in (instances exist on first use).
RESOURCE_GROUP = "rg-clients"
INSTANCE = "mi-clients"

#: What `az` exits with (azure-cli: 0 ok, 1 error, 3 resource not found).
AZ_OK, AZ_ERROR, AZ_NOT_FOUND = 0, 1, 3

_SIG = re.compile(r"(sig(?:=|%3[dD]))[^&\s\"']*", re.IGNORECASE)


def redact(text: str) -> str:
    """`text` with every SAS signature value replaced by REDACTED."""
    return _SIG.sub(r"\1REDACTED", text)


@dataclass(frozen=True)
class Services:
    """Where run.sh started everything (read from its environment)."""

    lrs_bin: Path
    arm: str  # https://localhost:PORT (no trailing slash)
    http: str  # http://127.0.0.1:PORT, the plain listener
    cert: Path  # the server's self-signed certificate (trusted via REQUESTS_CA_BUNDLE)
    azurite: str  # http://127.0.0.1:PORT
    subscription: str
    work: Path  # scratch folder for forged chains

    @staticmethod
    def from_env() -> "Services":
        """The services run.sh exported; raises KeyError naming the first missing variable."""
        names = [
            "CLIENTS_LRS_BIN",
            "CLIENTS_ARM",
            "CLIENTS_HTTP",
            "CLIENTS_CERT",
            "CLIENTS_AZURITE",
            "CLIENTS_SUBSCRIPTION",
            "CLIENTS_WORK",
            "CLIENTS_AZ",
            "AZURE_CONFIG_DIR",
            "REQUESTS_CA_BUNDLE",
        ]
        missing = [n for n in names if not os.environ.get(n)]
        if missing:
            raise KeyError(
                f"{', '.join(missing)} not set: run the suite with tests/clients/run.sh "
                "(it starts Azurite and lrs serve and logs az in)"
            )
        return Services(
            lrs_bin=Path(os.environ["CLIENTS_LRS_BIN"]),
            arm=os.environ["CLIENTS_ARM"].rstrip("/"),
            http=os.environ["CLIENTS_HTTP"].rstrip("/"),
            cert=Path(os.environ["CLIENTS_CERT"]),
            azurite=os.environ["CLIENTS_AZURITE"].rstrip("/"),
            subscription=os.environ["CLIENTS_SUBSCRIPTION"],
            work=Path(os.environ["CLIENTS_WORK"]),
        )


def unique(prefix: str) -> str:
    """A database, container or folder name no other test uses."""
    return f"{prefix}{uuid.uuid4().hex[:8]}"


# ---------------------------------------------------------------------------------------------
# az


@dataclass
class AzResult:
    """One finished `az` run."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """stdout parsed as JSON (the commands run with `-o json`)."""
        return json.loads(self.stdout)

    def describe(self) -> str:
        """The command, exit code and output, for assertion messages (signatures redacted)."""
        return redact(
            f"az {' '.join(self.args)}\n-> exit {self.returncode}\n"
            f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        )


def az(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> AzResult:
    """Run the venv's `az` with `-o json` (and --only-show-errors) in run.sh's profile."""
    full = [*args, "-o", "json", "--only-show-errors"]
    exe = os.environ.get("CLIENTS_AZ", "az")
    environment = dict(os.environ)
    environment.update(env or {})
    done = subprocess.run(
        [exe, *full],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return AzResult(full, done.returncode, done.stdout, done.stderr)


def midb(*args: str) -> list[str]:
    """`-g RG --mi MI` plus `args`: every `az sql midb` call of the suite targets one instance."""
    return ["-g", RESOURCE_GROUP, "--mi", INSTANCE, *args]


def assert_az_ok(result: AzResult) -> AzResult:
    """The command exited 0."""
    assert result.returncode == AZ_OK, result.describe()
    return result


def assert_az_http_error(result: AzResult, exit_code: int, code: str, message: str) -> None:
    """az printed the ARM error the way it prints every HttpResponseError (`ERROR: (Code)
    Message` then `Code:` and `Message:` lines) and exited with `exit_code`."""
    assert result.returncode == exit_code, result.describe()
    lines = result.stderr.splitlines()
    assert f"ERROR: ({code}) {message}" in lines, result.describe()
    assert f"Code: {code}" in lines, result.describe()
    assert f"Message: {message}" in lines, result.describe()


def assert_az_cli_error(result: AzResult, message: str) -> None:
    """az refused with its own message (a CLIError: `ERROR: message`, exit 1)."""
    assert result.returncode == AZ_ERROR, result.describe()
    assert f"ERROR: {message}" in result.stderr.splitlines(), result.describe()


# ---------------------------------------------------------------------------------------------
# azure-mgmt-sql


class FakeCredential:
    """A TokenCredential handing out a fixed token (the emulator accepts any)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("fake-token", int(time.time()) + 3600)


def sql_client(services: Services, **kwargs: Any) -> SqlManagementClient:
    """azure-mgmt-sql pointed at the emulator over HTTPS; certificate verification uses
    REQUESTS_CA_BUNDLE (run.sh points it at the server's certificate) unless `kwargs` say
    otherwise. `polling_interval` is only the fallback: the server sends Retry-After."""
    kwargs.setdefault("polling_interval", 1)
    kwargs.setdefault("base_url", services.arm)
    return SqlManagementClient(FakeCredential(), services.subscription, **kwargs)


def error_of(exc: BaseException) -> tuple[int | None, str | None, str | None]:
    """(HTTP status, ARM code, message) of an azure-core HttpResponseError."""
    status = getattr(exc, "status_code", None)
    error = getattr(exc, "error", None)
    return status, getattr(error, "code", None), getattr(error, "message", None)


# ---------------------------------------------------------------------------------------------
# Azurite


class Storage:
    """Containers, uploads and SAS tokens in Azurite's development account."""

    def __init__(self, services: Services):
        self.account_url = f"{services.azurite}/{AZURITE_ACCOUNT}"
        self.service = BlobServiceClient(
            account_url=self.account_url,
            credential={"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY},
        )

    def container(self, name: str | None = None) -> str:
        """Create a fresh container and return its name."""
        name = name or unique("c")
        self.service.create_container(name)
        return name

    def upload(self, container: str, folder: str, files: Iterable[Path]) -> None:
        """Upload `files` (in this order) as `folder/<file name>`."""
        client = self.service.get_container_client(container)
        for path in files:
            with path.open("rb") as data:
                client.upload_blob(f"{folder}/{path.name}", data, overwrite=True)

    def uri(self, container: str, folder: str) -> str:
        """The path-style folder URI LRS is given (storageContainerUri)."""
        return f"{self.account_url}/{container}/{folder}"

    def sas(self, container: str, *, write: bool = False) -> str:
        """A container SAS (the part after the '?'): read+list, plus write if asked."""
        return generate_container_sas(
            AZURITE_ACCOUNT,
            container,
            account_key=AZURITE_KEY,
            permission=ContainerSasPermissions(read=True, list=True, write=write),
            expiry=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=3),
        )


# ---------------------------------------------------------------------------------------------
# Forged chains


@dataclass(frozen=True)
class Chain:
    """A forged backup chain: its files in chain order (what `lrs forge chain` printed)."""

    files: list[Path]

    def named(self, kind: str) -> list[Path]:
        """The files of one kind: 'FULL', 'DIFF' or 'LOG'."""
        return [f for f in self.files if f"_{kind}_" in f.name]

    def names(self, files: Sequence[Path] | None = None) -> list[str]:
        """File names of `files` (default: all)."""
        return [f.name for f in (self.files if files is None else files)]


def forge_chain(
    services: Services,
    db: str,
    *,
    diffs: int,
    logs: int,
    seed: int = 1,
    checksum: bool = True,
    log_files: int = 1,
) -> Chain:
    """Forge a chain of one 4 MiB full, `diffs` differentials and `logs` 1 MiB logs, WITH
    CHECKSUM unless told otherwise, of a database with `log_files` log files."""
    out = services.work / unique(f"{db}-")
    done = subprocess.run(
        [
            str(services.lrs_bin),
            "forge",
            "chain",
            "--db",
            db,
            "--out",
            str(out),
            *(["--checksum"] if checksum else []),
            "--diffs",
            str(diffs),
            "--logs",
            str(logs),
            "--data-size",
            "4MiB",
            "--log-size",
            "1MiB",
            "--seed",
            str(seed),
            "--log-files",
            str(log_files),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, f"lrs forge chain failed:\n{done.stderr}"
    # One line per file, in chain order: "<path>  <size> bytes  <type>  FirstLSN …".
    files = [Path(line.split()[0]) for line in done.stdout.splitlines() if line.strip()]
    assert len(files) == 1 + diffs + logs, done.stdout
    for f in files:
        assert f.is_file(), f"forge listed {f}, which does not exist"
    return Chain(files)


def first_page_offset(path: Path) -> int:
    """File offset of the first data page of a plain backup: the MTF blocks are walked by their
    headers (TAPE, soft filemarks, then each block's streams up to SPAD) to the first MQDA
    stream, whose data starts with 2 filler bytes."""
    data = path.read_bytes()
    soft_filemark = int.from_bytes(data[64:66], "little") * 512
    pos = 0
    while pos + 52 <= len(data):
        tag = data[pos:pos + 4]
        if tag == b"SFMB":
            pos += soft_filemark
            continue
        first = int.from_bytes(data[pos + 8:pos + 10], "little")
        stream = (pos + first + 3) & ~3
        while True:
            stream_tag = data[stream:stream + 4]
            length = int.from_bytes(data[stream + 8:stream + 16], "little")
            if stream_tag == b"MQDA" and length > 2:
                return stream + 22 + 2
            following = (stream + 22 + length + 3) & ~3
            if stream_tag == b"SPAD":
                pos = following
                break
            stream = following
    raise AssertionError(f"{path} has no data pages")


# ---------------------------------------------------------------------------------------------
# Waiting


def wait_until(what: str, probe: Callable[[], Any], timeout: float = 60, interval: float = 0.3) -> Any:
    """Call `probe` until it returns something truthy and return that; fail after `timeout`
    seconds saying what was awaited and what the last probe returned."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


def az_profile(arm: str, cert: Path, config_dir: Path) -> dict[str, str]:
    """Log az in to the emulator at `arm` in a profile of its own (route A of
    docs/references.md#pointing-the-clients-at-the-emulator, as run.sh does for the main server); returns the environment that
    selects that profile and trusts `cert`."""
    env = {"AZURE_CONFIG_DIR": str(config_dir), "REQUESTS_CA_BUNDLE": str(cert)}
    steps = [
        ["config", "set", "core.instance_discovery=false", "core.collect_telemetry=false"],
        ["cloud", "register", "-n", "LrsEmu", "--endpoint-resource-manager", f"{arm}/",
         "--endpoint-active-directory", arm,
         "--endpoint-active-directory-resource-id", "https://management.core.windows.net/",
         "--skip-endpoint-discovery"],
        ["cloud", "set", "-n", "LrsEmu"],
        ["login", "--service-principal", "-u", "22222222-2222-2222-2222-222222222222",
         "-p", "not-a-secret", "--tenant", "00000000-0000-0000-0000-00000000000a"],
    ]
    for step in steps:
        assert_az_ok(az(*step, env=env))
    return env

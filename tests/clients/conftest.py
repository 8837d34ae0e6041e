"""Fixtures of the real-client suite (the services come from run.sh; see harness.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import pytest

from harness import Services, Storage, sql_client


@pytest.fixture(scope="session")
def services() -> Services:
    """The running Azurite and `lrs serve` (fails, naming the variable, outside run.sh)."""
    try:
        return Services.from_env()
    except KeyError as e:
        pytest.fail(str(e.args[0]), pytrace=False)


@pytest.fixture(scope="session")
def storage(services: Services) -> Storage:
    """Azurite's development account."""
    return Storage(services)


@pytest.fixture(scope="session")
def sql(services: Services):
    """azure-mgmt-sql against the emulator, trusting its certificate via REQUESTS_CA_BUNDLE."""
    return sql_client(services)


class SecondServer:
    """Another `lrs serve` with its own data folder and certificate, for tests that need a
    server to themselves (many jobs, other settings)."""

    def __init__(self, services: Services, *args: str):
        self.dir = Path(tempfile.mkdtemp(prefix="lrs-second-", dir=services.work))
        self.stderr_path = self.dir / "serve.log"
        self._stderr = self.stderr_path.open("wb")
        self.process = subprocess.Popen(
            [
                str(services.lrs_bin),
                "serve",
                "--data-dir",
                str(self.dir / "data"),
                "--https",
                "127.0.0.1:0",
                "--retry-after",
                "1",
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            tail = self.log_tail()
            self.stop()
            raise AssertionError(f"lrs serve exited before it was ready:\n{tail}")
        ready = json.loads(line)
        port = ready["https"].rsplit(":", 1)[1]
        self.arm = f"https://localhost:{port}"
        self.cert = Path(ready["cert"])

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's stderr."""
        if not self._stderr.closed:
            self._stderr.flush()
        text = self.stderr_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s) and remove its folder."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._stderr.close()
        if self.process.stdout is not None:
            self.process.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def second_server(services: Services, request: pytest.FixtureRequest) -> Iterator[Callable[..., SecondServer]]:
    """Start servers with `second_server(*extra_args)`; each is stopped after the test (its log
    tail is printed when the test failed)."""
    started: list[SecondServer] = []

    def start(*args: str) -> SecondServer:
        server = SecondServer(services, *args)
        started.append(server)
        return server

    yield start
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for server in started:
        if failed:
            print(f"--- stderr tail of the second lrs serve ---\n{server.log_tail()}")
        server.stop()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (fixtures look at `rep_call`)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def pytest_terminal_summary(terminalreporter) -> None:
    """How many steps of each recording matched (test_replay.py)."""
    from replay import SUMMARIES

    if SUMMARIES:
        terminalreporter.section("recorded traffic replays")
        for line in SUMMARIES:
            terminalreporter.write_line(line)

"""Fixtures of the real-client suite (the services come from run.sh; see harness.py)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import pytest

from harness import LrsServer, Services, Storage, sql_client


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


class SecondServer(LrsServer):
    """Another `lrs serve` (harness.LrsServer) with its own data folder and certificate, for
    tests that need a server to themselves (many jobs, other settings)."""

    def __init__(self, services: Services, *args: str):
        self.dir = Path(tempfile.mkdtemp(prefix="lrs-second-", dir=services.work))
        super().__init__(services.lrs_bin, self.dir / "data", self.dir, "--retry-after", "1", *args)

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        super().stop()
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

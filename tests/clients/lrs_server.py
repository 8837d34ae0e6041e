"""`LrsServer`: the one Python way to start `lrs serve` (the Rust one is `lrs_testkit::server`),
for the client tests (harness.py re-exports it), run.sh (`python lrs_server.py serve …`) and
the benchmarks in bench/ (which put this folder on sys.path).

The real binary on free loopback ports (port 0), waited for as the Rust harness does: the JSON
line `lrs serve` prints once it listens gives its addresses and certificate, then
`GET /healthz` on the plain-HTTP listener must answer 200.

Standard library only, so that scripts without the client-test venv can import it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO, Any, Mapping, Union

#: The listener flags of `lrs serve`; it refuses any of them given twice.
LISTENER_FLAGS = ("--https", "--http", "--no-https")

#: What `listeners=` adds to the command line.
LISTENERS = {
    "https+http": ["--https", "127.0.0.1:0", "--http", "127.0.0.1:0"],
    "http": ["--no-https", "--http", "127.0.0.1:0"],
    "args": [],  # the caller's args choose (they must include a plain-HTTP listener)
}

#: Where the server's stderr goes when there is no log_dir: a path (a file, created or
#: truncated), an open file, subprocess.DEVNULL, or None (this process's stderr).
Stderr = Union[Path, str, IO[Any], int, None]


class LrsServer:
    """`lrs serve --data-dir DATA_DIR <listeners> ARGS…` of the binary `lrs_bin`, started and
    waited for (ready line, then `/healthz`); an AssertionError with the tail of its log when it
    does not come up within `timeout` seconds.

    `listeners`: "https+http" (default: `--https 127.0.0.1:0 --http 127.0.0.1:0`), "http"
    (`--no-https --http 127.0.0.1:0`) or "args" (nothing added: `args` name the listeners).
    Listener flags in `args` with another choice are refused here rather than by `lrs serve`.

    With `log_dir`, stdout goes to `log_dir/serve.json` and stderr to `log_dir/serve.log`
    (files, so the server outlives the Python process that started it, as run.sh needs).
    Without it, the ready line is read from a pipe and stderr goes to `stderr` (see `Stderr`).
    `env` adds to (or overrides) this process's environment, e.g. {"RUST_LOG": "warn"}.

    After start: `http` (http://127.0.0.1:PORT), `http_host`, `http_port`; `arm`
    (https://localhost:PORT, the name the certificate holds) and `cert`, both None without
    HTTPS; `ready` (the whole ready line), `process`, `pid`. Also a context manager (stops the
    server on exit)."""

    def __init__(self, lrs_bin: Path | str, data_dir: Path | str, log_dir: Path | str | None = None,
                 *args: str, listeners: str = "https+http", env: Mapping[str, str] | None = None,
                 stderr: Stderr = None, timeout: float = 60):
        if listeners not in LISTENERS:
            raise ValueError(f"listeners={listeners!r}: one of {', '.join(LISTENERS)}")
        named = [a for a in args if a.split("=", 1)[0] in LISTENER_FLAGS]
        if named and listeners != "args":
            raise ValueError(f"{' '.join(named)} in args: pass listeners='args' to choose the "
                             f"listeners yourself (listeners={listeners!r} adds its own)")
        if log_dir is not None and stderr is not None:
            raise ValueError("stderr= is for servers without log_dir (which has serve.log)")
        command = [str(lrs_bin), "serve", "--data-dir", str(data_dir), *LISTENERS[listeners], *args]
        environment = {**os.environ, **env} if env is not None else None
        self.stdout_path: Path | None = None
        self.stderr_path: Path | None = None
        self._pending = b""
        if log_dir is not None:
            log_dir = Path(log_dir)
            log_dir.mkdir(parents=True, exist_ok=True)
            self.stdout_path = log_dir / "serve.json"
            self.stderr_path = log_dir / "serve.log"
            with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
                self.process = subprocess.Popen(command, stdout=out, stderr=err,
                                                stdin=subprocess.DEVNULL, env=environment)
        elif isinstance(stderr, (str, Path)):
            self.stderr_path = Path(stderr)
            with self.stderr_path.open("wb") as err:
                self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err,
                                                stdin=subprocess.DEVNULL, env=environment)
        else:
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr,
                                            stdin=subprocess.DEVNULL, env=environment)
        try:
            self.ready: dict[str, Any] = self._ready_line(timeout)
            if not self.ready.get("http"):
                raise RuntimeError("no plain-HTTP listener (needed for /healthz)")
            self.http = f"http://{self.ready['http']}"
            host, port = self.ready["http"].rsplit(":", 1)
            self.http_host, self.http_port = host, int(port)
            self.arm: str | None = None
            self.cert: Path | None = None
            if self.ready.get("https"):
                self.arm = f"https://localhost:{self.ready['https'].rsplit(':', 1)[1]}"
                self.cert = Path(self.ready["cert"])
            self._wait_healthy(timeout)
        except Exception as e:
            self.stop()
            tail = self.log_tail()
            raise AssertionError(f"lrs serve did not become ready ({e}):\n{tail}") from None

    @property
    def pid(self) -> int:
        return self.process.pid

    def _first_line(self, deadline: float) -> str | None:
        """The first line of stdout once it is whole, else None (for now)."""
        if self.stdout_path is not None:
            text = self.stdout_path.read_text(errors="replace")
            return text.split("\n", 1)[0] if "\n" in text else None
        fd = self.process.stdout.fileno()
        readable, _, _ = select.select([fd], [], [], max(0.0, min(0.05, deadline - time.monotonic())))
        if readable:
            chunk = os.read(fd, 65536)
            if not chunk:  # stdout closed: the exit shows below
                time.sleep(0.05)
            self._pending += chunk
        if b"\n" in self._pending:
            return self._pending.split(b"\n", 1)[0].decode(errors="replace")
        return None

    def _ready_line(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            line = self._first_line(deadline)
            if line is not None:
                return json.loads(line)
            if self.process.poll() is not None:
                raise RuntimeError(f"lrs serve exited ({self.process.returncode}) before it was ready")
            if time.monotonic() > deadline:
                raise TimeoutError(f"lrs serve printed no ready line within {timeout:.0f} s")
            if self.stdout_path is not None:
                time.sleep(0.025)

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
        while True:
            try:
                with opener.open(f"{self.http}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"lrs serve exited ({self.process.returncode}) before it was healthy")
            if time.monotonic() > deadline:
                raise TimeoutError(f"lrs serve was not healthy within {timeout:.0f} s")
            time.sleep(0.025)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's stderr, when it went to a file."""
        if self.stderr_path is None or not self.stderr_path.is_file():
            return "(stderr not kept in a file)"
        text = self.stderr_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._close_stdout()

    def kill(self) -> None:
        """Kill the server at once (SIGKILL, as a crashed node) and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._close_stdout()

    def _close_stdout(self) -> None:
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> "LrsServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------------------------------------
# Command line (run.sh)

USAGE = "usage: lrs_server.py serve LRS_BIN DATA_DIR LOG_DIR [lrs serve flags…]"


def _serve_main(argv: list[str]) -> int:
    """`python lrs_server.py serve LRS_BIN DATA_DIR LOG_DIR [lrs serve flags…]`: start the
    server (HTTPS and plain HTTP), wait until it is ready and healthy, print
    {"pid", "arm", "http", "cert"} as one JSON line and exit, leaving it running (the caller
    stops it by pid; its stderr is LOG_DIR/serve.log)."""
    if len(argv) < 3:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        server = LrsServer(Path(argv[0]), Path(argv[1]), Path(argv[2]), *argv[3:])
    except (AssertionError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(json.dumps({"pid": server.pid, "arm": server.arm, "http": server.http,
                      "cert": str(server.cert)}))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        sys.exit(_serve_main(sys.argv[2:]))
    print(USAGE, file=sys.stderr)
    sys.exit(2)

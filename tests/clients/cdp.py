"""Headless Chromium driven over the Chrome DevTools Protocol (CDP), for the dashboard test
(test_dashboard.py) and the dashboard benchmark (bench/dashboard.py).

Chromium is Debian's (`apt-get install chromium`, /usr/bin/chromium, or LRS_CHROMIUM=path),
spoken to over a WebSocket with `websocket-client` (in tests/clients/.venv): no browser
download, no driver. No pytest here: a missing Chromium or websocket-client raises
`Unavailable`, which the test turns into a skip (or a failure under CI)."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Sequence

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # the suite runs as root in CI containers
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--window-size=1600,1100",
    "--remote-debugging-port=0",
]


class Unavailable(Exception):
    """Chromium or websocket-client is missing (the message says which and how to get it)."""


def chromium_path() -> str:
    path = os.environ.get("LRS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(path, os.X_OK):
        raise Unavailable(
            "chromium is not installed (Debian: apt-get install chromium; or LRS_CHROMIUM=path)")
    return path


def spki_hash(cert_pem: Path) -> str:
    """base64(sha256(SubjectPublicKeyInfo)) of the certificate, as Chromium's
    --ignore-certificate-errors-spki-list wants it."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    cert = x509.load_pem_x509_certificate(cert_pem.read_bytes())
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 60,
             interval: float = 0.3) -> Any:
    """Call `probe` until it returns something truthy and return that; raise after `timeout`
    seconds saying what was awaited and what the last probe returned."""
    deadline = time.monotonic() + timeout
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


class Page:
    """One page (tab) of a Chromium, driven over its DevTools WebSocket."""

    def __init__(self, target: dict, devtools: str):
        import websocket  # websocket-client

        self.target_id = target["id"]
        self.devtools = devtools  # http://127.0.0.1:port
        self.ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=30,
                                              suppress_origin=True)
        self.ids = itertools.count(1)
        self.errors: list[str] = []  # uncaught exceptions and console errors of the page
        self.send("Runtime.enable")
        self.send("Page.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=1600, height=1100,
                  deviceScaleFactor=1, mobile=False)

    def send(self, method: str, **params: Any) -> dict:
        """A DevTools command's result (events met meanwhile are scanned for page errors)."""
        call_id = next(self.ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == call_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message["result"]
            if message.get("method") == "Runtime.exceptionThrown":
                self.errors.append(json.dumps(message["params"]["exceptionDetails"])[:500])
            elif (message.get("method") == "Runtime.consoleAPICalled"
                  and message["params"]["type"] == "error"):
                self.errors.append(json.dumps(message["params"]["args"])[:500])

    def eval(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        wait_for(f"{url} loaded", lambda: self.eval("document.readyState") == "complete")

    def text(self, selector: str) -> str:
        return self.eval(f"(document.querySelector({json.dumps(selector)}) || {{}}).innerText || ''")

    def click(self, selector: str) -> None:
        """A real mouse click (pressed and released) at the element's centre."""
        box = self.eval(f"""(() => {{
            const e = document.querySelector({json.dumps(selector)});
            if (!e) return null;
            e.scrollIntoView({{block: 'center'}});
            const r = e.getBoundingClientRect();
            return [r.x + r.width / 2, r.y + r.height / 2, e.disabled === true];
        }})()""")
        assert box is not None, f"no element {selector}"
        assert not box[2], f"{selector} is disabled"
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1],
                      button="left", clickCount=1)

    def type_into(self, selector: str, value: str) -> None:
        """Replace the field's text as a user would: focus, select all, type."""
        self.click(selector)
        self.eval(f"document.querySelector({json.dumps(selector)}).select()")
        self.send("Input.insertText", text=value)

    def screenshot(self, path: Path) -> Path:
        """The whole page, not only the viewport."""
        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        data = self.send("Page.captureScreenshot", format="png", clip=clip,
                         captureBeyondViewport=True)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close_tab(self) -> None:
        """Close this tab (the browser stays)."""
        try:
            self.ws.close()
        finally:
            with urllib.request.urlopen(f"{self.devtools}/json/close/{self.target_id}",
                                        timeout=10):
                pass


class Browser(Page):
    """One headless Chromium with a fresh profile; itself its first page. `cert` (a PEM file):
    trust exactly that certificate's key (the emulator's HTTPS listener); `flags`: more
    Chromium switches."""

    def __init__(self, chromium: str, cert: Path | None = None, flags: Sequence[str] = ()):
        try:
            import websocket  # noqa: F401  (websocket-client)
        except ImportError:
            raise Unavailable("the Python package websocket-client is missing from the venv")
        self.profile = Path(tempfile.mkdtemp(prefix="lrs-chromium-"))
        self.log = (self.profile / "chromium.log").open("wb")
        trust = [f"--ignore-certificate-errors-spki-list={spki_hash(cert)}"] if cert else []
        self.process = subprocess.Popen(
            [chromium, *CHROMIUM_FLAGS, *flags, f"--user-data-dir={self.profile / 'profile'}",
             *trust, "about:blank"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        port_file = self.profile / "profile" / "DevToolsActivePort"
        port = wait_for("Chromium's DevTools port", lambda: port_file.is_file()
                        and port_file.read_text().split("\n")[0].strip(), timeout=30)
        devtools = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{devtools}/json/list", timeout=10) as r:
            pages = [t for t in json.load(r) if t["type"] == "page"]
        super().__init__(pages[0], devtools)

    def new_page(self, url: str = "about:blank") -> Page:
        """A new tab showing `url` (not waited for)."""
        request = urllib.request.Request(
            f"{self.devtools}/json/new?{urllib.request.quote(url, safe='')}", method="PUT")
        with urllib.request.urlopen(request, timeout=10) as r:
            return Page(json.load(r), self.devtools)

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.log.close()
            shutil.rmtree(self.profile, ignore_errors=True)

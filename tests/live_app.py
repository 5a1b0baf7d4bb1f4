"""The app as a person meets it: `streamlit run app.py` on a free loopback port, seen by headless chromium.

Shared by tests/test_browser.py and benchmarks/bench_app.py. The browser is Debian's chromium, driven by
Playwright through `executable_path` (never a browser download).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_app(env: dict | None = None, timeout: float = 60.0) -> Iterator[tuple[str, subprocess.Popen]]:
    """Start the app, wait until it answers its health check, yield (base URL, process); stop it afterwards.

    The server's output goes to a temporary file (a pipe nobody reads would fill up and stall it) and is
    shown if the server does not come up.
    """
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=REPO, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT)
        try:
            t_end = time.monotonic() + timeout
            while True:
                try:
                    with urllib.request.urlopen(base + "/_stcore/health", timeout=1):
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > t_end:
                        out.seek(0)
                        raise RuntimeError("streamlit did not start:\n" + out.read().decode()[-3000:]) from None
                    time.sleep(0.1)
            yield base, proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

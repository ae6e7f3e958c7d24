"""The simulator as a user runs it: its command line, in a process of its own."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

KEY = "simulated-browser-key"


@contextmanager
def running_simulator(folder: Path, *arguments: str) -> Iterator[tuple[str, str, str]]:
    """Yields (base_url, ca_file, api_key) of a simulator listening on a free port;
    `arguments` are more of its command line (faults: `--go-away-after`, ...)."""
    log_path = folder / "simulator.log"
    command = [
        sys.executable, "-u", "-m", "jupyter_gemini_live.simulator",
        "--self-signed", str(folder / "tls"), "--api-key", KEY, *arguments,
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        url, ca_file = _announced(process, log_path)
        yield url, ca_file, KEY
    finally:
        process.terminate()
        process.wait(10)


def _announced(process: subprocess.Popen[bytes], log_path: Path) -> tuple[str, str]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        url = re.search(r"listening on (https://\S+)", text)
        ca = re.search(r"CA certificate: (\S+)", text)
        if url and ca:
            return url.group(1), ca.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"the simulator did not start:\n{log_path.read_text()}")

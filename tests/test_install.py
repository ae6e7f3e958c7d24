"""After `pip install .`, Jupyter sees both halves enabled and healthy."""

from __future__ import annotations

import subprocess
import sys


def jupyter(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "jupyter", *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_server_extension_is_enabled_and_loads() -> None:
    listing = jupyter("server", "extension", "list")
    lines = [line for line in listing.splitlines() if "jupyter_gemini_live" in line]
    assert any("enabled" in line for line in lines), listing
    assert any("OK" in line for line in lines), listing


def test_lab_extension_is_installed_and_enabled() -> None:
    listing = jupyter("labextension", "list")
    lines = [line for line in listing.splitlines() if "jupyter-gemini-live" in line]
    assert lines, listing
    assert "enabled" in lines[0]
    assert "OK" in lines[0]

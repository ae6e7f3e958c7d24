"""The server package's shape: every module imports on its own, and the handlers do not
import each other (the REST routes and the websocket share only handler_base)."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
SERVER_MODULES = [
    "protocol",
    "session",
    "manager",
    "handler_base",
    "routes",
    "websocket",
    "app",
    "outbox",
    "transcript",
    "recording",
    "session_options",
    "vad",
    "backends.base",
]


_PROBE = """
import importlib, json, sys
loaded = {}
for module in sys.argv[1:]:
    # Forget the package (not its dependencies): each module is imported first, alone.
    for name in [m for m in sys.modules if m.startswith("jupyter_gemini_live")]:
        del sys.modules[name]
    importlib.import_module("jupyter_gemini_live." + module)
    loaded[module] = sorted(m for m in sys.modules if m.startswith("jupyter_gemini_live"))
print(json.dumps(loaded))
"""


@functools.cache
def _probe() -> dict[str, set[str]]:
    """The package's modules loaded by importing each module first, in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *SERVER_MODULES, "client"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return {module: set(names) for module, names in json.loads(done.stdout).items()}


def imported_after(module: str) -> set[str]:
    return _probe()[module]


@pytest.mark.parametrize("module", SERVER_MODULES)
def test_each_server_module_imports_alone(module: str) -> None:
    assert f"jupyter_gemini_live.{module}" in imported_after(module)


def test_routes_and_websocket_do_not_import_each_other() -> None:
    assert "jupyter_gemini_live.websocket" not in imported_after("routes")
    assert "jupyter_gemini_live.routes" not in imported_after("websocket")


def test_the_protocol_module_depends_on_nothing_of_the_package() -> None:
    assert imported_after("protocol") == {"jupyter_gemini_live", "jupyter_gemini_live.protocol"}


def test_the_client_does_not_load_the_server() -> None:
    loaded = imported_after("client")
    assert not loaded & {
        f"jupyter_gemini_live.{m}" for m in ("session", "manager", "routes", "websocket", "app")
    }

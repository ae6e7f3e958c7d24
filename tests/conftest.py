"""Fixtures shared by every test: a Jupyter server with the extension, and no real key."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from scripted import ScriptedBackend
from stream_client import Stream

pytest_plugins = ["pytest_jupyter.jupyter_server", "simulated_service", "jupyter_process"]


@pytest.fixture(autouse=True)
def _no_real_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing in a test may reach Google, so no key from the environment is ever used."""
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)


@pytest.fixture
def gemini_live_config() -> dict[str, Any]:
    """Override in a test module to change `c.GeminiLive.*`."""
    return {}


@pytest.fixture
def jp_server_config(tmp_path: Path, gemini_live_config: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {
        "idle_timeout": 0,
        "reconnect_grace": 1.0,
        "record_dir": str(tmp_path / "recordings"),
        # the in-process server shares its event loop with the test's own work (hypothesis,
        # numpy): its lag and busy share are not the server's load, so no shedding unless a
        # test asks
        "shed_loop_lag_ms": 0,
        "shed_loop_busy": 0,
    }
    config.update(gemini_live_config)
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_gemini_live": True},
            "allow_unauthenticated_access": False,
        },
        "GeminiLive": config,
    }


@pytest.fixture
def api(jp_fetch: Any) -> Any:
    """`await api("POST", "sessions", body)` → (status, JSON or None), never raising on 4xx."""

    async def call(method: str, *path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        if body is not None and not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        if method == "POST" and body is None:
            body = "{}"
        response = await jp_fetch(
            "gemini-live", "api", *path, method=method, body=body, raise_error=False, **kwargs
        )
        if "json" not in response.headers.get("Content-Type", ""):
            return response.code, response.body
        return response.code, json.loads(response.body) if response.body else None

    return call


@pytest.fixture
def open_stream(jp_ws_fetch: Any) -> Any:
    async def connect(session_id: str, **params: str) -> Stream:
        ws = await jp_ws_fetch(
            "gemini-live", "api", "sessions", session_id, "stream", params=params
        )
        return Stream(ws)

    return connect


@pytest.fixture
def scripted(jp_serverapp: Any) -> ScriptedBackend:
    """The backend "scripted": a test plays the model (tests/scripted.py)."""
    backend = ScriptedBackend()
    manager = jp_serverapp.web_app.settings["gemini_live_sessions"]
    manager.backends[backend.name] = backend
    allowed = manager.defaults.backends | {backend.name}
    manager.defaults = dataclasses.replace(manager.defaults, backends=allowed)
    return backend

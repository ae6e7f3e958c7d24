"""Fixtures shared by every test: a Jupyter server with the extension, and no real key."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from scripted import ScriptedBackend
from speech import frames

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
    }
    config.update(gemini_live_config)
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_gemini_live": True},
            "allow_unauthenticated_access": False,
        },
        "GeminiLive": config,
    }


class Stream:
    """A test client of the stream websocket: JSON events in order, model audio gathered."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self.audio = bytearray()
        self.closed = False

    async def send_json(self, message: dict[str, Any]) -> None:
        await self.ws.write_message(json.dumps(message))

    async def send_audio(self, pcm: bytes) -> None:
        await self.ws.write_message(pcm, binary=True)

    async def talk(self, pcm: bytes, realtime: bool = True) -> None:
        """Send PCM as 20 ms frames, at real-time pace unless told otherwise."""
        for frame in frames(pcm):
            await self.send_audio(frame)
            await asyncio.sleep(0.02 if realtime else 0)

    async def next(self, timeout: float = 10.0) -> dict[str, Any] | None:
        """The next JSON event (None when the socket closed); audio is gathered on the way."""
        while True:
            message = await asyncio.wait_for(self.ws.read_message(), timeout)
            if message is None:
                self.closed = True
                return None
            if isinstance(message, bytes):
                self.audio += message
                continue
            event: dict[str, Any] = json.loads(message)
            self.events.append(event)
            return event

    async def until(self, kind: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        """Read until an event of `kind` (with the given field values) arrives."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            event = await self.next(max(0.01, left))
            if event is None:
                raise AssertionError(f"socket closed before {kind}; events: {self.events}")
            if event["type"] == kind and all(event.get(k) == v for k, v in match.items()):
                return event

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["type"] == kind]


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

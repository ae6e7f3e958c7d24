"""Session life: grace after a device leaves, idle timeout, upstream failures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from waiting import until_true

from jupyter_gemini_live.backends.base import (
    Backend,
    BackendError,
    BackendUnavailable,
    ErrorEvent,
    Event,
    SessionOptions,
    Upstream,
)


async def state_of(api: Any, session_id: str) -> str:
    code, session = await api("GET", "sessions", session_id)
    return str(session["state"]) if code == 200 else f"HTTP {code}"


async def state_once_ended(api: Any, session_id: str, timeout: float = 10.0) -> str:
    """The state of the session once it has ended (or whatever it is after `timeout`)."""

    async def ended() -> bool:
        return await state_of(api, session_id) in ("closed", "error")

    await until_true(ended, f"session {session_id} ended", timeout)
    return await state_of(api, session_id)


async def device_gone(manager: Any, session_id: str) -> float:
    """Wait until the server saw the device leave; when it did (monotonic)."""
    session = manager.get(session_id)
    await until_true(lambda: session.device_left_at is not None, "the device left")
    left: float = session.device_left_at
    return left


async def test_session_closes_when_its_device_stays_away(
    api: Any, open_stream: Any, jp_serverapp: Any
) -> None:
    manager = jp_serverapp.web_app.settings["gemini_live_sessions"]
    _, session = await api("POST", "sessions")
    stream = await open_stream(session["id"])
    await stream.until("ready")
    stream.ws.close()
    await device_gone(manager, session["id"])
    assert await state_of(api, session["id"]) == "live"  # within the 1 s grace
    assert await state_once_ended(api, session["id"]) == "closed"


async def test_a_device_that_comes_back_in_time_keeps_the_session(
    api: Any, open_stream: Any, jp_serverapp: Any
) -> None:
    manager = jp_serverapp.web_app.settings["gemini_live_sessions"]
    _, session = await api("POST", "sessions")
    first = await open_stream(session["id"])
    await first.until("ready")
    first.ws.close()
    left = await device_gone(manager, session["id"])
    second = await open_stream(session["id"])
    await second.until("ready")
    # Past the moment the grace would have run out, the reaper spares the session.
    await asyncio.sleep(max(0.0, left + manager.reconnect_grace - time.monotonic()))
    await manager.reap()
    assert await state_of(api, session["id"]) == "live"


@pytest.mark.parametrize("gemini_live_config", [{"idle_timeout": 0.5}])
async def test_idle_session_is_closed(api: Any, gemini_live_config: Any) -> None:
    _, session = await api("POST", "sessions")
    assert await state_once_ended(api, session["id"]) == "closed"
    _code, listed = await api("GET", "sessions")
    assert [s["state"] for s in listed] == ["closed"]  # kept so its transcript can be read


class BrokenUpstream(Upstream):
    """Says one fatal thing, then is over."""

    def __init__(self) -> None:
        self.closed = False
        #: set by the test once its client is connected: then the fatal error comes
        self.go = asyncio.Event()

    async def send_audio(self, pcm: bytes) -> None: ...
    async def send_text(self, text: str) -> None: ...
    async def activity_start(self) -> None: ...
    async def activity_end(self) -> None: ...
    async def audio_stream_end(self) -> None: ...
    async def send_image(self, mime_type: str, data: bytes) -> None: ...
    async def send_tool_response(
        self, c: str, n: str, r: Mapping[str, Any], s: str | None = None, i: Any = ()
    ) -> None: ...

    async def events(self) -> AsyncIterator[Event]:
        await self.go.wait()
        yield ErrorEvent("model_refused", "model 'x' is not supported; pick another", fatal=True)

    async def close(self) -> None:
        self.closed = True


class BrokenBackend(Backend):
    name = "broken"

    def __init__(self, refuse: bool | str) -> None:
        self.refuse = refuse
        self.upstream = BrokenUpstream()

    async def connect(self, options: SessionOptions) -> Upstream:
        if self.refuse == "crash":
            raise RuntimeError("socket exploded")
        if self.refuse:
            raise BackendError("bad_key", "the API key was refused; check GOOGLE_API_KEY")
        return self.upstream


async def test_fatal_upstream_error_reaches_the_device_and_ends_the_session(
    api: Any, open_stream: Any, jp_serverapp: Any
) -> None:
    manager = jp_serverapp.web_app.settings["gemini_live_sessions"]
    backend = BrokenBackend(refuse=False)
    manager.backends["echo"] = backend
    _, session = await api("POST", "sessions")
    stream = await open_stream(session["id"])
    await stream.until("ready")
    backend.upstream.go.set()
    error = await stream.until("error")
    assert error == {
        "type": "error",
        "code": "model_refused",
        "message": "model 'x' is not supported; pick another",
        "fatal": True,
    }
    assert (await stream.until("state"))["state"] == "error"
    assert await stream.next() is None  # the socket closes after the error, for good:
    assert stream.ws.close_code == 4002  # an application code, which clients do not retry
    assert "not supported" in (stream.ws.close_reason or "")
    _, ended = await api("GET", "sessions", session["id"])
    assert ended["state"] == "error"
    assert "not supported" in ended["error"]
    assert backend.upstream.closed


async def test_refused_connect_is_an_http_error_with_the_reason(
    api: Any, jp_serverapp: Any
) -> None:
    manager = jp_serverapp.web_app.settings["gemini_live_sessions"]
    manager.backends["echo"] = BrokenBackend(refuse=True)
    code, error = await api("POST", "sessions")
    assert code == 502
    assert "API key was refused" in error["message"]
    assert (await api("GET", "sessions"))[1] == []


async def test_a_crashing_backend_is_a_502_and_leaves_no_session(
    api: Any, jp_serverapp: Any
) -> None:
    manager = jp_serverapp.web_app.settings["gemini_live_sessions"]
    manager.backends["echo"] = BrokenBackend(refuse="crash")
    code, error = await api("POST", "sessions")
    assert code == 502
    assert error["message"] == "could not open the conversation: socket exploded"
    assert (await api("GET", "sessions"))[1] == []


@pytest.mark.parametrize("gemini_live_config", [{"max_sessions": 1}])
async def test_a_recorder_that_cannot_open_leaves_no_session(
    api: Any, monkeypatch: pytest.MonkeyPatch, gemini_live_config: Any
) -> None:
    async def unwritable(self: Any) -> None:
        raise BackendUnavailable("record_dir_unwritable", "record_dir: cannot write there")

    monkeypatch.setattr("jupyter_gemini_live.session.Recorder.open", unwritable)
    code, error = await api("POST", "sessions", body={"record": True})
    assert code == 503
    assert error["message"] == "record_dir: cannot write there"
    assert (await api("GET", "sessions"))[1] == []
    code, _ = await api("POST", "sessions")  # the slot was freed
    assert code == 201


@pytest.mark.parametrize("gemini_live_config", [{"max_sessions": 1}])
async def test_a_recorder_that_crashes_leaves_no_session(
    api: Any, monkeypatch: pytest.MonkeyPatch, gemini_live_config: Any
) -> None:
    async def broken(self: Any) -> None:
        raise PermissionError("/nope")

    monkeypatch.setattr("jupyter_gemini_live.session.Recorder.open", broken)
    code, error = await api("POST", "sessions", body={"record": True})
    assert code == 502
    assert "/nope" in error["message"]
    assert (await api("GET", "sessions"))[1] == []
    code, _ = await api("POST", "sessions")
    assert code == 201


@pytest.mark.parametrize("gemini_live_config", [{"max_sessions": 30}])
async def test_a_listing_of_many_sessions_lets_audio_through_meanwhile(
    api: Any, jp_serverapp: Any, gemini_live_config: Any
) -> None:
    """Open panels poll the listing: described all in one turn of the event loop, 50
    sessions held every session's audio 3-5 ms. Other tasks run at least once per ten
    sessions described."""
    created = [(await api("POST", "sessions"))[1]["id"] for _ in range(30)]
    manager = jp_serverapp.web_app.settings["gemini_live_sessions"]
    turns = 0

    async def count_turns() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    counting = asyncio.ensure_future(count_turns())
    await asyncio.sleep(0)
    before = turns
    listed = await manager.listing()
    counting.cancel()
    assert [s["id"] for s in listed] == created
    assert turns - before >= 3, "other tasks did not run during the listing"
    code, body = await api("GET", "sessions")
    assert code == 200
    assert [s["id"] for s in body] == created

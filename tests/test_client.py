"""The kernel's client against the in-process server (echo backend).

The server runs in the test's event loop, so the blocking client runs on a thread
(`asyncio.to_thread`) while the loop keeps serving.
"""

from __future__ import annotations

import asyncio
import json
import threading
import wave
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
import soxr
from speech import silence, speech

from jupyter_gemini_live.client import (
    LiveError,
    LiveServer,
    ServerAddress,
    ServerNotFound,
    connect,
    discovery,
)

run = asyncio.to_thread


@pytest.fixture
def server_url(http_server: Any, jp_http_port: int, jp_base_url: str) -> str:
    """`http_server` is what listens on the port (the fixture `jp_fetch` uses too)."""
    return f"http://localhost:{jp_http_port}{jp_base_url}"


@pytest.fixture
def token(jp_serverapp: Any) -> str:
    return str(jp_serverapp.identity_provider.token)


@pytest.fixture
def live(server_url: str, token: str) -> LiveServer:
    return LiveServer(ServerAddress(server_url, token))


def client_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("gemini-live-")]


async def test_say_returns_the_reply_of_that_turn(live: LiveServer) -> None:
    session = await run(live.start, backend="echo")
    try:
        assert session.state == "live"
        assert await run(session.say, "hello there") == "You said: hello there"
        assert await run(session.say, "and again") == "You said: and again"
        transcript = await run(session.transcript)
        assert [(e["role"], e["turn"], e["text"]) for e in transcript] == [
            ("user", 1, "hello there"),
            ("model", 1, "You said: hello there"),
            ("user", 2, "and again"),
            ("model", 2, "You said: and again"),
        ]
    finally:
        await run(session.stop)


async def test_say_without_waiting_then_wait_turn(live: LiveServer) -> None:
    session = await run(live.start)
    try:
        assert await run(session.say, "later", wait=False) is None
        turn = await run(session.wait_turn)
        assert (turn.turn, turn.user, turn.model) == (1, "later", "You said: later")
        assert turn.complete
        assert not turn.interrupted
    finally:
        await run(session.stop)


async def test_events_carry_the_stream(live: LiveServer) -> None:
    session = await run(live.start)
    try:
        await run(session.say, "events please")
        kinds = []
        while kinds[-1:] != ["turn_complete"]:
            event = await run(session.events.get, 5.0)
            assert event is not None
            kinds.append(event["type"])
        assert "transcript" in kinds
    finally:
        await run(session.stop)
    # the stream has closed: iteration ends
    assert [e["type"] for e in session.events][-1:] == ["state"]


def get_weather(city: str, unit: str = "celsius") -> dict[str, Any]:
    """The weather in a city."""
    calls.append((city, unit))
    return {"city": city, "temperature": 21, "unit": unit}


calls: list[tuple[str, str]] = []


async def test_tool_calls_are_answered_by_python_functions(live: LiveServer, api: Any) -> None:
    calls.clear()
    session = await run(live.start, tools=[get_weather])
    try:
        reply = await run(session.say, 'call get_weather {"city": "Paris"}')
        assert calls == [("Paris", "celsius")]
        expected = {"result": {"city": "Paris", "temperature": 21, "unit": "celsius"}}
        assert reply == f"get_weather returned {json.dumps(expected, sort_keys=True)}"
        turn = await run(session.wait_turn, 1)
        assert [(c.name, c.args, c.response) for c in turn.tool_calls] == [
            ("get_weather", {"city": "Paris"}, expected)
        ]
    finally:
        await run(session.stop)


def flaky(n: int) -> int:
    """Always fails."""
    raise RuntimeError(f"no luck with {n}")


async def test_a_tool_that_raises_is_answered_with_an_error(live: LiveServer) -> None:
    session = await run(live.start, tools=[flaky])
    try:
        reply = await run(session.say, 'call flaky {"n": "7"}')
        assert json.loads(reply.removeprefix("flaky returned ")) == {
            "error": "flaky raised RuntimeError: no luck with 7"
        }
        reply = await run(session.say, 'call flaky {"n": "seven"}')
        assert "expected an integer" in json.loads(reply.removeprefix("flaky returned "))["error"]
    finally:
        await run(session.stop)


async def test_a_slow_tool_times_out_and_the_stream_keeps_going(live: LiveServer) -> None:
    release = threading.Event()

    def slow() -> str:
        """Takes its time."""
        release.wait(10)
        return "late"

    session = await run(live.start, tools=[slow], tool_timeout=0.2)
    try:
        reply = await run(session.say, "call slow {}")
        assert json.loads(reply.removeprefix("slow returned ")) == {
            "error": "slow did not finish within 0.2 s"
        }
        assert await run(session.say, "still there?") == "You said: still there?"
    finally:
        release.set()
        await run(session.stop)


def write_wav(path: Path, pcm16k: bytes, rate: int, channels: int) -> None:
    samples = np.frombuffer(pcm16k, "<i2").astype(np.float64)
    resampled = soxr.resample(samples, 16000, rate)
    interleaved = np.repeat(resampled[:, None], channels, axis=1)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.round(interleaved).astype("<i2").tobytes())


async def test_a_wav_file_is_spoken_into_the_session(live: LiveServer, tmp_path: Path) -> None:
    spoken = 1.2
    path = tmp_path / "question.wav"
    write_wav(path, speech(spoken) + silence(0.8), rate=44100, channels=2)
    session = await run(live.start)
    try:
        reply = await run(session.send_audio_file, path, realtime=False)
        assert reply == "Echo of 1.2 s of speech"
        info = await run(session.info)
        assert info["stats"]["audio_in_ms"] == pytest.approx(2000, abs=25)
        assert info["stats"]["audio_out_ms"] == pytest.approx(spoken * 1000, abs=100)
        assert info["device_connected"] is False  # the file's device left after the reply
    finally:
        await run(session.stop)


async def test_a_wav_file_is_refused_while_the_panel_holds_the_microphone(
    live: LiveServer, open_stream: Any, tmp_path: Path
) -> None:
    path = tmp_path / "q.wav"
    write_wav(path, speech(0.3), rate=16000, channels=1)
    session = await run(live.start)
    try:
        panel = await open_stream(session.id)
        await panel.until("ready")
        with pytest.raises(LiveError, match="a Gemini Live panel holds its microphone"):
            await run(session.send_audio_file, path)
        await panel.send_json({"type": "ping"})
        await panel.until("pong")  # the panel was left alone
    finally:
        await run(session.stop)


async def test_server_errors_carry_the_servers_message(live: LiveServer) -> None:
    with pytest.raises(LiveError) as err:
        await run(live.start, voice="Robot")
    assert err.value.status == 400
    assert err.value.message.startswith("voice: 'Robot' is not one of")

    missing = "0f6b6a2e-0000-4000-8000-000000000000"
    with pytest.raises(LiveError, match=f"unknown session {missing}") as err:
        await run(live.attach, missing)
    assert err.value.status == 404


async def test_stop_closes_the_session_and_the_threads(live: LiveServer) -> None:
    session = await run(live.start)
    await run(session.stop)
    sessions = await run(live.sessions)
    assert session.id not in [s["id"] for s in sessions]
    assert not [name for name in client_threads() if session.id in name]
    with pytest.raises(LiveError) as err:
        await run(session.say, "anyone?")
    assert err.value.status == 404
    await run(session.stop)  # twice is fine


async def test_context_manager_stops(live: LiveServer) -> None:
    def conversation() -> str:
        with live.start() as session:
            session.say("hi")
            return session.id

    session_id = await run(conversation)
    assert session_id not in [s["id"] for s in await run(live.sessions)]


async def test_attach_picks_the_session_the_panel_talks_in(
    live: LiveServer, api: Any, open_stream: Any
) -> None:
    code, created = await api("POST", "sessions", body={})
    assert code == 201
    panel = await open_stream(created["id"])
    await panel.until("ready")
    session = await run(live.attach)
    try:
        assert session.id == created["id"]
        assert await run(session.say, "from the kernel") == "You said: from the kernel"
        assert (await panel.until("turn_complete"))["turn"] == 1
    finally:
        await run(session.close)
    _, after = await api("GET", "sessions", created["id"])
    assert after["state"] == "live"  # close() leaves the panel's conversation running


async def test_a_wrong_token_is_told(server_url: str) -> None:
    with pytest.raises(LiveError) as err:
        await run(connect, server_url, "not-the-token")
    assert err.value.status == 403


# ---- discovery --------------------------------------------------------------------


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (discovery.URL_ENV, discovery.TOKEN_ENV, discovery.PARENT_ENV):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("no_env")
async def test_connect_finds_the_server_of_this_kernel(
    monkeypatch: pytest.MonkeyPatch,
    server_url: str,
    jp_serverapp: Any,
    jp_http_port: int,
    token: str,
) -> None:
    servers = [
        {"pid": 1, "url": "http://localhost:1/", "base_url": "/", "token": "other"},
        {
            "pid": 4242,
            "url": f"http://0.0.0.0:{jp_http_port}{jp_serverapp.base_url}",
            "base_url": jp_serverapp.base_url,
            "token": token,
        },
    ]
    monkeypatch.setattr(discovery, "_running_servers", lambda: servers)
    monkeypatch.setenv(discovery.PARENT_ENV, "4242")
    live = await run(connect)
    assert live.url == f"http://127.0.0.1:{jp_http_port}{jp_serverapp.base_url}"
    assert "echo" in (await run(live.status))["backends"]
    assert token not in repr(live.address)


@pytest.mark.usefixtures("no_env")
def test_environment_overrides_discovery(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(discovery.URL_ENV, "https://hub.example/user/ada")
    monkeypatch.setenv(discovery.TOKEN_ENV, "t0k")
    assert discovery.find_server() == ServerAddress("https://hub.example/user/ada/", "t0k")
    assert discovery.find_server(token="") == ServerAddress("https://hub.example/user/ada/", "")


@pytest.mark.usefixtures("no_env")
def test_no_server_says_what_to_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discovery, "_running_servers", list)
    with pytest.raises(ServerNotFound) as err:
        discovery.find_server()
    assert "JPY_PARENT_PID is not set" in str(err.value)
    assert "connect(url=" in str(err.value)
    assert "JUPYTER_GEMINI_LIVE_URL" in str(err.value)

    monkeypatch.setenv(discovery.PARENT_ENV, "999999")
    with pytest.raises(ServerNotFound, match="no running Jupyter server has the pid 999999"):
        discovery.find_server()


@pytest.mark.usefixtures("no_env")
def test_a_unix_socket_server_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    servers = [{"pid": 7, "url": "http+unix://%2Ftmp%2Fjp.sock/", "sock": "/tmp/jp.sock"}]
    monkeypatch.setattr(discovery, "_running_servers", lambda: servers)
    monkeypatch.setenv(discovery.PARENT_ENV, "7")
    with pytest.raises(ServerNotFound, match="cannot reach"):
        discovery.find_server()


def test_the_observer_files_what_it_hears_in_the_servers_turn() -> None:
    """The kernel never counts turns: tool calls and completions go where the event says."""
    from jupyter_gemini_live.client.observer import Observer
    from jupyter_gemini_live.client.rest import Rest
    from jupyter_gemini_live.client.tools import Toolbox

    observer = Observer(cast(Rest, None), "s", Toolbox([]), 1.0)
    observer._on_event({"type": "tool_call", "id": "c", "name": "f", "args": {}, "turn": 3})
    observer._on_event({"type": "transcript", "role": "model", "text": "ok", "turn": 3,
                        "final": True, "interrupted": False})  # fmt: skip
    observer._on_event({"type": "turn_complete", "turn": 3})
    assert observer.current_turn() == 4
    reply = observer.wait_turn(3, timeout=0)
    assert [call.id for call in reply.tool_calls] == ["c"]
    assert reply.model == "ok"

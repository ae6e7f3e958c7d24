"""The session's rules, whatever the backend: what clients receive when the model is
interrupted, when the user's words become final, what a cancelled tool call accepts, and
how playback is counted.

A scripted upstream plays the model: the test hands it bursts of events and reads what a
device receives on the stream websocket and what the REST API says.
"""

from __future__ import annotations

from typing import Any

import pytest
from scripted import ScriptedBackend, ScriptedUpstream

from jupyter_gemini_live.backends.base import (
    AudioEvent,
    InterruptedEvent,
    ToolCallCancelledEvent,
    ToolCallEvent,
    TranscriptEvent,
    TurnCompleteEvent,
    UsageEvent,
)

#: 100 ms of model audio (24 kHz s16le), each chunk recognisable by its byte value
CHUNK = 24000 * 2 // 10


def audio(mark: int) -> bytes:
    return bytes([mark]) * CHUNK


async def conversation(scripted: ScriptedBackend, api: Any) -> tuple[str, ScriptedUpstream]:
    """A session on the scripted backend: (its id, the upstream playing the model)."""
    code, session = await api("POST", "sessions", body={"backend": "scripted"})
    assert code == 201, session
    return str(session["id"]), scripted.upstreams[-1]


async def device(open_stream: Any, session_id: str) -> Any:
    stream = await open_stream(session_id)
    await stream.until("ready")
    return stream


def transcripts(stream: Any, role: str) -> list[tuple[str, int, bool]]:
    return [
        (e["text"], e["turn"], e["final"]) for e in stream.of("transcript") if e["role"] == role
    ]


# ---- interruptions ------------------------------------------------------------------


async def test_audio_still_queued_for_a_client_is_dropped_on_interrupt(
    scripted: ScriptedBackend,
    open_stream: Any,
    api: Any,
    jp_serverapp: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Audio the model sent just before it was interrupted, not yet written to the device
    (its socket had not taken what came before), is not played: the device receives
    `interrupted` and no audio of that turn."""
    session_id, upstream = await conversation(scripted, api)
    stream = await device(open_stream, session_id)
    (client,) = jp_serverapp.web_app.settings["gemini_live_sessions"].get(session_id).clients()
    socket = client.ws_connection.stream
    monkeypatch.setattr(socket, "writing", lambda: True)  # the device reads slowly
    upstream.say(*(AudioEvent(audio(1)) for _ in range(10)), InterruptedEvent())
    await stream.until("interrupted", turn=1)
    monkeypatch.undo()  # the device reads again
    assert bytes(stream.audio) == b"", f"{len(stream.audio)} bytes of the interrupted turn"
    upstream.say(TurnCompleteEvent())
    await stream.until("turn_complete", turn=1)
    assert bytes(stream.audio) == b""

    upstream.say(AudioEvent(audio(2)), TurnCompleteEvent())  # the next turn is heard
    await stream.until("turn_complete", turn=2)
    assert bytes(stream.audio) == audio(2)


async def test_no_audio_nor_words_of_an_interrupted_turn_follow_the_interrupt(
    scripted: ScriptedBackend, open_stream: Any, api: Any
) -> None:
    """An upstream that keeps sending after `interrupted`: the session stops it."""
    session_id, upstream = await conversation(scripted, api)
    stream = await device(open_stream, session_id)
    upstream.say(TranscriptEvent("user", "tell me a story"))
    upstream.say(AudioEvent(audio(1)), TranscriptEvent("model", "Once upon"))
    await stream.until("transcript", role="model")
    assert bytes(stream.audio) == audio(1)  # heard before the interrupt

    upstream.say(InterruptedEvent())
    await stream.until("interrupted", turn=1)
    upstream.say(AudioEvent(audio(9)), TranscriptEvent("model", " a time"))
    upstream.say(AudioEvent(audio(9)), TurnCompleteEvent())
    await stream.until("turn_complete", turn=1)
    assert bytes(stream.audio) == audio(1), "audio of the interrupted turn followed"
    assert transcripts(stream, "model")[-1] == ("Once upon", 1, True)

    upstream.say(AudioEvent(audio(2)), TranscriptEvent("model", "Yes?"), TurnCompleteEvent())
    await stream.until("turn_complete", turn=2)
    assert bytes(stream.audio) == audio(1) + audio(2)

    _, session = await api("GET", "sessions", session_id)
    assert session["stats"]["interruptions"] == 1
    assert session["stats"]["audio_out_ms"] == 200
    _, transcript = await api("GET", "sessions", session_id, "transcript")
    model_rows = [
        (e["text"], e["turn"], e["interrupted"]) for e in transcript if e["role"] == "model"
    ]
    assert model_rows == [("Once upon", 1, True), ("Yes?", 2, False)]


# ---- transcript finality ---------------------------------------------------------------


@pytest.mark.parametrize("first", ["audio", "words"])
async def test_the_users_words_are_final_once_the_model_starts(
    scripted: ScriptedBackend, open_stream: Any, api: Any, first: str
) -> None:
    session_id, upstream = await conversation(scripted, api)
    stream = await device(open_stream, session_id)
    upstream.say(TranscriptEvent("user", "what time"), TranscriptEvent("user", " is it"))
    await stream.until("transcript", role="user", text="what time is it")
    assert transcripts(stream, "user")[-1] == ("what time is it", 1, False)

    started = AudioEvent(audio(1)) if first == "audio" else TranscriptEvent("model", "It is")
    upstream.say(started, UsageEvent({"marker": 1}))  # usage: settles nothing by itself
    usage = await stream.until("usage")
    before = stream.events[: stream.events.index(usage)]
    user_final = [
        e for e in before if e["type"] == "transcript" and e["role"] == "user" and e["final"]
    ]
    assert [(e["text"], e["turn"]) for e in user_final] == [("what time is it", 1)]
    assert not stream.of("turn_complete")

    _, transcript = await api("GET", "sessions", session_id, "transcript")
    assert [(e["role"], e["final"]) for e in transcript if e["role"] == "user"] == [("user", True)]


async def test_every_role_is_final_before_turn_complete(
    scripted: ScriptedBackend, open_stream: Any, api: Any
) -> None:
    session_id, upstream = await conversation(scripted, api)
    stream = await device(open_stream, session_id)
    upstream.say(TranscriptEvent("user", "hi"), TranscriptEvent("model", "Hello"))
    upstream.say(TurnCompleteEvent())
    done = await stream.until("turn_complete", turn=1)
    before = stream.events[: stream.events.index(done)]
    last = {e["role"]: e for e in before if e["type"] == "transcript"}
    assert {role: (e["text"], e["final"]) for role, e in last.items()} == {
        "user": ("hi", True),
        "model": ("Hello", True),
    }


# ---- tool calls ------------------------------------------------------------------------


async def test_a_cancelled_tool_call_takes_no_answer(
    scripted: ScriptedBackend, open_stream: Any, api: Any
) -> None:
    session_id, upstream = await conversation(scripted, api)
    stream = await device(open_stream, session_id)
    kernel = await open_stream(session_id, mode="observe")
    await kernel.until("ready")

    upstream.say(ToolCallEvent("call-1", "lookup", {"q": "first"}))
    await kernel.until("tool_call", id="call-1")
    answer = {"type": "tool_response", "name": "lookup", "response": {"found": 1}}
    await kernel.send_json({**answer, "id": "call-1"})  # a pending call is answered
    await upstream.until_sent("tool_response", ("call-1", "lookup", {"found": 1}))

    upstream.say(ToolCallEvent("call-2", "lookup", {"q": "second"}))
    await kernel.until("tool_call", id="call-2")
    upstream.say(ToolCallCancelledEvent(("call-2",)))
    cancelled = await kernel.until("tool_call_cancelled")
    assert cancelled["ids"] == ["call-2"]
    await stream.until("tool_call_cancelled")  # every client is told

    await kernel.send_json({**answer, "id": "call-2"})
    error = await kernel.until("error")
    assert error["code"] == "unknown_tool_call"
    assert "call-2" in error["message"]
    assert error["fatal"] is False

    await kernel.send_json({"type": "text", "text": "after"})  # input is forwarded in order
    await upstream.until_sent("text", "after")
    answered = [payload[0] for kind, payload in upstream.sent if kind == "tool_response"]
    assert answered == ["call-1"]


# ---- playback ----------------------------------------------------------------------------


async def test_played_ms_is_the_most_the_session_has_played(
    scripted: ScriptedBackend, open_stream: Any, api: Any
) -> None:
    """A device reports its player's running total; a lower figure (a stale frame, a
    device whose player restarted) never lowers the session's."""
    session_id, _ = await conversation(scripted, api)
    first = await device(open_stream, session_id)
    await first.send_json({"type": "playback", "played_ms": 1200})
    await first.send_json({"type": "playback", "played_ms": 700})
    await first.send_json({"type": "ping", "t": 1})
    await first.until("pong")
    _, session = await api("GET", "sessions", session_id)
    assert session["stats"]["played_ms"] == 1200

    first.ws.close()
    second = await open_stream(session_id)
    ready = await second.until("ready")
    assert ready["session"]["stats"]["played_ms"] == 1200
    await second.send_json({"type": "playback", "played_ms": 300})  # a new player
    await second.send_json({"type": "ping", "t": 2})
    await second.until("pong")
    _, session = await api("GET", "sessions", session_id)
    assert session["stats"]["played_ms"] == 1200
    await second.send_json({"type": "playback", "played_ms": 1500})
    await second.send_json({"type": "ping", "t": 3})
    await second.until("pong")
    _, session = await api("GET", "sessions", session_id)
    assert session["stats"]["played_ms"] == 1500


async def test_a_tool_response_passes_its_scheduling_on(
    scripted: ScriptedBackend, open_stream: Any, api: Any
) -> None:
    session_id, upstream = await conversation(scripted, api)
    kernel = await open_stream(session_id, mode="observe")
    await kernel.until("ready")
    upstream.say(ToolCallEvent("call-1", "lookup", {}))
    await kernel.until("tool_call", id="call-1")
    answer = {"type": "tool_response", "id": "call-1", "name": "lookup", "response": {"n": 1}}
    await kernel.send_json({**answer, "scheduling": "WHEN_IDLE"})
    await upstream.until_sent("tool_response", ("call-1", "lookup", {"n": 1}, "WHEN_IDLE"))

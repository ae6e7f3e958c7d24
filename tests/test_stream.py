"""The stream websocket against the echo backend (and the scripted one, where a test plays
the model): what a device and an observer live through."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import pytest
from scripted import ScriptedBackend
from speech import seconds_of, silence, speech
from tornado.httpclient import HTTPClientError
from waiting import until_true

from jupyter_gemini_live.backends.base import AudioEvent, TurnCompleteEvent

SPOKEN_S = 1.2


async def new_session(api: Any, **body: Any) -> str:
    code, session = await api("POST", "sessions", body=body)
    assert code == 201, session
    return str(session["id"])


async def test_ready_comes_first_and_ping_is_answered(api: Any, open_stream: Any) -> None:
    session_id = await new_session(api)
    stream = await open_stream(session_id)
    ready = await stream.next()
    assert ready is not None
    assert ready["type"] == "ready"
    assert ready["session"]["id"] == session_id
    assert ready["mode"] == "device"
    await stream.send_json({"type": "ping", "t": 12.5})
    assert await stream.until("pong") == {"type": "pong", "t": 12.5}


async def test_echo_round_trip(api: Any, open_stream: Any) -> None:
    """Speak, fall silent: about as much audio comes back at 24 kHz, events in order."""
    session_id = await new_session(api)
    stream = await open_stream(session_id)
    await stream.until("ready")
    await stream.talk(speech(SPOKEN_S) + silence(0.8))
    await stream.until("turn_complete", turn=1)

    returned = seconds_of(stream.audio, 24000)
    assert abs(returned - SPOKEN_S) < 0.25, f"sent {SPOKEN_S} s, got {returned:.2f} s back"
    kinds = [e["type"] for e in stream.events]
    assert kinds.index("transcript") < kinds.index("turn_complete")
    user = [e for e in stream.of("transcript") if e["role"] == "user"]
    model = [e for e in stream.of("transcript") if e["role"] == "model"]
    assert user[-1]["final"]
    assert "s of speech" in user[-1]["text"]
    assert model[-1]["final"]
    assert model[-1]["text"].startswith("Echo of")
    assert stream.events.index(user[-1]) < stream.events.index(model[0])

    await stream.send_json({"type": "playback", "played_ms": 1150})
    await stream.send_json({"type": "ping"})
    await stream.until("pong")
    _, session = await api("GET", "sessions", session_id)
    stats = session["stats"]
    assert stats["turns"] == 1
    assert stats["audio_in_ms"] == pytest.approx((SPOKEN_S + 0.8) * 1000, abs=25)
    assert stats["audio_out_ms"] == pytest.approx(returned * 1000, abs=1)
    assert stats["played_ms"] == 1150
    assert stats["dropped_in_ms"] == 0

    _, transcript = await api("GET", "sessions", session_id, "transcript")
    assert [(e["role"], e["turn"], e["final"]) for e in transcript] == [
        ("user", 1, True),
        ("model", 1, True),
    ]
    assert transcript[0]["start"] <= transcript[1]["start"]


async def test_talking_over_the_reply_interrupts_it(api: Any, open_stream: Any) -> None:
    session_id = await new_session(api)
    stream = await open_stream(session_id)
    await stream.until("ready")
    await stream.talk(speech(2.0) + silence(0.7))
    await stream.until("transcript", role="model")
    await stream.talk(speech(0.4))  # barge in while the 2 s echo is still playing
    interrupted = await stream.until("interrupted")
    assert interrupted["turn"] == 1
    heard_before = len(stream.audio)
    await stream.until("turn_complete", turn=1)
    assert len(stream.audio) == heard_before, "audio of an interrupted turn followed"
    assert seconds_of(stream.audio, 24000) < 1.9

    await stream.talk(silence(0.8))
    await stream.until("turn_complete", turn=2)
    _, session = await api("GET", "sessions", session_id)
    assert session["stats"]["interruptions"] == 1
    _, transcript = await api("GET", "sessions", session_id, "transcript")
    first_reply = next(e for e in transcript if e["role"] == "model" and e["turn"] == 1)
    assert first_reply["interrupted"] is True


async def test_push_to_talk(api: Any, open_stream: Any) -> None:
    session_id = await new_session(api, activity_detection="manual")
    stream = await open_stream(session_id)
    await stream.until("ready")
    await stream.talk(speech(0.5) + silence(0.7))  # not held: ignored
    await stream.send_json({"type": "activity_start"})
    await stream.talk(speech(0.6), realtime=False)
    await stream.send_json({"type": "activity_end"})
    await stream.until("turn_complete", turn=1)
    assert seconds_of(stream.audio, 24000) == pytest.approx(0.6, abs=0.05)


async def test_text_turn_is_answered(api: Any, open_stream: Any) -> None:
    session_id = await new_session(api)
    stream = await open_stream(session_id)
    await stream.until("ready")
    await stream.send_json({"type": "text", "text": "what is 2 + 2?"})
    user = await stream.until("transcript", role="user")
    assert user["text"] == "what is 2 + 2?"
    assert user["final"] is True
    await stream.until("turn_complete", turn=1)
    model = [e for e in stream.of("transcript") if e["role"] == "model"]
    assert model[-1]["text"] == "You said: what is 2 + 2?"
    assert len(stream.audio) > 0


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"\x01\x02\x03", "odd_length"),
        (bytes(70_000), "frame_too_large"),
        ("{not json", "bad_json"),
        (json.dumps([1, 2]), "bad_json"),
        (json.dumps({"type": "dance"}), "unknown_type"),
        (json.dumps({"type": "text", "text": 5}), "bad_field"),
        (json.dumps({"type": "playback", "played_ms": "lots"}), "bad_field"),
        (json.dumps({"type": "playback", "played_ms": True}), "bad_field"),
        (json.dumps({"type": "image", "mime_type": "image/png", "data": "***"}), "bad_field"),
        (json.dumps({"type": "tool_response", "id": "x", "name": "f"}), "bad_field"),
    ],
)
async def test_bad_frames_get_errors_and_the_session_stays_up(
    api: Any, open_stream: Any, frame: str | bytes, code: str
) -> None:
    session_id = await new_session(api)
    stream = await open_stream(session_id)
    await stream.until("ready")
    await stream.ws.write_message(frame, binary=isinstance(frame, bytes))
    error = await stream.until("error")
    assert error["code"] == code
    assert error["fatal"] is False
    assert error["message"]
    await stream.send_json({"type": "ping", "t": 1})
    assert (await stream.until("pong"))["t"] == 1
    _, session = await api("GET", "sessions", session_id)
    assert session["state"] == "live"


async def test_a_new_device_replaces_the_old_one(api: Any, open_stream: Any) -> None:
    session_id = await new_session(api)
    first = await open_stream(session_id)
    await first.until("ready")
    second = await open_stream(session_id)
    await second.until("ready")
    assert await first.next() is None
    assert first.ws.close_code == 4001
    await second.send_json({"type": "ping"})
    await second.until("pong")
    _, session = await api("GET", "sessions", session_id)
    assert session["clients"] == 1
    assert session["state"] == "live"


async def test_observers_see_events_and_audio_only_when_asked(api: Any, open_stream: Any) -> None:
    session_id = await new_session(api)
    device = await open_stream(session_id)
    quiet = await open_stream(session_id, mode="observe")
    listening = await open_stream(session_id, mode="observe", audio="1")
    for stream in (device, quiet, listening):
        await stream.until("ready")
    await quiet.send_audio(speech(0.1))
    assert (await quiet.until("error"))["code"] == "observer_cannot_send"

    await device.talk(speech(0.8) + silence(0.7))
    for stream in (device, quiet, listening):
        await stream.until("turn_complete", turn=1)
    assert len(quiet.audio) == 0
    assert len(listening.audio) == len(device.audio) > 0
    assert [e["type"] for e in quiet.of("transcript")] == [
        e["type"] for e in device.of("transcript")
    ]
    # the server's own share of the latency: each frame and chunk of the device, once
    _, session = await api("GET", "sessions", session_id)
    uplink, downlink = session["stats"]["uplink_ms"], session["stats"]["downlink_ms"]
    assert 0 < uplink["count"] <= 75  # 1.5 s of 20 ms frames (queued ones may be joined)
    assert downlink["count"] == device.audio_messages  # not the listening observer's copy
    for spread in (uplink, downlink):
        assert 0 <= spread["p50"] <= spread["p99"] <= spread["max"], spread


async def test_observer_can_send_text(api: Any, open_stream: Any) -> None:
    session_id = await new_session(api)
    observer = await open_stream(session_id, mode="observe")
    await observer.until("ready")
    await observer.send_json({"type": "text", "text": "from the kernel"})
    await observer.until("turn_complete", turn=1)
    texts = [e["text"] for e in observer.of("transcript")]
    assert "from the kernel" in texts


async def test_stream_of_unknown_session_is_refused(open_stream: Any) -> None:
    with pytest.raises(HTTPClientError) as err:
        await open_stream("0f6b6a2e-0000-4000-8000-000000000000")
    assert err.value.code == 404


async def test_stream_without_a_token_is_refused(api: Any, jp_ws_fetch: Any) -> None:
    session_id = await new_session(api)
    with pytest.raises(HTTPClientError) as err:
        await jp_ws_fetch(
            "gemini-live", "api", "sessions", session_id, "stream", headers={"Authorization": ""}
        )
    assert err.value.code in (401, 403)


async def test_deleting_the_session_closes_its_streams(api: Any, open_stream: Any) -> None:
    session_id = await new_session(api)
    stream = await open_stream(session_id)
    await stream.until("ready")
    await api("DELETE", "sessions", session_id)
    state = await stream.until("state")
    assert state["state"] == "closed"
    assert await stream.next() is None


async def test_server_shutdown_closes_sessions(
    api: Any, open_stream: Any, jp_serverapp: Any
) -> None:
    session_id = await new_session(api)
    stream = await open_stream(session_id)
    await stream.until("ready")
    manager = jp_serverapp.web_app.settings["gemini_live_sessions"]
    await manager.shutdown()
    assert await stream.until("state") == {"type": "state", "state": "closed"}
    assert manager.list() == []


async def test_a_slow_reader_loses_audio_not_memory(
    api: Any, open_stream: Any, jp_serverapp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = jp_serverapp.web_app.settings["gemini_live_sessions"]
    session_id = await new_session(api)
    stream = await open_stream(session_id)
    await stream.until("ready")
    session = manager.get(session_id)
    (device,) = session.clients()
    device.outbox.max_audio_bytes = 24000 * 2 // 10  # 100 ms of room
    # The client stops reading: tornado holds bytes its socket would not take, and the
    # writer waits for them to go.
    monkeypatch.setattr(device.ws_connection.stream, "writing", lambda: True)
    device._writer.cancel()
    await stream.talk(speech(1.0) + silence(0.7), realtime=False)
    await until_true(lambda: session.stats.turns == 1, "the echo reply was all sent")
    assert session.stats.dropped_out_ms > 500
    assert device.outbox.dropped_audio_bytes > 0


async def test_played_ms_is_a_session_total_across_reconnects(api: Any, open_stream: Any) -> None:
    session_id = await new_session(api)
    first = await open_stream(session_id)
    await first.until("ready")
    await first.send_json({"type": "playback", "played_ms": 800})
    first.ws.close()
    second = await open_stream(session_id)
    ready = await second.until("ready")
    assert ready["session"]["stats"]["played_ms"] == 800
    await second.send_json({"type": "playback", "played_ms": 1200})  # the same player, later
    await second.send_json({"type": "ping"})
    await second.until("pong")
    _, session = await api("GET", "sessions", session_id)
    assert session["stats"]["played_ms"] == 1200


async def test_refusals_of_the_stream_are_json(jp_fetch: Any) -> None:
    response = await jp_fetch(
        "gemini-live", "api", "sessions", "no-such-session", "stream", raise_error=False
    )
    assert response.code == 404
    assert json.loads(response.body)["message"] == "unknown session no-such-session"


async def test_an_exclusive_device_is_refused_while_another_holds_the_mic(
    api: Any, open_stream: Any
) -> None:
    session_id = await new_session(api)
    panel = await open_stream(session_id)
    await panel.until("ready")
    with pytest.raises(HTTPClientError) as err:
        await open_stream(session_id, exclusive="1")
    assert err.value.code == 409
    assert err.value.response is not None
    assert "holds its microphone" in json.loads(err.value.response.body)["message"]
    await panel.send_json({"type": "ping"})
    await panel.until("pong")  # the panel kept the session


async def test_the_first_answer_to_a_tool_call_wins(api: Any, open_stream: Any) -> None:
    session_id = await new_session(api)
    device = await open_stream(session_id)
    kernel = await open_stream(session_id, mode="observe")
    other_kernel = await open_stream(session_id, mode="observe")
    for stream in (device, kernel, other_kernel):
        await stream.until("ready")
    await device.send_json({"type": "text", "text": 'call get_time {"zone": "UTC"}'})
    call = await kernel.until("tool_call")
    answer = {"type": "tool_response", "id": call["id"], "name": "get_time"}
    await kernel.send_json({**answer, "response": {"time": "noon"}})
    await other_kernel.send_json({**answer, "response": {"time": "midnight"}})
    error = await other_kernel.until("error")
    assert error["code"] == "unknown_tool_call"
    await device.until("turn_complete")
    model = [e["text"] for e in device.of("transcript") if e["role"] == "model"]
    assert model[-1] == 'get_time returned {"time": "noon"}'
    _, session = await api("GET", "sessions", session_id)
    assert session["turn"] == 2


async def test_a_tool_response_with_images_reaches_the_echo_and_bad_ones_are_refused(
    api: Any, open_stream: Any
) -> None:
    session_id = await new_session(api)
    device = await open_stream(session_id)
    await device.until("ready")
    await device.send_json({"type": "text", "text": 'call run_cell {"index": 0}'})
    call = await device.until("tool_call")
    answer = {"type": "tool_response", "id": call["id"], "name": "run_cell", "response": {}}
    png = {"mime_type": "image/png", "data": base64.b64encode(b"plot").decode()}
    await device.send_json({**answer, "images": [png, png, png]})  # one too many
    error = await device.until("error")
    assert (error["code"], "tool_response.images" in error["message"]) == ("bad_field", True)
    await device.send_json({**answer, "images": [png]})  # the call is still open
    await device.until("turn_complete")
    model = [e["text"] for e in device.of("transcript") if e["role"] == "model"]
    assert model[-1] == "run_cell returned {} (+1 image)"


async def test_typing_during_a_reply_starts_the_next_turn(api: Any, open_stream: Any) -> None:
    session_id = await new_session(api)
    stream = await open_stream(session_id)
    await stream.until("ready")
    await stream.talk(speech(2.0) + silence(0.7))
    await stream.until("transcript", role="model")  # the 2 s echo is playing
    code, accepted = await api("POST", "sessions", session_id, "text", body={"text": "stop"})
    assert code == 202
    assert accepted == {"turn": 2}
    await stream.until("turn_complete", turn=2)
    _, transcript = await api("GET", "sessions", session_id, "transcript")
    assert [(e["role"], e["turn"], e["text"]) for e in transcript] == [
        ("user", 1, "(2.0 s of speech)"),
        ("model", 1, "Echo of 2.0 s of speech"),
        ("user", 2, "stop"),
        ("model", 2, "You said: stop"),
    ]
    assert transcript[1]["interrupted"] is True


def test_close_reasons_fit_the_protocol_limit() -> None:
    from jupyter_gemini_live.websocket import _short

    reason = _short("session ended: le modèle « gemini-ü » est refusé " * 5)
    assert len(reason.encode()) <= 123
    assert reason.startswith("session ended: le modèle")


@pytest.mark.parametrize("way", ["at_once", "queued"])
async def test_a_burst_of_model_audio_is_written_in_a_few_turns_of_the_loop(
    api: Any, open_stream: Any, jp_serverapp: Any, scripted: ScriptedBackend, way: str
) -> None:
    """Model audio comes in bursts: each chunk goes to the device's socket without waiting
    a turn of the event loop for the one before it (a turn is what every other session's
    audio waits behind), whether written as it comes or by the writer from the queue."""
    manager = jp_serverapp.web_app.settings["gemini_live_sessions"]
    code, created = await api("POST", "sessions", body={"backend": "scripted"})
    assert code == 201, created
    session, upstream = manager.get(created["id"]), scripted.upstreams[-1]
    stream = await open_stream(created["id"])
    await stream.until("ready")
    (client,) = session.clients()
    if way == "queued":
        client._wrote_now = lambda *message, **binary: False
    chunks = 24  # 10 ms each: the burst fits the socket's buffer, nothing waits for the client
    turns = 0

    async def count_turns() -> None:
        nonlocal turns
        while session.stats.downlink.as_json()["count"] < chunks:
            turns += 1
            await asyncio.sleep(0)  # one turn of the loop

    now = time.monotonic()
    upstream.say(*(AudioEvent(bytes([n]) * 480, now) for n in range(chunks)))
    await asyncio.wait_for(count_turns(), 10)
    assert turns < chunks // 2, f"{chunks} chunks took {turns} turns to be written"
    upstream.say(TurnCompleteEvent())
    await stream.until("turn_complete")
    assert bytes(stream.audio) == b"".join(bytes([n]) * 480 for n in range(chunks))

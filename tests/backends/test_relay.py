"""The relay backend: a kernel (the stream's `source`) is the upstream of a browser device.

The queue and turn rules on their own, then the whole path through the server: REST and
the stream websocket, a device socket and a source socket.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import pytest
from tornado.httpclient import HTTPClientError

from jupyter_gemini_live import session as session_module
from jupyter_gemini_live.backends.base import AudioEvent, InterruptedEvent, TurnCompleteEvent
from jupyter_gemini_live.backends.relay import MicQueue, RelayUpstream

FRAME = 640  # 20 ms at 16 kHz


def tone(seconds: float, hz: float, rate: int) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * hz * t) * 32767).astype("<i2").tobytes()


def numbered(index: int, size: int) -> bytes:
    """A frame whose every sample is its index, so order and gaps can be read back."""
    return np.full(size // 2, index, dtype="<i2").tobytes()


# ---- the queue and the upstream on their own ---------------------------------------------


def test_the_mic_queue_drops_the_oldest_beyond_its_bytes() -> None:
    queue = MicQueue(max_bytes=3 * FRAME)
    for index in range(5):
        queue.put(numbered(index, FRAME))
    assert len(queue) == 3 * FRAME
    assert queue.dropped_bytes == 2 * FRAME

    async def drain() -> list[int]:
        return [int(np.frombuffer(await queue.get(), "<i2")[0]) for _ in range(3)]

    assert asyncio.run(drain()) == [2, 3, 4]


async def collect(upstream: RelayUpstream, count: int) -> list[Any]:
    events: list[Any] = []
    async for event in upstream.events():
        events.append(event)
        if len(events) == count:
            break
    return events


async def test_clear_interrupts_and_ends_the_turn() -> None:
    upstream = RelayUpstream()
    assert upstream.play(b"\x01\x00" * 2400)  # 100 ms
    upstream.clear()
    events = await asyncio.wait_for(collect(upstream, 3), 5)
    assert events == [AudioEvent(b"\x01\x00" * 2400), InterruptedEvent(), TurnCompleteEvent()]
    await upstream.close()


async def test_a_turn_ends_when_the_kernels_audio_has_run_out() -> None:
    """So the device's player plays out a short sound instead of waiting for more."""
    upstream = RelayUpstream()
    loop = asyncio.get_running_loop()
    start = loop.time()
    upstream.play(bytes(2 * 2400))  # 100 ms
    events = await asyncio.wait_for(collect(upstream, 2), 5)
    assert events[1] == TurnCompleteEvent()
    assert loop.time() - start >= 0.1  # not before the audio could have played
    await upstream.close()


async def test_without_a_source_the_microphone_is_not_kept() -> None:
    upstream = RelayUpstream()
    await upstream.send_audio(bytes(FRAME))
    assert len(upstream.mic) == 0
    upstream.listen(True)
    await upstream.send_audio(bytes(FRAME))
    assert len(upstream.mic) == FRAME
    upstream.listen(False)
    assert len(upstream.mic) == 0
    await upstream.close()


# ---- through the server -----------------------------------------------------------------


async def relay_session(api: Any) -> str:
    code, session = await api("POST", "sessions", body={"backend": "relay"})
    assert code == 201, session
    assert session["backend"] == "relay"
    return str(session["id"])


async def read_audio(stream: Any, nbytes: int, timeout: float = 10.0) -> bytes:
    """Read until `nbytes` of audio came (JSON events are kept in `stream.events`)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(stream.audio) < nbytes:
        message = await asyncio.wait_for(stream.ws.read_message(), deadline - loop.time())
        assert message is not None, f"closed; events: {stream.events}"
        if isinstance(message, bytes):
            stream.audio += message
        else:
            stream.events.append(json.loads(message))
    return bytes(stream.audio)


async def test_status_lists_relay_but_never_as_the_default(api: Any) -> None:
    _, status = await api("GET", "status")
    assert status["backends"]["relay"] == {"available": True, "reason": None}
    assert status["default_backend"] != "relay"


async def test_the_source_hears_the_device_byte_exact_in_order(api: Any, open_stream: Any) -> None:
    session_id = await relay_session(api)
    source = await open_stream(session_id, mode="source")
    ready = await source.until("ready")
    assert ready["mode"] == "source"
    device = await open_stream(session_id)
    await device.until("ready")
    assert await source.until("device") == {"type": "device", "status": "connected", "reason": None}
    await device.send_json({"type": "device_status", "status": "started", "reason": None})
    assert (await source.until("device"))["status"] == "started"

    sent = tone(1.0, 440, 16000)
    await device.talk(sent, realtime=False)
    assert await read_audio(source, len(sent)) == sent

    await device.send_json({"type": "playback", "played_ms": 250})
    assert await source.until("playback") == {"type": "playback", "played_ms": 250}
    _, session = await api("GET", "sessions", session_id)
    assert session["stats"]["audio_in_ms"] == pytest.approx(1000, abs=1)
    assert session["stats"]["dropped_in_ms"] == 0

    await device.send_json({"type": "device_status", "status": "stopped", "reason": None})
    assert (await source.until("device"))["status"] == "stopped"
    device.ws.close()
    assert (await source.until("device"))["status"] == "disconnected"


async def test_a_late_source_hears_that_the_device_started(api: Any, open_stream: Any) -> None:
    session_id = await relay_session(api)
    device = await open_stream(session_id)
    await device.until("ready")
    await device.send_json({"type": "device_status", "status": "failed", "reason": "denied"})
    await device.send_json({"type": "ping"})
    await device.until("pong")
    source = await open_stream(session_id, mode="source")
    await source.until("ready")
    assert (await source.until("device"))["status"] == "connected"
    failed = await source.until("device")
    assert failed == {"type": "device", "status": "failed", "reason": "denied"}


async def test_the_device_plays_what_the_source_sends(api: Any, open_stream: Any) -> None:
    session_id = await relay_session(api)
    source = await open_stream(session_id, mode="source")
    await source.until("ready")
    device = await open_stream(session_id)
    await device.until("ready")
    sent = tone(0.5, 880, 24000)
    for offset in range(0, len(sent), 4800):  # 100 ms frames
        await source.send_audio(sent[offset : offset + 4800])
    assert await read_audio(device, len(sent)) == sent
    # The kernel's audio has run out: the turn ends, so the player plays out its tail.
    assert (await device.until("turn_complete"))["turn"] == 1
    _, session = await api("GET", "sessions", session_id)
    assert session["stats"]["audio_out_ms"] == pytest.approx(500, abs=1)


async def test_clear_interrupts_the_device_and_drops_the_rest_of_the_turn(
    api: Any, open_stream: Any
) -> None:
    session_id = await relay_session(api)
    source = await open_stream(session_id, mode="source")
    await source.until("ready")
    device = await open_stream(session_id)
    await device.until("ready")
    first = tone(2.0, 440, 24000)
    for offset in range(0, len(first), 4800):
        await source.send_audio(first[offset : offset + 4800])
    await read_audio(device, 4800)  # it is playing
    await source.send_json({"type": "clear"})
    after = b"\x07\x00" * 2400  # 100 ms of the next turn, recognisable
    await source.send_audio(after)

    interrupted = await device.until("interrupted")
    assert interrupted["turn"] == 1
    before = len(device.audio)
    assert bytes(device.audio) == first[:before]  # nothing out of order before it
    assert (await device.until("turn_complete"))["turn"] == 1
    await read_audio(device, before + len(after))
    # Whatever of turn 1 was still queued was dropped: only the next turn's audio follows.
    assert bytes(device.audio[before:]) == after
    _, session = await api("GET", "sessions", session_id)
    assert session["stats"]["interruptions"] == 1


async def test_a_second_source_is_refused(api: Any, open_stream: Any) -> None:
    session_id = await relay_session(api)
    source = await open_stream(session_id, mode="source")
    await source.until("ready")
    with pytest.raises(HTTPClientError) as err:
        await open_stream(session_id, mode="source")
    assert err.value.code == 409
    assert b"already has a source" in err.value.response.body


async def test_only_a_relay_session_takes_a_source(api: Any, open_stream: Any) -> None:
    _, session = await api("POST", "sessions", body={"backend": "echo"})
    with pytest.raises(HTTPClientError) as err:
        await open_stream(session["id"], mode="source")
    assert err.value.code == 409
    assert b"not a relay session" in err.value.response.body


async def test_a_source_may_not_send_what_a_device_sends(api: Any, open_stream: Any) -> None:
    session_id = await relay_session(api)
    source = await open_stream(session_id, mode="source")
    await source.until("ready")
    await source.send_json({"type": "text", "text": "hello"})
    assert (await source.until("error"))["code"] == "source_cannot_send"
    device = await open_stream(session_id)
    await device.until("ready")
    await device.send_json({"type": "clear"})
    assert (await device.until("error"))["code"] == "device_cannot_send"


async def test_a_source_that_stops_reading_loses_the_oldest_audio_counted(
    api: Any, open_stream: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bounded by bytes: the server keeps the newest 10 s; the kernel's socket buffers
    hold the oldest frames it had been sent already; what is between is gone, counted."""
    # the device floods faster than real time here: lift the input pace for this test
    monkeypatch.setattr(session_module, "INPUT_BURST_MS", 1e12)
    session_id = await relay_session(api)
    source = await open_stream(session_id, mode="source")  # never reads while this runs
    device = await open_stream(session_id)
    await device.until("ready")
    size = 64000  # 2 s per frame, the largest frames a device may send
    sent = 0

    async def dropped() -> float:
        _, session = await api("GET", "sessions", session_id)
        return float(session["stats"]["dropped_in_ms"])

    while await dropped() == 0:
        assert sent < 2000, "nothing dropped after 4000 s of audio"
        for _ in range(10):
            await device.send_audio(numbered(sent, size))
            sent += 1
        await device.send_json({"type": "ping"})
        await device.until("pong")
    for _ in range(3):  # a little more, so the newest frames are plainly kept
        await device.send_audio(numbered(sent, size))
        sent += 1

    await read_audio(source, 0)
    received: list[int] = []
    while not received or received[-1] != sent - 1:
        await read_audio(source, len(source.audio) + size)
        chunk = bytes(source.audio[len(received) * size : (len(received) + 1) * size])
        assert len(set(np.frombuffer(chunk, "<i2").tolist())) == 1, "frames stay whole"
        received.append(int(np.frombuffer(chunk, "<i2")[0]))
    assert received == sorted(received), "in order"
    missing = sent - len(received)
    assert missing > 0
    assert received[0] == 0, "the oldest were on their way already"
    assert await dropped() == pytest.approx(missing * size / 32, abs=0.2)
    _, session = await api("GET", "sessions", session_id)
    assert session["stats"]["audio_in_ms"] == pytest.approx(sent * 2000, abs=1)

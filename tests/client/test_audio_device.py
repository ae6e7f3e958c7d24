"""Audio between the kernel and the server, against the in-process server.

`RunningLiveAudio` (the kernel as a relay session's source) with a test websocket as the
browser device, and the model's voice as data for server-side sessions (echo backend).
The server runs in the test's loop: the async client runs in it too, the blocking client
on a thread.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from waiting import until_true

from jupyter_gemini_live import Audio, AudioConfig, FailedToStartError, RunningLiveAudio
from jupyter_gemini_live.client import AudioDeviceClosed, LiveServer, Reply, ServerAddress

run = asyncio.to_thread


@pytest.fixture
def address(http_server: Any, jp_http_port: int, jp_base_url: str, jp_serverapp: Any) -> Any:
    url = f"http://localhost:{jp_http_port}{jp_base_url}"
    return ServerAddress(url, str(jp_serverapp.identity_provider.token))


def tone(seconds: float, hz: float, rate: int, level: float = 0.3) -> Audio:
    t = np.arange(int(seconds * rate)) / rate
    return Audio.from_numpy(level * np.sin(2 * np.pi * hz * t), rate)


def dominant_frequency(audio: Audio) -> float:
    samples = audio.as_numpy().astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / audio.config.sample_rate)[np.argmax(spectrum)])


def level_db(audio: Audio) -> float:
    samples = audio.as_numpy().astype(np.float64) / 32768
    return float(20 * np.log10(np.sqrt(np.mean(samples**2)) + 1e-12))


# ---- the model's voice as data (server-side sessions) ------------------------------------


async def test_send_audio_returns_the_reply_as_audio(address: Any) -> None:
    live = LiveServer(address)
    session = await run(live.start, backend="echo")
    try:
        spoken = tone(1.0, 440, 48000) + Audio.silence(AudioConfig(48000), 1.0)
        reply = await run(session.send_audio, spoken, realtime=False)
        assert isinstance(reply, Audio)
        assert reply.config == AudioConfig(24000)
        assert reply.duration == pytest.approx(1.0, abs=0.25)
        assert dominant_frequency(reply) == pytest.approx(440, abs=3)
        assert level_db(reply[0.2:0.8]) == pytest.approx(level_db(tone(1.0, 440, 24000)), abs=3)
    finally:
        await run(session.stop)


async def test_say_with_audio_returns_text_and_voice(address: Any) -> None:
    live = LiveServer(address)
    session = await run(live.start, backend="echo")
    try:
        assert await run(session.say, "hello") == "You said: hello"  # unchanged without audio
        reply = await run(lambda: session.say("again", audio=True))
        assert isinstance(reply, Reply)
        assert str(reply) == reply.text == "You said: again"
        assert reply.turn == 2
        assert reply.audio.duration == pytest.approx(0.3, abs=0.01)  # the echo's beep
        assert dominant_frequency(reply.audio) == pytest.approx(660, abs=5)
    finally:
        await run(session.stop)


async def test_model_audio_streams_as_it_comes(address: Any) -> None:
    live = LiveServer(address)
    session = await run(live.start, backend="echo")
    try:

        def listen() -> float:
            chunks = session.model_audio(timeout=5)
            # the whole reply comes before the first read: still heard (from the call on)
            session.say("beep")
            heard = 0.0
            for chunk in chunks:
                assert chunk.config.sample_rate == 24000
                heard += chunk.duration
                if heard >= 0.3 - 1e-6:
                    return heard
            return heard

        assert await run(listen) == pytest.approx(0.3, abs=0.01)
    finally:
        await run(session.stop)


async def test_recording_as_audio(address: Any) -> None:
    live = LiveServer(address)
    session = await run(live.start, backend="echo", record=True)
    try:
        await run(session.say, "hello")
        recording = await run(session.recording)
        assert isinstance(recording, Audio)
        assert recording.config == AudioConfig(24000, channels=2)
        model = Audio.from_numpy(recording.as_numpy().reshape(-1, 2)[:, 1], 24000)
        assert dominant_frequency(model) == pytest.approx(660, abs=5)
    finally:
        await run(session.stop)


# ---- RunningLiveAudio: the kernel as a relay session's source ----------------------------


async def relay_session_id(api: Any) -> str:
    for _ in range(500):
        _, sessions = await api("GET", "sessions")
        relays = [s for s in sessions if s["backend"] == "relay" and s["state"] == "live"]
        if relays:
            return str(relays[0]["id"])
        await asyncio.sleep(0.02)
    raise AssertionError("no relay session was created")


async def start_device(api: Any, open_stream: Any, status: str = "started") -> tuple[str, Any]:
    """The browser's part: join the relay session and say the microphone started."""
    session_id = await relay_session_id(api)
    device = await open_stream(session_id)
    await device.until("ready")
    reason = "Permission denied: allow the microphone for this site" if status == "failed" else None
    await device.send_json({"type": "device_status", "status": status, "reason": reason})
    return session_id, device


async def test_running_live_audio_reads_plays_and_clears(
    address: Any, api: Any, open_stream: Any
) -> None:
    audio_device = RunningLiveAudio(url=address.url, token=address.token, start_timeout=10)
    entering = asyncio.ensure_future(audio_device.__aenter__())
    session_id, device = await start_device(api, open_stream)
    audio = await entering
    try:
        assert audio.session_id == session_id
        assert audio.device_status == "started"
        spoken = tone(0.2, 440, 16000)
        for offset in range(0, len(spoken.data), 640):
            await device.send_audio(spoken.data[offset : offset + 640])
        heard = b""
        while len(heard) < len(spoken.data):
            heard += await audio.read()
        assert heard == spoken.data

        await audio.enqueue(tone(1.0, 880, 16000))  # any rate: resampled to 24 kHz
        while len(device.audio) < 24000 * 2:
            await device.next(timeout=5)
        received = Audio(config=AudioConfig(24000), data=bytes(device.audio))
        assert received.duration == pytest.approx(1.0, abs=0.01)
        assert dominant_frequency(received) == pytest.approx(880, abs=2)

        await device.send_json({"type": "playback", "played_ms": 400})
        await audio.clear_queue()
        await device.until("interrupted")
        await until_true(lambda: audio.played_ms == 400, "the device's played count relayed")
        await audio.drain(timeout=1)  # nothing more to play after clear_queue
    finally:
        await audio_device.__aexit__(None, None, None)
    code, _ = await api("GET", "sessions", session_id)
    assert code == 404  # deleted on exit


async def test_a_denied_microphone_raises_with_the_browsers_reason(
    address: Any, api: Any, open_stream: Any
) -> None:
    audio_device = RunningLiveAudio(url=address.url, token=address.token, start_timeout=10)
    entering = asyncio.ensure_future(audio_device.__aenter__())
    session_id, _ = await start_device(api, open_stream, status="failed")
    with pytest.raises(FailedToStartError, match="allow the microphone"):
        await entering
    _, sessions = await api("GET", "sessions")
    assert all(s["state"] != "live" for s in sessions if s["id"] == session_id)


async def test_no_device_times_out_saying_what_to_do(address: Any) -> None:
    audio_device = RunningLiveAudio(url=address.url, token=address.token, start_timeout=0.3)
    with pytest.raises(FailedToStartError, match="Start microphone"):
        async with audio_device:
            pass


async def test_the_blocking_form(address: Any, api: Any, open_stream: Any) -> None:
    def kernel() -> tuple[bytes, str]:
        with RunningLiveAudio(url=address.url, token=address.token, start_timeout=10) as audio:
            frame = audio.read(timeout=10)
            audio.enqueue(b"\x01\x00" * 1600)  # 100 ms at the config's 16 kHz
            return frame, audio.session_id

    running = asyncio.ensure_future(run(kernel))
    _, device = await start_device(api, open_stream)
    await device.send_audio(b"\x05\x00" * 320)
    frame, _ = await running
    assert frame == b"\x05\x00" * 320
    while len(device.audio) < 4800:
        await device.next(timeout=5)


async def test_read_ends_when_the_device_stops(address: Any, api: Any, open_stream: Any) -> None:
    audio_device = RunningLiveAudio(url=address.url, token=address.token, start_timeout=10)
    entering = asyncio.ensure_future(audio_device.__aenter__())
    _, device = await start_device(api, open_stream)
    audio = await entering
    try:
        await device.send_audio(bytes(640))
        await device.send_json({"type": "device_status", "status": "stopped", "reason": None})
        assert await audio.read() == bytes(640)  # what came before is still read
        with pytest.raises(AudioDeviceClosed, match="stopped"):
            await asyncio.wait_for(audio.read(), 5)
    finally:
        await audio_device.__aexit__(None, None, None)

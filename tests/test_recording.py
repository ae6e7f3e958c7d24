"""record=true: the conversation comes back as a stereo WAV, user left, model right."""

from __future__ import annotations

import io
import wave
from typing import Any

import numpy as np
from speech import silence, speech


def active_seconds(channel: np.ndarray, rate: int) -> tuple[float, float, float]:
    """(first, last, total) seconds where 20 ms blocks are louder than -40 dBFS."""
    block = rate // 50
    blocks = channel[: len(channel) // block * block].reshape(-1, block).astype(np.float64)
    loud = np.sqrt(np.mean(blocks**2, axis=1)) / 32768 > 0.01
    where = np.flatnonzero(loud)
    return where[0] * 0.02, (where[-1] + 1) * 0.02, loud.sum() * 0.02


async def test_recording_has_both_voices_in_time_order(api: Any, open_stream: Any) -> None:
    code, session = await api("POST", "sessions", body={"record": True})
    assert code == 201
    stream = await open_stream(session["id"])
    await stream.until("ready")
    await stream.talk(speech(1.0) + silence(0.8))
    await stream.until("turn_complete", turn=1)

    code, body = await api("GET", "sessions", session["id"], "recording.wav")
    assert code == 200
    with wave.open(io.BytesIO(body)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 24000)
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    _user_start, user_end, user_total = active_seconds(samples[:, 0], 24000)
    model_start, _, model_total = active_seconds(samples[:, 1], 24000)
    assert abs(user_total - 1.0) < 0.1
    assert abs(model_total - 1.0) < 0.15
    assert model_start >= user_end, "the reply is placed after the user stopped talking"

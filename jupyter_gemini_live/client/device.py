"""The kernel as a session's device for a moment: a WAV file as the microphone.

The file is read whole, mixed to mono and resampled to the 16 kHz s16le the stream takes
(soxr, a band-limited resampler), then sent in frames of `FRAME_MS` as the browser sends
them. A drain thread reads what the server sends the device meanwhile (the model's audio)
so its queue never backs up.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import wave
from pathlib import Path

import numpy as np
import soxr
import websocket

from ..protocol import FRAME_MS, INPUT_RATE, SAMPLE_WIDTH
from .event_socket import close_stream, open_stream
from .rest import Rest

FRAME_BYTES = INPUT_RATE * FRAME_MS // 1000 * SAMPLE_WIDTH


def load_wav(path: str | Path) -> bytes:
    """A WAV file (PCM 8/16/24/32-bit, any rate and channel count) as 16 kHz mono s16le."""
    with wave.open(str(path), "rb") as wav:
        width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
        raw = wav.readframes(wav.getnframes())
    samples = _as_float(raw, width).reshape(-1, channels).mean(axis=1)
    if rate != INPUT_RATE:
        samples = soxr.resample(samples, rate, INPUT_RATE)
    pcm = np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2")
    data: bytes = pcm.tobytes()
    return data


def _as_float(raw: bytes, width: int) -> np.ndarray:
    if width == 1:  # 8-bit WAV is unsigned
        return (np.frombuffer(raw, np.uint8).astype(np.float64) - 128) / 128
    if width == 2:
        return np.frombuffer(raw, "<i2").astype(np.float64) / 32768
    if width == 3:
        bytes3 = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        value = bytes3[:, 0] | (bytes3[:, 1] << 8) | (bytes3[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        return value.astype(np.float64) / (1 << 23)
    if width == 4:
        return np.frombuffer(raw, "<i4").astype(np.float64) / (1 << 31)
    raise ValueError(f"unsupported WAV sample width: {width} bytes")


class Device:
    """A device connection that sends PCM; use as a context manager."""

    def __init__(self, rest: Rest, session_id: str) -> None:
        self._rest = rest
        self._session_id = session_id
        self._ws: websocket.WebSocket | None = None
        self._drain: threading.Thread | None = None
        #: the turn under way when this device connected (from `ready`)
        self.turn = 0

    def __enter__(self) -> Device:
        # exclusive: the server refuses (409) while a browser panel holds the microphone
        self._ws, session = open_stream(self._rest, self._session_id, mode="device", exclusive="1")
        self.turn = int(session["turn"])
        self._drain = threading.Thread(
            target=self._drain_forever, name="gemini-live-device-drain", daemon=True
        )
        self._drain.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._ws is not None:
            close_stream(self._ws, self._drain, 2.0)

    def send_pcm(self, pcm: bytes, realtime: bool = True) -> None:
        """Microphone frames, paced at real time (as a microphone would) unless told otherwise."""
        assert self._ws is not None
        start = time.monotonic()
        for index, offset in enumerate(range(0, len(pcm), FRAME_BYTES)):
            if realtime:
                # Paced against the start, so sleeping late does not add up.
                time.sleep(max(0.0, start + index * FRAME_MS / 1000 - time.monotonic()))
            self._ws.send_bytes(pcm[offset : offset + FRAME_BYTES])

    def end_stream(self) -> None:
        """Tell the upstream the microphone has stopped (it answers what it heard)."""
        assert self._ws is not None
        self._ws.send(json.dumps({"type": "audio_stream_end"}))

    def _drain_forever(self) -> None:
        assert self._ws is not None
        with contextlib.suppress(OSError, websocket.WebSocketException):
            while self._ws.recv_data()[0] != websocket.ABNF.OPCODE_CLOSE:
                pass

"""Recording a conversation as a stereo WAV: left the user, right the model, at 24 kHz.

Both voices are placed on the session's clock: the microphone arrives in real time, model
audio arrives in bursts ahead of real time and is laid end to end from when it arrived,
the way the device plays it; an interruption cuts the model's track at that moment.
Samples are mixed in memory and written by a worker thread once they are in the past,
so the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soxr

from .protocol import INPUT_RATE, OUTPUT_RATE

RATE = OUTPUT_RATE
USER, MODEL = 0, 1
FLUSH_EVERY_S = 1.0
#: model audio may run this far ahead of the clock before it is written anyway
MAX_PENDING_S = 120.0
#: microphone audio later than this after the previous chunk starts a new run
GAP_S = 0.5


class Recorder:
    def __init__(self, folder: str, session_id: str, clock: Callable[[], float]) -> None:
        self.path = Path(folder) / f"{session_id}.wav"
        self._clock = clock
        self._resampler = soxr.ResampleStream(INPUT_RATE, RATE, 1, dtype="int16")
        self._buf = np.zeros((RATE * 4, 2), dtype=np.int32)
        self._base = 0  # sample index of _buf[0]
        self._filled = 0  # samples of _buf in use
        self._user_end = 0
        self._model_end = 0
        self._wav: wave.Wave_write | None = None
        self._lock = asyncio.Lock()
        self._flusher: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self._wav = await asyncio.to_thread(self._open_file)
        self._flusher = asyncio.create_task(self._flush_forever(), name="gemini-live-recorder")

    def _open_file(self) -> wave.Wave_write:
        os.makedirs(self.path.parent, mode=0o700, exist_ok=True)
        wav = wave.open(str(self.path), "wb")  # noqa: SIM115 -- open for the session
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        return wav

    def user(self, pcm: bytes) -> None:
        samples = self._resampler.resample_chunk(np.frombuffer(pcm, dtype="<i2"))
        now = self._now_index()
        start = self._user_end if now - self._user_end < GAP_S * RATE else now
        self._user_end = self._mix(USER, start, samples)

    def model(self, pcm: bytes) -> None:
        start = max(self._model_end, self._now_index())
        self._model_end = self._mix(MODEL, start, np.frombuffer(pcm, dtype="<i2"))

    def interrupt(self) -> None:
        """The device stopped playing: drop the model's audio after now."""
        cut = max(self._now_index(), self._base) - self._base
        self._buf[cut:, MODEL] = 0
        self._model_end = min(self._model_end, cut + self._base)

    async def flush(self) -> None:
        """Write out everything up to now (model audio still ahead stays pending)."""
        await self._flush(max(0, min(self._filled, self._now_index() - self._base)))

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        if self._wav is None:
            return
        await self._flush(self._filled)
        wav, self._wav = self._wav, None
        await asyncio.to_thread(wav.close)

    def _now_index(self) -> int:
        return int(self._clock() * RATE)

    def _mix(self, channel: int, start: int, samples: np.ndarray) -> int:
        end = start + len(samples)
        if end <= self._base:  # all of it is older than what is already on disk
            return end
        if start < self._base:  # partly older than what is already on disk
            samples = samples[self._base - start :]
            start = self._base
        need = end - self._base
        if need > len(self._buf):
            grown = np.zeros((max(need, 2 * len(self._buf)), 2), dtype=np.int32)
            grown[: self._filled] = self._buf[: self._filled]
            self._buf = grown
        self._buf[start - self._base : end - self._base, channel] += samples
        self._filled = max(self._filled, need)
        return end

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY_S)
            past = self._now_index() - self._base
            backlog = self._filled - int(MAX_PENDING_S * RATE)
            await self._flush(max(0, min(self._filled, max(past, backlog))))

    async def _flush(self, count: int) -> None:
        if count <= 0 or self._wav is None:
            return
        async with self._lock:
            frames = np.clip(self._buf[:count], -32768, 32767).astype("<i2").tobytes()
            self._buf[: self._filled - count] = self._buf[count : self._filled]
            self._buf[self._filled - count : self._filled] = 0
            self._filled -= count
            self._base += count
            await asyncio.to_thread(self._wav.writeframes, frames)

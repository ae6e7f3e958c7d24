"""Recording a conversation as a stereo WAV: left the user, right the model, at 24 kHz.

Both voices are placed on the session's clock: the microphone arrives in real time, model
audio arrives in bursts ahead of real time and is laid end to end from when it arrived,
the way the device plays it; an interruption cuts the model's track at that moment.
Samples are mixed in memory and written by a worker thread once they are in the past,
so the event loop never waits on the disk.

The file is a valid WAV at any moment (its header is written when it is created and
patched after every write), is private to the server's user (0600), is created inside
the recording folder only and never through a symlink, and stops growing at its size
limit (the recording then ends and says so through `on_stop`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soxr

from .backends.base import BackendError
from .protocol import INPUT_RATE, OUTPUT_RATE

RATE = OUTPUT_RATE
CHANNELS = 2
FRAME_BYTES = CHANNELS * 2
HEADER_BYTES = 44
#: a RIFF file cannot be larger than this
MAX_WAV_BYTES = 0xFFFFFFFF
USER, MODEL = 0, 1
FLUSH_EVERY_S = 1.0
#: model audio may run this far ahead of the clock before it is written anyway
MAX_PENDING_S = 120.0
#: microphone audio later than this after the previous chunk starts a new run
GAP_S = 0.5
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class RecordingUnavailable(BackendError):
    """The recording file cannot be created; the session cannot start as asked."""

    status = 503

    def __init__(self, folder: Path, problem: str) -> None:
        super().__init__(
            "recording_unavailable",
            f"Cannot record into {folder}: {problem}. Set c.GeminiLive.record_dir to a "
            "folder the server can write, or create the session without record.",
        )


@dataclass(frozen=True)
class RecordingSettings:
    """Where recordings go and how large one may grow (from the GeminiLive config)."""

    folder: str
    #: None: only the WAV format's own limit
    max_bytes: int | None = None


class Recorder:
    def __init__(
        self,
        folder: str,
        session_id: str,
        clock: Callable[[], float],
        *,
        max_bytes: int | None = None,
        on_stop: Callable[[str], None] | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        if not SAFE_NAME.fullmatch(session_id):
            raise ValueError(f"not a session id: {session_id!r}")
        self.folder = Path(folder)
        self.path = self.folder / f"{session_id}.wav"
        #: why the recording stopped before the session ended (size limit, disk error)
        self.stopped: str | None = None
        limit = MAX_WAV_BYTES if max_bytes is None else min(max_bytes, MAX_WAV_BYTES)
        self._max_frames = max(0, (limit - HEADER_BYTES) // FRAME_BYTES)
        self._written = 0  # frames on disk
        self._on_stop = on_stop
        self._log = log or logging.getLogger(__name__)
        self._clock = clock
        self._resampler = soxr.ResampleStream(INPUT_RATE, RATE, 1, dtype="int16")
        self._buf = np.zeros((RATE * 4, CHANNELS), dtype=np.int32)
        self._base = 0  # sample index of _buf[0] (everything before it is on disk)
        self._filled = 0  # samples of _buf in use
        self._user_end: int | None = None  # where the microphone's current run ends
        self._model_end = 0
        self._file: BinaryIO | None = None
        self._wav: wave.Wave_write | None = None
        self._lock = asyncio.Lock()
        self._flusher: asyncio.Task[None] | None = None

    # ---- life cycle -------------------------------------------------------------------

    async def open(self) -> None:
        """Create the file (a valid, empty WAV); raises `RecordingUnavailable`."""
        self._file, self._wav = await asyncio.to_thread(self._open_file)
        self._flusher = asyncio.create_task(self._flush_forever(), name="gemini-live-recorder")

    def _open_file(self) -> tuple[BinaryIO, wave.Wave_write]:
        try:
            os.makedirs(self.folder, mode=0o700, exist_ok=True)
            fd = self._create()
        except FileExistsError:
            raise RecordingUnavailable(
                self.folder, f"{self.path.name} exists already (never overwritten nor followed)"
            ) from None
        except OSError as err:
            raise RecordingUnavailable(self.folder, err.strerror or str(err)) from None
        file = os.fdopen(fd, "wb")
        try:
            wav = wave.open(file, "wb")  # noqa: SIM115 -- open for the session
            wav.setnchannels(CHANNELS)
            wav.setsampwidth(2)
            wav.setframerate(RATE)
            wav.writeframes(b"")  # the header: a valid WAV of no frames from now on
            file.flush()
        except OSError as err:
            file.close()
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            raise RecordingUnavailable(self.folder, err.strerror or str(err)) from None
        return file, wav

    def _create(self) -> int:
        """A new file inside the folder, 0600; an existing entry (a symlink included) is
        refused rather than followed or overwritten."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW | CLOEXEC
        if os.open not in os.supports_dir_fd:
            return os.open(self.path, flags, 0o600)
        folder = os.open(self.folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | CLOEXEC)
        try:
            return os.open(self.path.name, flags, 0o600, dir_fd=folder)
        finally:
            os.close(folder)

    async def close(self) -> None:
        """Write out everything (model audio still ahead included) and close the file."""
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        await self._flush(self._base + self._filled)
        await self._close_file()

    async def discard(self) -> None:
        """Close the recording and delete its file (the session is being forgotten)."""
        await self.close()
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(os.unlink, self.path)  # unlink never follows a symlink

    # ---- input --------------------------------------------------------------------------

    def user(self, pcm: bytes) -> None:
        if self.stopped is not None:
            return
        samples = self._resampler.resample_chunk(np.frombuffer(pcm, dtype="<i2"))
        now = self._now_index()
        end = self._user_end
        # The microphone's run continues end to end (the resampler hands out its output
        # in bursts); a pause longer than GAP_S starts a new run at the present.
        start = end if end is not None and now - end < GAP_S * RATE else now
        self._user_end = self._mix(USER, start, samples)

    def model(self, pcm: bytes) -> None:
        if self.stopped is not None:
            return
        start = max(self._model_end, self._now_index())
        self._model_end = self._mix(MODEL, start, np.frombuffer(pcm, dtype="<i2"))

    def interrupt(self) -> None:
        """The device stopped playing: drop the model's audio after now."""
        now = max(self._now_index(), self._base)
        self._buf[now - self._base :, MODEL] = 0
        self._model_end = min(self._model_end, now)

    async def flush(self) -> None:
        """Write out everything up to now (model audio still ahead stays pending)."""
        await self._flush(self._settled())

    # ---- mixing ---------------------------------------------------------------------------

    def _now_index(self) -> int:
        return int(self._clock() * RATE)

    def _settled(self) -> int:
        """The sample index before which nothing more will be mixed: now, or the end of
        the microphone's current run when that lags behind now (its next chunk goes
        there, and the file must not have moved past it)."""
        now = self._now_index()
        end = self._user_end
        if end is not None and now - end < GAP_S * RATE:
            return min(now, end)
        return now

    def _mix(self, channel: int, start: int, samples: np.ndarray) -> int:
        """Add samples at sample index `start`; returns where they end. Whatever falls
        before what is on disk already is dropped."""
        end = start + len(samples)
        if start < self._base:
            samples = samples[min(len(samples), self._base - start) :]
            start = self._base
        if len(samples) == 0:
            return end
        need = end - self._base
        if need > len(self._buf):
            grown = np.zeros((max(need, 2 * len(self._buf)), CHANNELS), dtype=np.int32)
            grown[: self._filled] = self._buf[: self._filled]
            self._buf = grown
        self._buf[start - self._base : need, channel] += samples
        self._filled = max(self._filled, need)
        return end

    # ---- writing ------------------------------------------------------------------------

    async def _flush_forever(self) -> None:
        while self.stopped is None:
            await asyncio.sleep(FLUSH_EVERY_S)
            backlog = self._base + self._filled - int(MAX_PENDING_S * RATE)
            await self._flush(max(self._settled(), backlog))

    async def _flush(self, upto: int) -> None:
        """Write the samples before sample index `upto` (at most what is mixed)."""
        async with self._lock:
            count = min(self._filled, upto - self._base)
            if count <= 0 or self._wav is None:
                return
            take = min(count, self._max_frames - self._written)
            frames = np.clip(self._buf[:take], -32768, 32767).astype("<i2").tobytes()
            self._buf[: self._filled - count] = self._buf[count : self._filled]
            self._buf[self._filled - count : self._filled] = 0
            self._filled -= count
            self._base += count
            try:
                await asyncio.to_thread(self._write, self._wav, frames)
            except OSError as err:
                await self._stop(f"recording stopped: writing {self.path} failed: {err}")
                return
            self._written += take
            if take < count:
                size = (HEADER_BYTES + self._written * FRAME_BYTES) / 1e6
                await self._stop(
                    f"recording stopped at its size limit ({size:.0f} MB, "
                    "c.GeminiLive.recording_max_mb)"
                )

    def _write(self, wav: wave.Wave_write, frames: bytes) -> None:
        wav.writeframes(frames)  # also patches the header's sizes
        if self._file is not None:
            self._file.flush()

    async def _stop(self, reason: str) -> None:
        """Called with the lock held: no more audio is kept or written."""
        self.stopped = reason
        self._filled = 0
        self._buf = np.zeros((0, CHANNELS), dtype=np.int32)
        await self._close_file()
        self._log.warning("gemini-live: %s", reason)
        if self._on_stop is not None:
            self._on_stop(reason)

    async def _close_file(self) -> None:
        wav, self._wav = self._wav, None
        file, self._file = self._file, None
        if wav is not None:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(wav.close)
        if file is not None:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(file.close)

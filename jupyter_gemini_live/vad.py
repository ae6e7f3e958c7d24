"""End-of-utterance detection by frame energy with hysteresis.

Used by the echo backend and by the simulator's server-side activity detection. Speech
starts after `start_ms` of frames louder than `start_db`; it ends after `silence_ms` of
frames quieter than `stop_db`. The gap between the two thresholds keeps a voice that
dips for a moment from being cut in two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

FRAME_MS = 20


@dataclass(frozen=True)
class VadEvent:
    kind: Literal["start", "end"]
    #: the utterance so far at "end" (PCM s16le), including `prefix_ms` before the start
    pcm: bytes = b""


class SpeechDetector:
    """Feed PCM s16le mono of any chunk size; get start/end events back."""

    def __init__(
        self,
        rate: int = 16000,
        *,
        start_db: float = -42.0,
        stop_db: float = -50.0,
        start_ms: int = 60,
        silence_ms: int = 600,
        prefix_ms: int = 100,
        max_utterance_s: float = 30.0,
    ) -> None:
        self.rate = rate
        self.start_db = start_db
        self.stop_db = stop_db
        self._frame_bytes = rate * FRAME_MS // 1000 * 2
        self._start_frames = max(1, start_ms // FRAME_MS)
        self._silence_frames = max(1, silence_ms // FRAME_MS)
        self._prefix_frames = max(0, prefix_ms // FRAME_MS)
        self._max_bytes = int(max_utterance_s * rate) * 2
        self._pending = b""
        self._recent: list[bytes] = []  # frames before speech, for the prefix and the start run
        self._loud_run = 0
        self._quiet_run = 0
        self._utterance = bytearray()
        self.speaking = False

    def feed(self, pcm: bytes) -> list[VadEvent]:
        events: list[VadEvent] = []
        data = self._pending + pcm
        size = self._frame_bytes
        whole = len(data) - len(data) % size
        self._pending = data[whole:]
        # One numpy pass over every whole frame: per-frame numpy calls cost more than the sums.
        for index, level in enumerate(frames_dbfs(data[:whole], size)):
            event = self._frame(data[index * size : (index + 1) * size], level)
            if event is not None:
                events.append(event)
        return events

    def flush(self) -> list[VadEvent]:
        """End any utterance now (the microphone was closed)."""
        if not self.speaking:
            return []
        self._utterance += self._pending
        self._pending = b""
        return [self._end()]

    def reset(self) -> None:
        self._pending = b""
        self._recent.clear()
        self._loud_run = self._quiet_run = 0
        self._utterance = bytearray()
        self.speaking = False

    def _frame(self, frame: bytes, level: float) -> VadEvent | None:
        if not self.speaking:
            self._recent.append(frame)
            del self._recent[: -(self._start_frames + self._prefix_frames)]
            self._loud_run = self._loud_run + 1 if level > self.start_db else 0
            if self._loud_run < self._start_frames:
                return None
            self.speaking = True
            self._quiet_run = 0
            self._utterance = bytearray(b"".join(self._recent))
            self._recent.clear()
            return VadEvent("start")
        self._utterance += frame
        self._quiet_run = self._quiet_run + 1 if level < self.stop_db else 0
        if self._quiet_run >= self._silence_frames or len(self._utterance) >= self._max_bytes:
            return self._end()
        return None

    def _end(self) -> VadEvent:
        # Trailing silence is not part of what the user said.
        trailing = min(self._quiet_run, self._silence_frames) * self._frame_bytes
        pcm = bytes(self._utterance[: max(0, len(self._utterance) - trailing)])
        self.speaking = False
        self._loud_run = self._quiet_run = 0
        self._utterance = bytearray()
        return VadEvent("end", pcm)


def frame_dbfs(pcm: bytes) -> float:
    """RMS level of PCM s16le in dB relative to full scale (-120 for digital silence)."""
    size = len(pcm) - len(pcm) % 2
    return frames_dbfs(pcm, size)[0] if size else -120.0


def frames_dbfs(pcm: bytes, frame_bytes: int) -> list[float]:
    """`frame_dbfs` of each whole frame of `frame_bytes` in `pcm` (any tail is ignored)."""
    count = len(pcm) // frame_bytes
    if count == 0:
        return []
    samples = np.frombuffer(pcm, dtype="<i2", count=count * frame_bytes // 2)
    frames = samples.astype(np.float64).reshape(count, -1)
    full_scale = frames.shape[1] * 32768.0 * 32768.0  # the sum of squares of a full-scale frame
    # 20·log10(rms) with rms floored at 1e-6 (-120 dB), in the power domain; numpy's mean
    # and ufuncs cost more than the arithmetic on a handful of frames
    return [
        10.0 * math.log10(max(total / full_scale, 1e-12))
        for total in (frames * frames).sum(axis=1).tolist()
    ]

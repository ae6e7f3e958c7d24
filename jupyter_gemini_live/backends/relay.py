"""The relay backend: the session's upstream is a kernel instead of a model.

A relay session (`POST sessions {"backend": "relay"}`) has the browser as its device, as
every session does, and a SOURCE: a kernel connected to the stream with `?mode=source`
(`RunningLiveAudio` in `jupyter_gemini_live.client.audio_device`). The device's microphone
goes to the source; what the source sends plays on the device.

- Microphone → kernel: the session delivers the device's frames here (`send_audio`) like
  any upstream's; they wait in a `MicQueue` bounded by bytes (10 s) until the source's
  websocket writes them. A kernel that stops reading loses the OLDEST audio, counted in
  `dropped_input_ms()` (the session's `stats.dropped_in_ms`). Without a source attached the
  microphone is not kept at all (nobody is listening; nothing is counted).
- Kernel → speaker: `play(pcm)` (24 kHz) becomes an `AudioEvent`, which the session sends
  to the device's outbox like model audio (`stats.audio_out_ms`). `clear()` is an
  `InterruptedEvent` + `TurnCompleteEvent`, so the device drops what it has queued and the
  session's turn rules hold. A turn also ends (`TurnCompleteEvent` alone) once the audio
  the kernel sent has run out by the clock (`TURN_END_GRACE_S` after its end), so the
  device's player plays out a short sound instead of waiting for more.
- Everything else a device may send (text, push-to-talk, images) is accepted and ignored:
  there is no model to hear it. A relay session makes no tool calls.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from ..protocol import INPUT_RATE, OUTPUT_RATE, SAMPLE_WIDTH, pcm_ms
from .base import (
    AudioEvent,
    Backend,
    Event,
    EventQueue,
    InterruptedEvent,
    Scheduling,
    SessionOptions,
    ToolImage,
    TurnCompleteEvent,
    Upstream,
    UpstreamClosed,
)

#: microphone audio kept for a source that is not reading: 10 s
MIC_BUFFER_S = 10.0
#: a turn of the kernel's audio ends this long after that audio has run out by the clock
TURN_END_GRACE_S = 0.3
#: events waiting for the session's pump (which takes them at once)
EVENT_QUEUE = 1024


class MicQueue:
    """Microphone frames for the source, bounded by bytes: the oldest go first."""

    def __init__(self, max_bytes: int = int(INPUT_RATE * SAMPLE_WIDTH * MIC_BUFFER_S)) -> None:
        self.max_bytes = max_bytes
        self.dropped_bytes = 0
        self._frames: deque[bytes] = deque()
        self._bytes = 0
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        """Bytes queued."""
        return self._bytes

    def put(self, pcm: bytes) -> None:
        if not pcm:
            return
        self._frames.append(pcm)
        self._bytes += len(pcm)
        while self._bytes > self.max_bytes:
            oldest = self._frames.popleft()
            self._bytes -= len(oldest)
            self.dropped_bytes += len(oldest)
        self._ready.set()

    def clear(self) -> None:
        self._frames.clear()
        self._bytes = 0

    async def get(self) -> bytes:
        """The oldest frame, waiting for one."""
        while not self._frames:
            self._ready.clear()
            await self._ready.wait()
        frame = self._frames.popleft()
        self._bytes -= len(frame)
        return frame


class RelayBackend(Backend):
    """Always available: no key, nothing to install."""

    name = "relay"

    async def connect(self, options: SessionOptions) -> RelayUpstream:
        return RelayUpstream()


class RelayUpstream(Upstream):
    def __init__(self) -> None:
        self.mic = MicQueue()
        self._listening = False
        self._events = EventQueue(EVENT_QUEUE)
        self._closed = False
        self._turn_has_audio = False
        self._audio_until = 0.0  # loop time when the audio sent in this turn runs out
        self._turn_end: asyncio.Task[None] | None = None

    # ---- the source side (called by the session for its source connection) ----------

    def listen(self, listening: bool) -> None:
        """A source attached (keep the microphone for it, from now) or left (stop)."""
        self._listening = listening
        self.mic.clear()

    def play(self, pcm: bytes) -> bool:
        """Audio for the device (PCM s16le mono 24 kHz); False when it had to be dropped."""
        self._check_open()
        if not pcm:
            return True
        if not self._put(AudioEvent(pcm, time.monotonic())):
            return False
        now = asyncio.get_running_loop().time()
        self._audio_until = max(self._audio_until, now) + pcm_ms(len(pcm), OUTPUT_RATE) / 1000
        self._turn_has_audio = True
        if self._turn_end is None or self._turn_end.done():
            self._turn_end = asyncio.create_task(self._end_turn_when_played(), name="relay-turn")
        return True

    def clear(self) -> None:
        """Drop what the device has queued: the turn is interrupted (and over)."""
        self._check_open()
        self._cancel_turn_end()
        self._turn_has_audio = False
        self._audio_until = 0.0
        self._put(InterruptedEvent())
        self._put(TurnCompleteEvent())

    def dropped_input_ms(self) -> float:
        return pcm_ms(self.mic.dropped_bytes, INPUT_RATE)

    async def _end_turn_when_played(self) -> None:
        loop = asyncio.get_running_loop()
        while True:  # more audio may come meanwhile, which moves the end
            left = self._audio_until + TURN_END_GRACE_S - loop.time()
            if left <= 0:
                break
            await asyncio.sleep(left)
        if self._turn_has_audio and not self._closed:
            self._turn_has_audio = False
            self._put(TurnCompleteEvent())

    def _cancel_turn_end(self) -> None:
        if self._turn_end is not None:
            self._turn_end.cancel()
            self._turn_end = None

    def _put(self, event: Event) -> bool:
        try:
            self._events.put_nowait(event)
        except asyncio.QueueFull:
            return False
        return True

    # ---- Upstream: what the device sends ----------------------------------------------

    async def send_audio(self, pcm: bytes) -> None:
        self._check_open()
        if self._listening:
            self.mic.put(pcm)

    async def send_text(self, text: str) -> None:
        self._check_open()  # no model to read it; the session's transcript has it

    async def activity_start(self) -> None:
        self._check_open()

    async def activity_end(self) -> None:
        self._check_open()

    async def audio_stream_end(self) -> None:
        self._check_open()

    async def send_image(self, mime_type: str, data: bytes) -> None:
        self._check_open()

    async def send_tool_response(
        self,
        call_id: str,
        name: str,
        response: Mapping[str, Any],
        scheduling: Scheduling | None = None,
        images: Sequence[ToolImage] = (),
    ) -> None:
        self._check_open()
        raise ValueError("a relay session makes no tool calls")

    def events(self) -> AsyncIterator[Event]:
        return self._events.drain()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._cancel_turn_end()
        self.mic.clear()
        self._events.end()

    def _check_open(self) -> None:
        if self._closed:
            raise UpstreamClosed("the relay session is closed")

"""The offline echo backend: hear yourself back, with no key and no network.

It is the microphone and speaker check of the Colab guide as a conversation: each
utterance (end of speech detected after a pause, or push-to-talk released) is played
back at 24 kHz. It talks like a model on the wire: the reply comes paced a little ahead
of real time, talking over it interrupts it, typed text gets a short tone and the text
in the transcript, and `call NAME {json}` typed as text makes a tool call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import AsyncIterator, Mapping
from typing import Any

import numpy as np
import soxr

from ..vad import SpeechDetector
from .base import (
    INPUT_RATE,
    OUTPUT_RATE,
    AudioEvent,
    Backend,
    Event,
    InterruptedEvent,
    SessionOptions,
    ToolCallEvent,
    TranscriptEvent,
    TurnCompleteEvent,
    Upstream,
    UpstreamClosed,
)

CHUNK_MS = 100
#: how far ahead of real time replies are sent, like Gemini's bursts (jitter-buffer food)
LEAD_MS = 300
TONE_HZ = 660.0
TONE_MS = 300
EVENT_QUEUE = 512


class EchoBackend(Backend):
    name = "echo"

    async def connect(self, options: SessionOptions) -> Upstream:
        return EchoUpstream(options)


class EchoUpstream(Upstream):
    def __init__(self, options: SessionOptions) -> None:
        self._manual = options.activity_detection == "manual"
        self._transcribe = options.transcription
        self._detector = SpeechDetector(
            INPUT_RATE,
            silence_ms=options.vad.silence_ms,
            prefix_ms=options.vad.prefix_padding_ms,
        )
        self._events: asyncio.Queue[Event | None] = asyncio.Queue(EVENT_QUEUE)
        self._held: bytearray | None = None  # push-to-talk audio while the button is held
        self._reply: asyncio.Task[None] | None = None
        self._tool_calls: dict[str, str] = {}
        self._calls = 0
        self._closed = False

    # ---- input --------------------------------------------------------------------

    async def send_audio(self, pcm: bytes) -> None:
        self._check_open()
        if self._manual:
            if self._held is not None:
                self._held += pcm
            return
        for event in self._detector.feed(pcm):
            if event.kind == "start":
                await self._interrupt()
            else:
                await self._answer_speech(event.pcm)

    async def activity_start(self) -> None:
        self._check_open()
        await self._interrupt()
        self._held = bytearray()

    async def activity_end(self) -> None:
        self._check_open()
        held, self._held = self._held, None
        if held:
            await self._answer_speech(bytes(held))

    async def audio_stream_end(self) -> None:
        self._check_open()
        for event in self._detector.flush():
            await self._answer_speech(event.pcm)

    async def send_text(self, text: str) -> None:
        self._check_open()
        await self._interrupt()
        call = _parse_call(text)
        if call is not None:
            self._calls += 1
            call_id = f"echo-call-{self._calls}"
            self._tool_calls[call_id] = call[0]
            await self._events.put(ToolCallEvent(call_id, call[0], call[1]))
            return
        self._start_reply(_tone(TONE_MS), f"You said: {text}")

    async def send_image(self, mime_type: str, data: bytes) -> None:
        self._check_open()  # the echo has no eyes; frames are accepted and ignored

    async def send_tool_response(
        self, call_id: str, name: str, response: Mapping[str, Any]
    ) -> None:
        self._check_open()
        if self._tool_calls.pop(call_id, None) is None:
            raise ValueError(f"no pending tool call with id {call_id!r}")
        result = json.dumps(dict(response), sort_keys=True)
        self._start_reply(_tone(TONE_MS), f"{name} returned {result}")

    # ---- output -------------------------------------------------------------------

    async def events(self) -> AsyncIterator[Event]:
        while True:
            event = await self._events.get()
            if event is None:
                return
            yield event

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._cancel_reply()
        with contextlib.suppress(asyncio.QueueFull):
            self._events.put_nowait(None)

    # ---- replies ------------------------------------------------------------------

    async def _answer_speech(self, pcm: bytes) -> None:
        seconds = len(pcm) / 2 / INPUT_RATE
        if self._transcribe:
            await self._events.put(TranscriptEvent("user", f"({seconds:.1f} s of speech)", True))
        samples = np.frombuffer(pcm, dtype="<i2")
        reply = soxr.resample(samples, INPUT_RATE, OUTPUT_RATE).astype("<i2").tobytes()
        self._start_reply(reply, f"Echo of {seconds:.1f} s of speech")

    def _start_reply(self, pcm: bytes, text: str) -> None:
        # A reply that is still playing finishes first; cancelling the newest reply cancels
        # the one it waits for too, so one reference is enough to stop them all.
        previous = self._reply
        self._reply = asyncio.create_task(
            self._play(pcm, text, after=previous), name="gemini-live-echo-reply"
        )

    async def _play(self, pcm: bytes, text: str, after: asyncio.Task[None] | None) -> None:
        if after is not None and not after.done():
            await after
        if self._transcribe:
            await self._events.put(TranscriptEvent("model", text))
        loop = asyncio.get_running_loop()
        start = loop.time()
        chunk = OUTPUT_RATE * CHUNK_MS // 1000 * 2
        for offset in range(0, len(pcm), chunk):
            due = start + (offset / 2 / OUTPUT_RATE) - LEAD_MS / 1000
            await asyncio.sleep(max(0.0, due - loop.time()))
            await self._events.put(AudioEvent(pcm[offset : offset + chunk]))
        # The turn is over when the listener has heard it, as with a real model.
        await asyncio.sleep(max(0.0, start + len(pcm) / 2 / OUTPUT_RATE - loop.time()))
        if self._transcribe:
            await self._events.put(TranscriptEvent("model", "", True))
        await self._events.put(TurnCompleteEvent())

    async def _interrupt(self) -> None:
        if self._reply is None or self._reply.done():
            return
        await self._cancel_reply()
        await self._events.put(InterruptedEvent())
        await self._events.put(TurnCompleteEvent())

    async def _cancel_reply(self) -> None:
        reply, self._reply = self._reply, None
        if reply is not None:
            reply.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reply

    def _check_open(self) -> None:
        if self._closed:
            raise UpstreamClosed("the echo session is closed")


def _tone(ms: int) -> bytes:
    """A soft beep with 10 ms ramps, so it does not click."""
    n = OUTPUT_RATE * ms // 1000
    t = np.arange(n) / OUTPUT_RATE
    ramp = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)
    wave = 0.25 * np.sin(2 * math.pi * TONE_HZ * t) * ramp
    return (wave * 32767).astype("<i2").tobytes()


def _parse_call(text: str) -> tuple[str, dict[str, Any]] | None:
    """`call NAME {json}` → (NAME, args); anything else is ordinary text."""
    words = text.strip().split(None, 2)
    if len(words) < 2 or words[0].lower() != "call" or not words[1].isidentifier():
        return None
    try:
        args = json.loads(words[2]) if len(words) == 3 else {}
    except ValueError:
        return None
    return (words[1], args) if isinstance(args, dict) else None

"""The offline echo backend: hear yourself back, with no key and no network.

It is the microphone and speaker check of the Colab guide as a conversation: each
utterance (end of speech detected after a pause, or push-to-talk released) is played
back at 24 kHz. It talks like a model on the wire: the reply comes paced a little ahead
of real time, talking over it interrupts it, typed text gets a short tone and the text
in the transcript, and `call NAME {json}` typed as text makes a tool call. The
conversation itself is the offline engine's (`jupyter_gemini_live.offline`), which the
simulator shares.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from .. import offline
from .base import (
    AudioEvent,
    Backend,
    Event,
    EventQueue,
    InterruptedEvent,
    Scheduling,
    SessionOptions,
    ToolCallEvent,
    ToolImage,
    TranscriptEvent,
    TurnCompleteEvent,
    Upstream,
    UpstreamClosed,
)

#: replies go out in 100 ms chunks, up to 300 ms ahead of real time, like Gemini's bursts
PACING = offline.Pacing(chunk_s=0.1, lead_s=0.3)
TONE_HZ = 660.0
TONE_S = 0.3
EVENT_QUEUE = 512


class EchoBackend(Backend):
    name = "echo"

    async def connect(self, options: SessionOptions) -> Upstream:
        return EchoUpstream(options)


class EchoUpstream(Upstream):
    def __init__(self, options: SessionOptions) -> None:
        self._transcribe = options.transcription
        listener = offline.Listener(
            offline.detector(
                silence_ms=options.vad.silence_ms,
                prefix_ms=options.vad.prefix_padding_ms,
                start_sensitivity=options.vad.start_sensitivity,
            ),
            manual=options.activity_detection == "manual",
        )
        self._events = EventQueue(EVENT_QUEUE)
        self._player = offline.ReplyPlayer(
            _Voice(self._events, self._transcribe), PACING, name="gemini-live-echo-reply"
        )
        self._engine = offline.Engine(
            listener, self._player, on_utterance=self._answer_speech, on_text=self._answer_text
        )
        self._tool_calls: dict[str, str] = {}
        self._calls = 0
        self._closed = False

    # ---- input --------------------------------------------------------------------

    async def send_audio(self, pcm: bytes) -> None:
        self._check_open()
        await self._engine.audio(pcm)

    async def activity_start(self) -> None:
        self._check_open()
        await self._engine.activity_start()

    async def activity_end(self) -> None:
        self._check_open()
        await self._engine.activity_end()

    async def audio_stream_end(self) -> None:
        self._check_open()
        await self._engine.audio_stream_end()

    async def send_text(self, text: str) -> None:
        self._check_open()
        await self._engine.text(text)

    async def send_image(self, mime_type: str, data: bytes) -> None:
        self._check_open()  # the echo has no eyes; frames are accepted and ignored

    async def send_tool_response(
        self,
        call_id: str,
        name: str,
        response: Mapping[str, Any],
        scheduling: Scheduling | None = None,
        images: Sequence[ToolImage] = (),
    ) -> None:
        self._check_open()
        if self._tool_calls.pop(call_id, None) is None:
            raise ValueError(f"no pending tool call with id {call_id!r}")
        if scheduling == "SILENT":
            # Taken in without a word; the turn of the call ends if nothing is playing.
            if not self._player.playing:
                await self._events.put(TurnCompleteEvent())
            return
        if scheduling == "INTERRUPT":
            await self._player.interrupt()
        # Otherwise (WHEN_IDLE, or no scheduling) a reply still playing finishes first.
        self._player.play(
            offline.Reply(self._tone(), offline.returned(name, response, len(images)))
        )

    # ---- output -------------------------------------------------------------------

    def events(self) -> AsyncIterator[Event]:
        return self._events.drain()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._player.stop()
        self._events.end()

    # ---- answers (the engine's hooks) ---------------------------------------------

    async def _answer_speech(self, pcm: bytes) -> None:
        seconds = offline.speech_seconds(pcm)
        if self._transcribe:
            await self._events.put(TranscriptEvent("user", f"({seconds:.1f} s of speech)", True))
        self._player.play(
            offline.Reply(offline.echo_audio(pcm), f"Echo of {seconds:.1f} s of speech")
        )

    async def _answer_text(self, text: str) -> None:
        call = offline.parse_call(text)
        if call is None:
            self._player.play(offline.Reply(self._tone(), f"You said: {text}"))
            return
        self._calls += 1
        call_id = f"echo-call-{self._calls}"
        self._tool_calls[call_id] = call.name
        await self._events.put(ToolCallEvent(call_id, call.name, call.args))

    @staticmethod
    def _tone() -> bytes:
        return offline.tone(TONE_S, TONE_HZ)

    def _check_open(self) -> None:
        if self._closed:
            raise UpstreamClosed("the echo session is closed")


class _Voice:
    """How the echo's replies reach the session (an `offline.ReplyOutput`)."""

    def __init__(self, events: EventQueue, transcribe: bool) -> None:
        self._events = events
        self._transcribe = transcribe

    async def started(self, reply: offline.Reply) -> None:
        if self._transcribe:
            await self._events.put(TranscriptEvent("model", reply.transcript))

    async def chunk(self, reply: offline.Reply, pcm: bytes, words: str) -> None:
        await self._events.put(AudioEvent(pcm, time.monotonic()))

    async def sent(self, reply: offline.Reply) -> None:
        pass  # the turn is over when the listener has heard it, as with a real model

    async def finished(self, reply: offline.Reply) -> None:
        if self._transcribe:
            await self._events.put(TranscriptEvent("model", "", True))
        await self._events.put(TurnCompleteEvent())

    async def interrupted(self) -> None:
        await self._events.put(InterruptedEvent())
        await self._events.put(TurnCompleteEvent())

"""The offline conversation engine: what the echo backend and the simulator have in common.

Neither understands a word; both hold a conversation the way a model does on the wire.
This module is that shared behaviour, so the two cannot drift apart:

- `Listener`: where a user turn starts and ends. Automatic activity detection is
  `vad.SpeechDetector` (energy with hysteresis); push-to-talk buffers the audio between
  activity start and end.
- `Engine`: the user's side of the conversation. Speech starting, push-to-talk pressed
  or text typed barges in on the reply that is playing; each utterance or text is handed
  to the owner (`on_utterance`, `on_text`), which decides what to say back.
- `parse_call`: the one grammar of `call NAME {json}`, typed text that asks for a tool.
- `tone`, `echo_audio`: the voices of replies (a tone for text, the user's own speech
  resampled from `INPUT_RATE` to `OUTPUT_RATE` for speech).
- `ReplyPlayer`: replies "play" one after another on a real-time clock; their audio is
  sent in chunks up to `Pacing.lead_s` ahead of it, the way the real service bursts, and a
  turn is complete when its audio has been heard. Barge-in stops what has not been heard.

The product (`backends/echo.py`) and its test double (`simulator/`) both import this
module; it imports neither.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, TypeVar

import numpy as np
import soxr

from .protocol import INPUT_RATE, OUTPUT_RATE
from .vad import SpeechDetector, VadEvent

log = logging.getLogger(__name__)

# ---- `call NAME {json}` ----------------------------------------------------------------

#: `call` (any case), a function name as the Live API allows it (a letter or `_`, then
#: letters, digits, `_ . : -`, 64 at most), then optionally a JSON object
CALL = re.compile(
    r"\s*(?i:call)\s+(?P<name>[A-Za-z_][A-Za-z0-9_.:-]{0,63})(?:\s*(?P<args>\{.*\}))?\s*",
    re.S,
)


@dataclass(frozen=True)
class CallRequest:
    """Typed text that asks the model to call a function."""

    name: str
    args: dict[str, Any]


def parse_call(text: str) -> CallRequest | None:
    """`call NAME {json}` → the call; anything else (bad JSON included) is ordinary text."""
    match = CALL.fullmatch(text)
    if match is None:
        return None
    try:
        args = json.loads(match["args"]) if match["args"] else {}
    except ValueError:
        return None
    return CallRequest(match["name"], args) if isinstance(args, dict) else None


def returned(name: str, response: Any) -> str:
    """What the model says about a function's answer (JSON, keys sorted)."""
    value = dict(response) if isinstance(response, Mapping) else response
    return f"{name} returned {json.dumps(value, sort_keys=True)}"


# ---- voices ------------------------------------------------------------------------------

#: how loud a tone is, relative to full scale
TONE_LEVEL = 0.2
#: fade in and out of a tone, so it does not click
FADE_S = 0.01


def tone(seconds: float, freq: float) -> bytes:
    """A soft sine at `OUTPUT_RATE` with short fades: a "voice" without clicks."""
    t = np.arange(round(seconds * OUTPUT_RATE)) / OUTPUT_RATE
    wave = TONE_LEVEL * np.sin(2 * math.pi * freq * t)
    fade = min(len(t) // 2, round(FADE_S * OUTPUT_RATE))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        wave[:fade] *= ramp
        wave[-fade:] *= ramp[::-1]
    return (wave * 32767).astype("<i2").tobytes()


def echo_audio(pcm: bytes) -> bytes:
    """The user's speech (s16le at `INPUT_RATE`) as reply audio at `OUTPUT_RATE`."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    if samples.size == 0:
        return b""
    out = np.asarray(soxr.resample(samples, INPUT_RATE, OUTPUT_RATE), dtype=np.float32)
    return bytes((np.clip(out, -1.0, 1.0) * 32767).astype("<i2").tobytes())


def speech_seconds(pcm: bytes) -> float:
    """How long the user spoke: s16le mono at `INPUT_RATE`."""
    return len(pcm) / 2 / INPUT_RATE


# ---- hearing the user --------------------------------------------------------------------

StartSensitivity = Literal["high", "low"]
#: the start threshold (dBFS) of speech for each start-of-speech sensitivity
START_DB: dict[StartSensitivity | None, float] = {"high": -48.0, None: -42.0, "low": -36.0}


def detector(
    *, silence_ms: int, prefix_ms: int, start_sensitivity: StartSensitivity | None = None
) -> SpeechDetector:
    """End-of-speech detection with a session's activity-detection settings."""
    return SpeechDetector(
        INPUT_RATE,
        start_db=START_DB[start_sensitivity],
        silence_ms=silence_ms,
        prefix_ms=prefix_ms,
    )


class Listener:
    """Where the user's turns start and end, from audio energy or push-to-talk.

    `manual` (automatic activity detection disabled): only `activity_start` and
    `activity_end` delimit a turn, and audio outside them is not heard.
    """

    def __init__(self, speech: SpeechDetector, *, manual: bool = False) -> None:
        self.speech = speech
        self.manual = manual
        #: push-to-talk audio between activity start and end (None: no activity)
        self.held: bytearray | None = None

    def audio(self, pcm: bytes) -> list[VadEvent]:
        """Speech starting ("start") and utterances ending ("end", with their audio)."""
        if self.manual:
            if self.held is not None:
                self.held += pcm
            return []
        return self.speech.feed(pcm)

    def activity_start(self) -> None:
        self.held = bytearray()

    def activity_end(self) -> bytes:
        """The push-to-talk utterance (empty when nothing was said)."""
        held, self.held = self.held, None
        return bytes(held or b"")

    def stream_end(self) -> list[bytes]:
        """The microphone closed: the utterance in progress ends now."""
        if self.manual:
            return []
        return [event.pcm for event in self.speech.flush()]


# ---- replies -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """One model turn: its audio (s16le at `OUTPUT_RATE`) and what the model "said"."""

    pcm: bytes
    transcript: str

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / OUTPUT_RATE

    def chunks(self, chunk_s: float) -> list[bytes]:
        """The audio cut into messages of `chunk_s` (at least one, 10 ms of silence)."""
        size = round(chunk_s * OUTPUT_RATE) * 2
        pcm = self.pcm or bytes(OUTPUT_RATE // 100 * 2)
        return [pcm[i : i + size] for i in range(0, len(pcm), size)]

    def transcript_pieces(self, count: int) -> list[str]:
        """The transcript cut into `count` deltas (some empty), the way it streams."""
        words = self.transcript.split(" ")
        per = max(1, math.ceil(len(words) / max(1, count)))
        pieces = [" ".join(words[i : i + per]) for i in range(0, len(words), per)]
        # Deltas are appended as they are: every piece but the first starts with a space.
        pieces = [pieces[0]] + [" " + piece for piece in pieces[1:]]
        return pieces + [""] * (count - len(pieces))


@dataclass(frozen=True)
class Pacing:
    """How reply audio is sent: `chunk_s` per message, up to `lead_s` (seconds of real
    time) ahead of playback; `speed` > 1 runs the playback clock faster (tests)."""

    chunk_s: float
    lead_s: float
    speed: float = 1.0


R = TypeVar("R", bound=Reply)
R_contra = TypeVar("R_contra", bound=Reply, contravariant=True)


class ReplyOutput(Protocol[R_contra]):
    """What the owner of a `ReplyPlayer` says on the wire at each moment of a reply."""

    async def started(self, reply: R_contra) -> None:
        """The reply starts playing (nothing of it was sent yet)."""

    async def chunk(self, reply: R_contra, pcm: bytes, words: str) -> None:
        """Audio to send now, with its share of the transcript (may be empty)."""

    async def sent(self, reply: R_contra) -> None:
        """All the reply's audio was sent (it is still playing)."""

    async def finished(self, reply: R_contra) -> None:
        """The listener has heard the whole reply: the turn is complete."""

    async def interrupted(self) -> None:
        """The user barged in: what was not heard yet is dropped."""


class ReplyPlayer(Generic[R]):
    """Replies played one after another on a real-time clock.

    A reply queued while another plays (or finishes) waits for it. `interrupt()` stops
    every reply not heard in full and tells the output once; a reply already heard in
    full and only finishing its turn is left to finish.
    """

    def __init__(self, output: ReplyOutput[R], pacing: Pacing, *, name: str) -> None:
        self.output = output
        self.pacing = pacing
        self._name = name
        self._queue: deque[R] = deque()
        self._task: asyncio.Task[None] | None = None
        self._heard_at = 0.0  # loop time when the reply playing now has been heard

    @property
    def playing(self) -> bool:
        """A reply is waiting, or playing and not heard in full yet."""
        if self._task is None or self._task.done():
            return False
        return bool(self._queue) or asyncio.get_running_loop().time() < self._heard_at

    def play(self, reply: R) -> None:
        self._queue.append(reply)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=self._name)
            self._task.add_done_callback(_report_failure)

    async def interrupt(self) -> bool:
        """Barge-in: stop what is playing; True when a reply was cut short."""
        if not self.playing:
            return False
        await self.stop()
        await self.output.interrupted()
        return True

    async def stop(self) -> None:
        """Stop every reply, saying nothing (the conversation is closing)."""
        self._queue.clear()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while self._queue:
            await self._play(self._queue.popleft())

    async def _play(self, reply: R) -> None:
        loop = asyncio.get_running_loop()
        pacing = self.pacing
        start = loop.time()
        self._heard_at = start + reply.seconds / pacing.speed
        await self.output.started(reply)
        chunks = reply.chunks(pacing.chunk_s)
        pieces = reply.transcript_pieces(len(chunks))
        for index, (pcm, words) in enumerate(zip(chunks, pieces, strict=True)):
            due = start + index * pacing.chunk_s / pacing.speed - pacing.lead_s
            await asyncio.sleep(max(0.0, due - loop.time()))
            await self.output.chunk(reply, pcm, words)
        await self.output.sent(reply)
        await asyncio.sleep(max(0.0, self._heard_at - loop.time()))
        await self.output.finished(reply)


def _report_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("an offline reply failed", exc_info=task.exception())


# ---- the user's side -----------------------------------------------------------------------


class Engine:
    """The user's side of an offline conversation, shared by the echo and the simulator.

    Input goes in through the same calls as an upstream's; speech starting, push-to-talk
    pressed and typed text barge in on the reply playing; what the user said is handed to
    `on_utterance` (PCM at `INPUT_RATE`) or `on_text`, which decide the answer.
    """

    def __init__(
        self,
        listener: Listener,
        player: ReplyPlayer[Any],
        *,
        on_utterance: Callable[[bytes], Awaitable[None]],
        on_text: Callable[[str], Awaitable[None]],
    ) -> None:
        self.listener = listener
        self.player = player
        self._on_utterance = on_utterance
        self._on_text = on_text

    async def audio(self, pcm: bytes) -> None:
        for event in self.listener.audio(pcm):
            if event.kind == "start":
                await self.barge_in()
            else:
                await self._on_utterance(event.pcm)

    async def activity_start(self) -> None:
        self.listener.activity_start()
        await self.barge_in()

    async def activity_end(self) -> None:
        pcm = self.listener.activity_end()
        if pcm:
            await self._on_utterance(pcm)

    async def audio_stream_end(self) -> None:
        for pcm in self.listener.stream_end():
            await self._on_utterance(pcm)

    async def text(self, text: str) -> None:
        await self.barge_in()
        await self._on_text(text)

    async def barge_in(self) -> bool:
        """The user takes the turn: stop a reply still playing (True when one was)."""
        return await self.player.interrupt()

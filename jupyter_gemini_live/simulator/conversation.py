"""What a simulated conversation remembers across connections, and what it says back.

A conversation outlives its connections: a client that resumes with a handle finds the
turn count, the records and even a half-finished utterance where it left them. The
records are what tests assert on ("the simulator heard every millisecond we sent").
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import soxr

from ..vad import SpeechDetector
from .protocol import field as get

INPUT_RATE = 16000
OUTPUT_RATE = 24000
#: the real service talks in bursts of about this much audio per message
BURST_S = 0.24
#: rough token rate of audio, for usageMetadata
TOKENS_PER_S = 25

TOOL_REQUEST = re.compile(r"^\s*call\s+(?P<name>[A-Za-z_][\w.-]*)\s*(?P<args>\{.*\})?\s*$", re.S)
SENSITIVITY_DB = {"START_SENSITIVITY_HIGH": -48.0, "START_SENSITIVITY_LOW": -36.0}


@dataclass
class SetupSettings:
    """The parts of a `setup` message that change how the simulator behaves."""

    model: str
    manual_activity: bool = False
    silence_ms: int = 600
    prefix_ms: int = 100
    start_db: float = -42.0
    input_transcription: bool = False
    output_transcription: bool = False
    resumption: bool = False
    resume_handle: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, setup: Mapping[str, Any]) -> SetupSettings:
        detection = get(get(setup, "realtime_input_config", {}), "automatic_activity_detection")
        resumption = get(setup, "session_resumption")
        settings = cls(
            model=str(get(setup, "model", "")),
            input_transcription=get(setup, "input_audio_transcription") is not None,
            output_transcription=get(setup, "output_audio_transcription") is not None,
            resumption=resumption is not None,
            resume_handle=get(resumption, "handle") or None,
            raw=setup,
        )
        if isinstance(detection, Mapping):
            settings.manual_activity = bool(get(detection, "disabled", False))
            settings.silence_ms = int(get(detection, "silence_duration_ms", 600) or 600)
            settings.prefix_ms = int(get(detection, "prefix_padding_ms", 100) or 100)
            sensitivity = str(get(detection, "start_of_speech_sensitivity", ""))
            settings.start_db = SENSITIVITY_DB.get(sensitivity, -42.0)
        return settings

    def detector(self) -> SpeechDetector:
        return SpeechDetector(
            INPUT_RATE,
            start_db=self.start_db,
            silence_ms=self.silence_ms,
            prefix_ms=self.prefix_ms,
        )


@dataclass
class Reply:
    """One model turn: its audio (24 kHz PCM) and what the model "said"."""

    pcm: bytes
    transcript: str
    prompt_tokens: int

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / OUTPUT_RATE

    def bursts(self) -> list[bytes]:
        size = int(BURST_S * OUTPUT_RATE) * 2
        return [self.pcm[i : i + size] for i in range(0, len(self.pcm), size)] or [bytes(480)]

    def transcript_pieces(self, count: int) -> list[str]:
        """The transcript cut into `count` deltas (some empty), the way it streams."""
        words = self.transcript.split(" ")
        per = max(1, math.ceil(len(words) / max(1, count)))
        pieces = [" ".join(words[i : i + per]) for i in range(0, len(words), per)]
        # Deltas are appended as they are: every piece but the first starts with a space.
        pieces = [pieces[0]] + [" " + piece for piece in pieces[1:]]
        return pieces + [""] * (count - len(pieces))


class Conversation:
    """State and records of one conversation, across all its connections."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.turns = 0
        self.interruptions = 0
        self.connections = 0
        self.overlapping_connections = 0
        self.audio_in_bytes = 0
        self.images = 0
        self.texts: list[str] = []
        self.tool_calls: list[dict[str, Any]] = []
        self.tool_responses: list[dict[str, Any]] = []
        self.setups: list[Mapping[str, Any]] = []
        self.pending_tool: dict[str, Any] | None = None
        self.detector: SpeechDetector | None = None
        #: push-to-talk audio between activityStart and activityEnd (None: no activity)
        self.activity: bytearray | None = None
        self._handles = 0

    @property
    def audio_in_ms(self) -> float:
        return self.audio_in_bytes / 2 / INPUT_RATE * 1000

    def new_handle(self) -> str:
        self._handles += 1
        return f"sim-{self.number}-{self._handles}"

    def attach(self, settings: SetupSettings, *, overlapping: bool = False) -> None:
        """A connection opened (or resumed) this conversation; `overlapping`: while
        another connection of it was still open (the real service refuses to resume then).
        """
        self.connections += 1
        self.overlapping_connections += overlapping
        self.setups.append(settings.raw)
        if self.detector is None or settings.resume_handle is None:
            self.detector = settings.detector()

    def speech_reply(self, pcm: bytes) -> tuple[str, Reply]:
        """Echo an utterance back at the output rate; returns (input transcript, reply)."""
        self.turns += 1
        seconds = len(pcm) / 2 / INPUT_RATE
        heard = f"({seconds:.1f} s of speech)"
        reply = Reply(
            pcm=resample_to_output(pcm),
            transcript=f"Turn {self.turns}: you spoke for {seconds:.1f} seconds.",
            prompt_tokens=math.ceil(seconds * TOKENS_PER_S),
        )
        return heard, reply

    def text_reply(self, text: str) -> Reply | dict[str, Any]:
        """A reply to a typed turn, or the function call it asks for."""
        self.turns += 1
        self.texts.append(text)
        request = TOOL_REQUEST.match(text)
        if request:
            call = {
                "id": f"call-{self.number}-{len(self.tool_calls) + 1}",
                "name": request["name"],
                "args": json.loads(request["args"] or "{}"),
            }
            self.tool_calls.append(call)
            self.pending_tool = call
            return call
        return spoken(f"Turn {self.turns}: you said: {text}", len(text) // 4 + 1)

    def tool_reply(self, response: Mapping[str, Any]) -> Reply | None:
        """Record a toolResponse entry; answer it when it is the awaited one."""
        self.tool_responses.append(dict(response))
        call = self.pending_tool
        if call is None or get(response, "id") != call["id"]:
            return None
        self.pending_tool = None
        result = json.dumps(get(response, "response", {}), sort_keys=True)
        return spoken(f"Turn {self.turns}: {call['name']} returned {result}", 8)


def spoken(transcript: str, prompt_tokens: int) -> Reply:
    """A reply whose voice is a tone about as long as reading the transcript aloud."""
    seconds = min(6.0, 0.4 + 0.05 * len(transcript))
    return Reply(pcm=tone(seconds), transcript=transcript, prompt_tokens=prompt_tokens)


def tone(seconds: float, freq: float = 440.0) -> bytes:
    """A soft sine with short fades, so a listener hears a "voice" and no clicks."""
    t = np.arange(int(seconds * OUTPUT_RATE)) / OUTPUT_RATE
    wave = 0.2 * np.sin(2 * np.pi * freq * t)
    fade = min(len(t) // 2, OUTPUT_RATE // 100)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        wave[:fade] *= ramp
        wave[-fade:] *= ramp[::-1]
    return (wave * 32767).astype("<i2").tobytes()


def resample_to_output(pcm: bytes) -> bytes:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    if samples.size == 0:
        return b""
    out = np.asarray(soxr.resample(samples, INPUT_RATE, OUTPUT_RATE), dtype=np.float32)
    return bytes((np.clip(out, -1.0, 1.0) * 32767).astype("<i2").tobytes())

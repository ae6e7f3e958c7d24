"""What a simulated conversation remembers across connections, and what it says back.

A conversation outlives its connections: a client that resumes with a handle finds the
turn count, the records and even a half-finished utterance where it left them. The
records are what tests assert on ("the simulator heard every millisecond we sent").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import offline
from ..protocol import INPUT_RATE
from .protocol import field as get

#: the real service talks in bursts of about this much audio per message
BURST_S = 0.24
#: rough token rate of audio, for usageMetadata
TOKENS_PER_S = 25
#: the pitch of the simulated voice
TONE_HZ = 440.0

SENSITIVITY: dict[str, offline.StartSensitivity] = {
    "START_SENSITIVITY_HIGH": "high",
    "START_SENSITIVITY_LOW": "low",
}


@dataclass
class SetupSettings:
    """The parts of a `setup` message that change how the simulator behaves."""

    model: str
    manual_activity: bool = False
    silence_ms: int = 600
    prefix_ms: int = 100
    start_sensitivity: offline.StartSensitivity | None = None
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
            settings.start_sensitivity = SENSITIVITY.get(sensitivity)
        return settings

    def listener(self) -> offline.Listener:
        speech = offline.detector(
            silence_ms=self.silence_ms,
            prefix_ms=self.prefix_ms,
            start_sensitivity=self.start_sensitivity,
        )
        return offline.Listener(speech, manual=self.manual_activity)


@dataclass(frozen=True)
class Reply(offline.Reply):
    """One model turn, with what it cost in prompt tokens (for usageMetadata)."""

    prompt_tokens: int = 0

    @property
    def response_tokens(self) -> int:
        return round(self.seconds * TOKENS_PER_S)


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
        #: what the user is saying (a half-said utterance survives a resumption)
        self.listener: offline.Listener | None = None
        self._handles = 0

    @property
    def audio_in_ms(self) -> float:
        return self.audio_in_bytes / 2 / INPUT_RATE * 1000

    def new_handle(self) -> str:
        self._handles += 1
        return f"sim-{self.number}-{self._handles}"

    def attach(self, settings: SetupSettings, *, overlapping: bool = False) -> offline.Listener:
        """A connection opened (or resumed) this conversation; `overlapping`: while
        another connection of it was still open (the real service refuses to resume then).
        """
        self.connections += 1
        self.overlapping_connections += overlapping
        self.setups.append(settings.raw)
        if self.listener is None or settings.resume_handle is None:
            self.listener = settings.listener()
        self.listener.manual = settings.manual_activity
        return self.listener

    def speech_reply(self, pcm: bytes) -> tuple[str, Reply]:
        """Echo an utterance back at the output rate; returns (input transcript, reply)."""
        self.turns += 1
        seconds = offline.speech_seconds(pcm)
        heard = f"({seconds:.1f} s of speech)"
        reply = Reply(
            pcm=offline.echo_audio(pcm),
            transcript=f"Turn {self.turns}: you spoke for {seconds:.1f} seconds.",
            prompt_tokens=math.ceil(seconds * TOKENS_PER_S),
        )
        return heard, reply

    def text_reply(self, text: str) -> Reply | dict[str, Any]:
        """A reply to a typed turn, or the function call it asks for."""
        self.turns += 1
        self.texts.append(text)
        request = offline.parse_call(text)
        if request is not None:
            call = {
                "id": f"call-{self.number}-{len(self.tool_calls) + 1}",
                "name": request.name,
                "args": request.args,
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
        result = offline.returned(call["name"], get(response, "response", {}))
        return spoken(f"Turn {self.turns}: {result}", 8)


def spoken(transcript: str, prompt_tokens: int) -> Reply:
    """A reply whose voice is a tone about as long as reading the transcript aloud."""
    seconds = min(6.0, 0.4 + 0.05 * len(transcript))
    return Reply(offline.tone(seconds, TONE_HZ), transcript, prompt_tokens=prompt_tokens)

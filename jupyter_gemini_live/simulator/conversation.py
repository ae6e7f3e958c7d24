"""What a simulated conversation remembers across connections, and what it says back.

A conversation outlives its connections: a client that resumes with a handle finds the
turn count, the records and even a half-finished utterance where it left them. The
records are what tests assert on ("the simulator heard every millisecond we sent").
"""

from __future__ import annotations

import copy
import math
from collections import OrderedDict
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
#: tokens of one camera or screen frame
IMAGE_TOKENS = 258
#: the pitch of the simulated voice
TONE_HZ = 440.0
#: resumable states a conversation keeps (older handles expire)
MAX_SNAPSHOTS = 64

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
    #: the modality of those prompt tokens (the service's name: AUDIO, TEXT)
    prompt_modality: str = "TEXT"
    #: Google Search sources (title, uri) sent as grounding metadata with the reply
    sources: tuple[tuple[str, str], ...] = ()
    #: the search queries of that grounding
    queries: tuple[str, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    """The state a resumption handle stands for (what resuming with it restores)."""

    turns: int
    audio_in_bytes: int
    images: int
    texts: tuple[str, ...]
    pending_tool: dict[str, Any] | None
    listener: offline.Listener | None
    #: the index of the last client message of the issuing connection it includes
    last_consumed: int
    #: loop time it was taken, for handles that expire
    taken_at: float


class Conversation:
    """State and records of one conversation, across all its connections.

    Resuming with a handle restores the state the handle was issued with (the turn
    count, what the user was saying, what was heard): input the old connection took
    after that is forgotten, as with the real service, and the client replays it (the
    handle's `lastConsumedClientMessageIndex` says from where). `audio_received_bytes`,
    `connections`, `setups` and the other records keep counting across resumptions.
    """

    def __init__(self, number: int) -> None:
        self.number = number
        self.turns = 0
        self.interruptions = 0
        self.connections = 0
        self.overlapping_connections = 0
        #: microphone audio in the conversation's state (rolled back on resumption)
        self.audio_in_bytes = 0
        #: every byte of microphone audio that arrived, on any connection
        self.audio_received_bytes = 0
        self.images = 0
        self.texts: list[str] = []
        #: (role, text) of the client content turns that seeded the conversation
        self.history: list[tuple[str, str]] = []
        self.tool_calls: list[dict[str, Any]] = []
        self.tool_responses: list[dict[str, Any]] = []
        self.setups: list[Mapping[str, Any]] = []
        #: resumptions that restored a handle's state, and handles refused
        self.resumptions = 0
        self.refused_handles = 0
        self.pending_tool: dict[str, Any] | None = None
        #: what the user is saying (a half-said utterance survives a resumption)
        self.listener: offline.Listener | None = None
        self._handles = 0
        self._snapshots: OrderedDict[str, Snapshot] = OrderedDict()

    @property
    def audio_in_ms(self) -> float:
        return self.audio_in_bytes / 2 / INPUT_RATE * 1000

    def new_handle(self) -> str:
        self._handles += 1
        return f"sim-{self.number}-{self._handles}"

    def snapshot(self, handle: str, last_consumed: int, now: float) -> None:
        """Remember the state `handle` stands for (only the newest few are kept)."""
        self._snapshots[handle] = Snapshot(
            turns=self.turns,
            audio_in_bytes=self.audio_in_bytes,
            images=self.images,
            texts=tuple(self.texts),
            pending_tool=copy.deepcopy(self.pending_tool),
            listener=copy.deepcopy(self.listener),
            last_consumed=last_consumed,
            taken_at=now,
        )
        while len(self._snapshots) > MAX_SNAPSHOTS:
            self._snapshots.popitem(last=False)

    def snapshot_of(self, handle: str) -> Snapshot | None:
        return self._snapshots.get(handle)

    def restore(self, snapshot: Snapshot) -> None:
        """Go back to a handle's state (what the old connection took later is forgotten)."""
        self.resumptions += 1
        self.turns = snapshot.turns
        self.audio_in_bytes = snapshot.audio_in_bytes
        self.images = snapshot.images
        self.texts = list(snapshot.texts)
        self.pending_tool = copy.deepcopy(snapshot.pending_tool)
        self.listener = copy.deepcopy(snapshot.listener)

    def attach(self, settings: SetupSettings, *, overlapping: bool = False) -> offline.Listener:
        """A connection opened (or resumed) this conversation; `overlapping`: while
        another connection of it was still open (the real service refuses to resume then).
        """
        self.connections += 1
        self.overlapping_connections += overlapping
        self.setups.append(settings.raw)
        if self.listener is None:
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
            prompt_modality="AUDIO",
        )
        return heard, reply

    def text_reply(self, text: str, behavior: str = "BLOCKING") -> Reply | dict[str, Any]:
        """A reply to a typed turn, or the function call it asks for (pending with
        `behavior`: a NON_BLOCKING call lets the conversation go on while it runs)."""
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
            self.pending_tool = {**call, "behavior": behavior}
            return call
        return spoken(f"Turn {self.turns}: you said: {text}", len(text) // 4 + 1)

    def search_reply(self, query: str) -> Reply:
        """A reply grounded in (made-up) Google Search results for `query`."""
        self.turns += 1
        self.texts.append(f"search {query}")
        slug = "-".join(query.lower().split())[:60] or "nothing"
        sources = (
            (f"Result 1 for {query}", f"https://example.com/search/{slug}/1"),
            (f"Result 2 for {query}", f"https://example.org/{slug}"),
        )
        reply = spoken(f"Turn {self.turns}: I searched for {query}.", len(query) // 4 + 1)
        return Reply(
            reply.pcm, reply.transcript, reply.prompt_tokens, sources=sources, queries=(query,)
        )

    def refused_turn(self, text: str) -> None:
        """A turn the model refuses to answer (the simulator's safety block)."""
        self.turns += 1
        self.texts.append(text)

    @property
    def pending_blocks(self) -> bool:
        """A call is pending that the model waits for (not a NON_BLOCKING one)."""
        return self.pending_tool is not None and self.pending_tool["behavior"] != "NON_BLOCKING"

    def tool_reply(self, response: Mapping[str, Any]) -> Reply | None:
        """Record a toolResponse entry (with its `scheduling`, when it has one); the
        reply to it when it is the awaited one."""
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

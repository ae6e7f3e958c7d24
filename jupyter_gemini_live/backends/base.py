"""The contract between a LiveSession and a backend.

A backend turns `SessionOptions` into an `Upstream`: one conversation with a model (or
with the offline echo). The session pushes device input into the upstream with the
`send_*` coroutines and reads what comes back by iterating `events()`. Handlers never
see a backend; a new backend only has to implement these two small classes.

Rules every upstream follows:
- `events()` yields in upstream order and ends when the conversation is over for good
  (after `close()`, or after a fatal `ErrorEvent`). Reconnecting is the upstream's own
  business: it reports it with `StateEvent("reconnecting")` and `StateEvent("live")`.
- Audio in is PCM s16le mono at `INPUT_RATE`; audio out is PCM s16le mono at `OUTPUT_RATE`.
- Transcript text is a delta, to be appended to the current turn's text of that role;
  `final=True` says that role's text of this turn will not change any more.
- A turn ends with `TurnCompleteEvent` (also after an interruption).
- Every `send_*` may raise `UpstreamClosed` once the conversation is over.

What a backend need NOT do: the session (`session.py`) owns the turn and its rules. It
numbers turns and stamps them on what clients receive; it drops every `AudioEvent` and
model `TranscriptEvent` between `InterruptedEvent` and the turn's `TurnCompleteEvent`
(and forgets model audio already queued for clients); and it makes every role's
transcript of a turn final before passing on `TurnCompleteEvent`. A backend just reports
what happened, in order; it keeps no turn counter, mutes nothing and synthesizes no finals.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

# The wire constants and shared literals live in protocol.py; re-exported for backends.
from ..protocol import INPUT_RATE as INPUT_RATE
from ..protocol import OUTPUT_RATE as OUTPUT_RATE
from ..protocol import SAMPLE_WIDTH as SAMPLE_WIDTH
from ..protocol import ActivityDetection as ActivityDetection
from ..protocol import Role as Role
from ..protocol import Scheduling as Scheduling
from ..protocol import ToolImage as ToolImage
from ..protocol import pcm_ms as pcm_ms

Sensitivity = Literal["high", "low"]
MediaResolution = Literal["low", "medium", "high"]


@dataclass(frozen=True)
class VadOptions:
    """End-of-speech detection settings (automatic activity detection)."""

    silence_ms: int = 600
    prefix_padding_ms: int = 100
    start_sensitivity: Sensitivity | None = None
    end_sensitivity: Sensitivity | None = None


@dataclass(frozen=True)
class SessionOptions:
    """What a user asked for when creating a session (already validated)."""

    backend: str
    model: str
    voice: str
    system_instruction: str | None = None
    language: str | None = None
    transcription: bool = True
    activity_detection: ActivityDetection = "auto"
    vad: VadOptions = field(default_factory=VadOptions)
    tools: tuple[Mapping[str, Any], ...] = ()
    record: bool = False
    #: the notebook tools (notebook_tools.py) are among `tools`; the browser answers them
    notebook: bool = False
    #: model-dependent settings (checked against `models.capabilities(model)`); None:
    #: not sent, the model's own default applies
    thinking_level: str | None = None
    proactive_audio: bool | None = None
    affective_dialog: bool | None = None
    google_search: bool = False
    media_resolution: MediaResolution | None = None
    #: the session's own budget (capped by the server's): None, the server's applies
    budget_tokens: int | None = None
    budget_usd: float | None = None


# ---- events an upstream yields -------------------------------------------------------


@dataclass(frozen=True)
class AudioEvent:
    pcm: bytes
    #: when the upstream had it (`time.monotonic()`): the start of `stats.downlink_ms`;
    #: not part of what the event is (two reads of the same audio are equal)
    received: float | None = field(default=None, compare=False)


@dataclass(frozen=True)
class TranscriptEvent:
    role: Role
    text: str
    final: bool = False


@dataclass(frozen=True)
class InterimTranscriptEvent:
    """The user's words of this turn so far as recognised while they speak: the whole
    interim text (it replaces the previous one), until a `TranscriptEvent` settles it."""

    text: str


@dataclass(frozen=True)
class InterruptedEvent:
    pass


@dataclass(frozen=True)
class TurnCompleteEvent:
    #: why the turn ended abnormally (the service's `turn_complete_reason`, e.g.
    #: GENERATED_CONTENT_SAFETY, MALFORMED_FUNCTION_CALL); None: it ended normally
    reason: str | None = None


@dataclass(frozen=True)
class GenerationCompleteEvent:
    """The model has sent all of the reply under way (only its playback is left)."""


@dataclass(frozen=True)
class InteractionStatusEvent:
    """The model works in the background (`active`: thinking, e.g. extended thinking)."""

    active: bool


@dataclass(frozen=True)
class VoiceActivityEvent:
    """The service heard the user's voice start or end."""

    activity: Literal["start", "end"]


@dataclass(frozen=True)
class GroundingSource:
    title: str
    uri: str


@dataclass(frozen=True)
class GroundingEvent:
    """Google Search grounding: the web sources of the reply under way."""

    sources: tuple[GroundingSource, ...]


@dataclass(frozen=True)
class ToolCallEvent:
    id: str
    name: str
    args: Mapping[str, Any]


@dataclass(frozen=True)
class ToolCallCancelledEvent:
    ids: tuple[str, ...]


@dataclass(frozen=True)
class UsageEvent:
    usage: Mapping[str, Any]


@dataclass(frozen=True)
class NewConnectionEvent:
    """The upstream opened a new connection to the service (a resumption or a new
    session): the service's cumulative usage counts start from zero again."""


@dataclass(frozen=True)
class StateEvent:
    state: Literal["reconnecting", "live"]


@dataclass(frozen=True)
class ErrorEvent:
    code: str
    message: str
    fatal: bool = False


Event = (
    AudioEvent
    | TranscriptEvent
    | InterruptedEvent
    | TurnCompleteEvent
    | InterimTranscriptEvent
    | GenerationCompleteEvent
    | InteractionStatusEvent
    | VoiceActivityEvent
    | GroundingEvent
    | ToolCallEvent
    | ToolCallCancelledEvent
    | UsageEvent
    | NewConnectionEvent
    | StateEvent
    | ErrorEvent
)


# ---- errors ----------------------------------------------------------------------------


class BackendError(Exception):
    """A session could not be opened. `status` is the HTTP code the REST API answers."""

    status = 502

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class BackendUnavailable(BackendError):
    """The backend cannot be used at all here (no key, missing package)."""

    status = 503


class UpstreamClosed(Exception):
    """Raised by `send_*` once the conversation is over."""


class EventQueue:
    """What an upstream has to say, in order and bounded, until `end()`: the queue behind
    `Upstream.events()` of the backends that make their events themselves."""

    def __init__(self, size: int) -> None:
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(size)

    async def put(self, event: Event) -> None:
        await self._queue.put(event)

    def put_nowait(self, event: Event) -> None:
        """Raises `asyncio.QueueFull` when the session stopped reading."""
        self._queue.put_nowait(event)

    def end(self) -> None:
        """The conversation is over: `drain()` ends once it reaches this point. When the
        queue is full nobody reads it any more, so the oldest events make room."""
        while self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    async def drain(self) -> AsyncIterator[Event]:
        while (event := await self._queue.get()) is not None:
            yield event


# ---- the two classes a backend implements ----------------------------------------------


class Upstream(abc.ABC):
    """One live conversation."""

    @abc.abstractmethod
    async def send_audio(self, pcm: bytes) -> None:
        """Microphone audio: PCM s16le mono at INPUT_RATE, even length."""

    def send_audio_now(self, pcm: bytes) -> bool:
        """`send_audio` done at once, when this upstream can without waiting. False (the
        default): nothing was sent, and the session queues the audio for `send_audio`."""
        return False

    @abc.abstractmethod
    async def send_text(self, text: str) -> None:
        """A complete user turn typed as text."""

    @abc.abstractmethod
    async def activity_start(self) -> None:
        """Manual activity detection: the user started talking (push-to-talk pressed)."""

    @abc.abstractmethod
    async def activity_end(self) -> None:
        """Manual activity detection: the user stopped talking."""

    @abc.abstractmethod
    async def audio_stream_end(self) -> None:
        """The microphone was turned off; flush whatever speech is pending."""

    @abc.abstractmethod
    async def send_image(self, mime_type: str, data: bytes) -> None:
        """A camera or screen frame."""

    @abc.abstractmethod
    async def send_tool_response(
        self,
        call_id: str,
        name: str,
        response: Mapping[str, Any],
        scheduling: Scheduling | None = None,
        images: Sequence[ToolImage] = (),
    ) -> None:
        """The result of a `ToolCallEvent`; `scheduling` (INTERRUPT / WHEN_IDLE / SILENT)
        says how the model takes it, where the model supports it (else it is dropped);
        `images` (at most `MAX_TOOL_IMAGES`) go with it, as the model can take them."""

    @abc.abstractmethod
    def events(self) -> AsyncIterator[Event]:
        """Everything the upstream says, in order; ends when the conversation is over."""

    @abc.abstractmethod
    async def close(self) -> None:
        """End the conversation and release everything; idempotent."""

    def dropped_input_ms(self) -> float:
        """Microphone audio the upstream itself had to drop (e.g. while reconnecting)."""
        return 0.0


class Backend(abc.ABC):
    """A factory of upstreams, built once per server from the GeminiLive config."""

    name: str

    def unavailable_reason(self) -> str | None:
        """None when the backend can be used, otherwise why not (shown to the user)."""
        return None

    @abc.abstractmethod
    async def connect(self, options: SessionOptions) -> Upstream:
        """Open a conversation; raise `BackendError` with a message that says what to do."""

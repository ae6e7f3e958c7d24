"""The stream websocket's wire protocol, in one place.

- Wire constants (sample rates, frame and text limits), defined here only.
- Client commands: each client frame is parsed and validated into a frozen dataclass
  (`parse_frame`); a bad frame is a `FrameError` whose `code` the client gets in an `error`
  event. Commands that go upstream (`UpstreamCommand`) carry their own `deliver`; whether
  a connection mode may send a command is a property of its class (`senders`).
- Server events: one frozen dataclass per event, each with `to_json()`; nothing else in
  the package builds an event's JSON. `Session`, `SessionStats` and `TranscriptEntry` are
  the REST shapes.
- `schema()`: a JSON Schema (draft-07) generated from these types, which the frontend's
  tests check the TypeScript types against. `python -m jupyter_gemini_live.protocol`
  prints it; the copy checked in at labextension/src/__tests__/protocol-schema.json must
  match (tests/test_wire_protocol.py).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import math
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypedDict, Union

if TYPE_CHECKING:
    from .backends.base import Upstream

# ---- wire constants ---------------------------------------------------------------------

#: microphone audio: PCM s16le mono at this rate
INPUT_RATE = 16000
#: model audio: PCM s16le mono at this rate
OUTPUT_RATE = 24000
#: bytes per sample (s16le)
SAMPLE_WIDTH = 2
#: the microphone frames clients send, ms. Every frame costs the server a wake-up, a read
#: and an upstream write whatever its size: 40 ms (the top of what Gemini takes per chunk)
#: halves that against 20 ms, for 20 ms more microphone latency (benchmarks/RESULTS.md)
FRAME_MS = 40
#: the largest binary frame a client may send
MAX_AUDIO_FRAME = 64 * 1024
#: the longest typed text (stream `text` frame and REST text route)
MAX_TEXT_CHARS = 20_000
#: the longest client-chosen id of a `text` frame
MAX_TEXT_ID_CHARS = 64
#: how deep a JSON frame may nest (objects and arrays)
MAX_JSON_DEPTH = 32
#: the longest `reason` of a `device_status`
MAX_REASON_CHARS = 1000
MAX_IMAGE_BYTES = 4 * 1024 * 1024
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
#: images one `tool_response` may carry (what a cell drew), and each one's decoded size
MAX_TOOL_IMAGES = 2
MAX_TOOL_IMAGE_BYTES = 1024 * 1024
#: close code for clients of a session that ended on an error: final, do not reconnect
SESSION_ENDED = 4002
#: close code for a device connection replaced by a newer one
DEVICE_REPLACED = 4001
#: close code for a text frame that is not UTF-8 (RFC 6455)
INVALID_UTF8 = 1007
#: close code for an `exclusive` device that found another device already there
DEVICE_BUSY = 4009

Role = Literal["user", "model"]
SessionState = Literal["connecting", "live", "reconnecting", "closed", "error"]
#: device: the microphone and speaker; observe: events (and model audio) only; source: the
#: kernel end of a relay session (it hears the device's microphone and speaks through it)
Mode = Literal["device", "observe", "source"]
ActivityDetection = Literal["auto", "manual"]
#: when the model takes a tool response (models whose capabilities have `scheduling`)
Scheduling = Literal["INTERRUPT", "WHEN_IDLE", "SILENT"]
SCHEDULINGS: tuple[Scheduling, ...] = ("INTERRUPT", "WHEN_IDLE", "SILENT")
#: what the device says about its microphone (`device_status`)
DeviceStatusValue = Literal["started", "failed", "stopped"]
#: what a relay source hears about the device: its `device_status`, or its socket coming/going
DeviceState = Literal["connected", "disconnected", "started", "failed", "stopped"]


def pcm_ms(nbytes: int, rate: int) -> float:
    """Duration in milliseconds of `nbytes` of mono s16le PCM at `rate`."""
    return nbytes / SAMPLE_WIDTH / rate * 1000.0


# ---- client commands --------------------------------------------------------------------


class FrameError(ValueError):
    """A client frame that cannot be taken; `code` is the `error` event's code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


DEVICE_ONLY: frozenset[Mode] = frozenset({"device"})
ANY_MODE: frozenset[Mode] = frozenset({"device", "observe", "source"})


class Command:
    """A validated client frame. Subclasses are frozen dataclasses."""

    #: the frame's `type` (`audio` for binary frames)
    type: ClassVar[str]
    #: the connection modes that may send it (most commands are the device's)
    senders: ClassVar[frozenset[Mode]] = DEVICE_ONLY

    @classmethod
    def parse(cls, message: Mapping[str, Any]) -> Command:
        """The command of a JSON frame of this type (`message["type"] == cls.type`)."""
        raise NotImplementedError


class UpstreamCommand(Command):
    """A command the session queues for the upstream, in order."""

    async def deliver(self, upstream: Upstream) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class AudioFrame(UpstreamCommand):
    """Microphone audio: PCM s16le mono at INPUT_RATE."""

    type: ClassVar[str] = "audio"
    pcm: bytes

    @classmethod
    def from_bytes(cls, frame: bytes) -> AudioFrame:
        return cls(_check_pcm(frame))

    @property
    def ms(self) -> float:
        return pcm_ms(len(self.pcm), INPUT_RATE)

    async def deliver(self, upstream: Upstream) -> None:
        await upstream.send_audio(self.pcm)


@dataclass(frozen=True)
class Text(UpstreamCommand):
    """Typed user input; `id` (chosen by the client) comes back in `text_accepted`."""

    type: ClassVar[str] = "text"
    senders: ClassVar[frozenset[Mode]] = frozenset({"device", "observe"})
    text: str
    id: str | None = None

    @classmethod
    def parse(cls, message: Mapping[str, Any]) -> Text:
        text = check_text(message.get("text"), "text.text")
        text_id = message.get("id")
        if text_id is not None and (
            not isinstance(text_id, str) or not 1 <= len(text_id) <= MAX_TEXT_ID_CHARS
        ):
            raise FrameError(
                "bad_field", f"text.id: expected a string of 1 to {MAX_TEXT_ID_CHARS} characters"
            )
        return cls(text, text_id)

    async def deliver(self, upstream: Upstream) -> None:
        await upstream.send_text(self.text)


@dataclass(frozen=True)
class ActivityStart(UpstreamCommand):
    """Push-to-talk pressed (manual activity detection)."""

    type: ClassVar[str] = "activity_start"

    @classmethod
    def parse(cls, message: Mapping[str, Any]) -> ActivityStart:
        return cls()

    async def deliver(self, upstream: Upstream) -> None:
        await upstream.activity_start()


@dataclass(frozen=True)
class ActivityEnd(UpstreamCommand):
    """Push-to-talk released."""

    type: ClassVar[str] = "activity_end"

    @classmethod
    def parse(cls, message: Mapping[str, Any]) -> ActivityEnd:
        return cls()

    async def deliver(self, upstream: Upstream) -> None:
        await upstream.activity_end()


@dataclass(frozen=True)
class AudioStreamEnd(UpstreamCommand):
    """The microphone was turned off."""

    type: ClassVar[str] = "audio_stream_end"

    @classmethod
    def parse(cls, message: Mapping[str, Any]) -> AudioStreamEnd:
        return cls()

    async def deliver(self, upstream: Upstream) -> None:
        await upstream.audio_stream_end()


@dataclass(frozen=True)
class ToolImage:
    """An image returned with a tool's answer (a plot a cell drew)."""

    mime_type: str
    data: bytes


def _tool_images(value: object) -> tuple[ToolImage, ...]:
    where = "tool_response.images"
    if value is None:
        return ()
    if not isinstance(value, list):
        raise FrameError("bad_field", f"{where}: expected a list")
    if len(value) > MAX_TOOL_IMAGES:
        raise FrameError("bad_field", f"{where}: at most {MAX_TOOL_IMAGES} images")
    images = []
    for index, item in enumerate(value):
        here = f"{where}[{index}]"
        if not isinstance(item, Mapping) or set(item) != {"mime_type", "data"}:
            raise FrameError("bad_field", f"{here}: expected {{mime_type, data}}")
        mime, encoded = item["mime_type"], item["data"]
        if mime not in IMAGE_TYPES:
            raise FrameError(
                "bad_field", f"{here}.mime_type: expected one of {sorted(IMAGE_TYPES)}"
            )
        # base64 grows 4/3: anything longer cannot decode within the limit
        if not isinstance(encoded, str) or len(encoded) > (MAX_TOOL_IMAGE_BYTES + 2) // 3 * 4:
            raise FrameError(
                "bad_field", f"{here}.data: expected base64 of at most {MAX_TOOL_IMAGE_BYTES} bytes"
            )
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise FrameError("bad_field", f"{here}.data: not valid base64") from None
        if not data or len(data) > MAX_TOOL_IMAGE_BYTES:
            raise FrameError(
                "bad_field", f"{here}.data: expected 1 to {MAX_TOOL_IMAGE_BYTES} bytes"
            )
        images.append(ToolImage(mime, data))
    return tuple(images)


@dataclass(frozen=True)
class ToolResponse(UpstreamCommand):
    """The answer to a `tool_call`; the session passes on only the first one per call."""

    type: ClassVar[str] = "tool_response"
    senders: ClassVar[frozenset[Mode]] = frozenset({"device", "observe"})
    id: str
    name: str
    response: Mapping[str, Any]
    #: how the model takes the answer (INTERRUPT / WHEN_IDLE / SILENT); None: its default
    scheduling: Scheduling | None = None
    #: images that go with the answer (at most MAX_TOOL_IMAGES)
    images: tuple[ToolImage, ...] = ()

    @classmethod
    def parse(cls, message: Mapping[str, Any]) -> ToolResponse:
        scheduling = message.get("scheduling")
        if scheduling is not None and scheduling not in SCHEDULINGS:
            raise FrameError(
                "bad_field", f"tool_response.scheduling: expected one of {', '.join(SCHEDULINGS)}"
            )
        return cls(
            _field(message, "id", str),
            _field(message, "name", str),
            _field(message, "response", dict),
            scheduling,
            _tool_images(message.get("images")),
        )

    async def deliver(self, upstream: Upstream) -> None:
        await upstream.send_tool_response(
            self.id, self.name, self.response, self.scheduling, self.images
        )


@dataclass(frozen=True)
class Image(UpstreamCommand):
    """A camera or screen frame."""

    type: ClassVar[str] = "image"
    mime_type: str
    data: bytes

    @classmethod
    def parse(cls, message: Mapping[str, Any]) -> Image:
        mime = _field(message, "mime_type", str)
        if mime not in IMAGE_TYPES:
            raise FrameError("bad_field", f"image.mime_type: expected one of {sorted(IMAGE_TYPES)}")
        encoded = _field(message, "data", str)
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise FrameError("bad_field", "image.data: not valid base64") from None
        if len(data) > MAX_IMAGE_BYTES:
            raise FrameError("frame_too_large", f"image larger than {MAX_IMAGE_BYTES} bytes")
        return cls(mime, data)

    async def deliver(self, upstream: Upstream) -> None:
        await upstream.send_image(self.mime_type, self.data)


@dataclass(frozen=True)
class Playback(Command):
    """The running total of model audio the device really played in this session."""

    type: ClassVar[str] = "playback"
    played_ms: float

    @classmethod
    def parse(cls, message: Mapping[str, Any]) -> Playback:
        played = finite_number(message.get("played_ms"), "playback.played_ms")
        if played < 0:
            raise FrameError("bad_field", "playback.played_ms: must not be negative")
        return cls(played)


@dataclass(frozen=True)
class Ping(Command):
    """Answered with `pong` carrying the same `t`."""

    type: ClassVar[str] = "ping"
    senders: ClassVar[frozenset[Mode]] = ANY_MODE
    t: Any = None

    @classmethod
    def parse(cls, message: Mapping[str, Any]) -> Ping:
        return cls(message.get("t"))


@dataclass(frozen=True)
class DeviceStatus(Command):
    """The device's microphone started, failed to (`reason`: the browser's words and what
    to do), or was stopped by the user. Relayed to a relay session's source as `device`."""

    type: ClassVar[str] = "device_status"
    status: DeviceStatusValue
    reason: str | None = None

    @classmethod
    def parse(cls, message: Mapping[str, Any]) -> DeviceStatus:
        status: DeviceStatusValue = message.get("status")  # type: ignore[assignment]
        if status not in typing.get_args(DeviceStatusValue):
            choices = ", ".join(typing.get_args(DeviceStatusValue))
            raise FrameError("bad_field", f"device_status.status: expected one of {choices}")
        reason = message.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise FrameError("bad_field", "device_status.reason: expected a string or null")
        if reason is not None and len(reason) > MAX_REASON_CHARS:
            reason = reason[:MAX_REASON_CHARS]
        return cls(status, reason)


@dataclass(frozen=True)
class SourceAudio(Command):
    """A relay source's audio for the device: PCM s16le mono at OUTPUT_RATE (binary)."""

    type: ClassVar[str] = "source_audio"
    senders: ClassVar[frozenset[Mode]] = frozenset({"source"})
    pcm: bytes

    @classmethod
    def from_bytes(cls, frame: bytes) -> SourceAudio:
        return cls(_check_pcm(frame))

    @property
    def ms(self) -> float:
        return pcm_ms(len(self.pcm), OUTPUT_RATE)


@dataclass(frozen=True)
class Clear(Command):
    """A relay source drops what the device has queued: the turn is interrupted."""

    type: ClassVar[str] = "clear"
    senders: ClassVar[frozenset[Mode]] = frozenset({"source"})

    @classmethod
    def parse(cls, message: Mapping[str, Any]) -> Clear:
        return cls()


#: the JSON frames a client may send, by their `type`
JSON_COMMANDS: Mapping[str, type[Command]] = {
    cls.type: cls
    for cls in (
        Text,
        ActivityStart,
        ActivityEnd,
        AudioStreamEnd,
        ToolResponse,
        Image,
        Playback,
        Ping,
        DeviceStatus,
        Clear,
    )
}


def _check_pcm(frame: bytes) -> bytes:
    if len(frame) > MAX_AUDIO_FRAME:
        raise FrameError(
            "frame_too_large",
            f"audio frame of {len(frame)} bytes; send at most {MAX_AUDIO_FRAME} bytes "
            f"({FRAME_MS} ms frames of {INPUT_RATE * FRAME_MS // 1000 * SAMPLE_WIDTH} bytes "
            "are best)",
        )
    if len(frame) % SAMPLE_WIDTH:
        raise FrameError(
            "odd_length",
            f"audio frame of {len(frame)} bytes is not whole 16-bit samples (PCM s16le mono)",
        )
    return frame


def parse_frame(frame: str | bytes, mode: Mode = "device") -> Command:
    """The command of one websocket frame: binary is audio (the microphone's, or a relay
    source's audio for the device when `mode` is `source`), text is a JSON command.

    Whether `mode` may send the command is checked too (`FrameError` `{mode}_cannot_send`).
    """
    command = _parse(frame, mode)
    if mode not in command.senders:
        who = "observer" if mode == "observe" else mode
        senders = " or ".join(sorted("observer" if m == "observe" else m for m in command.senders))
        raise FrameError(
            f"{who}_cannot_send", f"{command.type}: only the {senders} connection sends this"
        )
    return command


def _parse(frame: str | bytes, mode: Mode) -> Command:
    if isinstance(frame, bytes):
        if mode == "source":
            return SourceAudio.from_bytes(frame)
        return AudioFrame.from_bytes(frame)
    message = loads(frame)
    if not isinstance(message, dict):
        raise FrameError("bad_json", "expected a JSON object with a 'type'")
    kind = message.get("type")
    command = JSON_COMMANDS.get(kind) if isinstance(kind, str) else None
    if command is None:
        known = ", ".join(sorted(JSON_COMMANDS))
        raise FrameError("unknown_type", f"unknown message type {kind!r}; known: {known}")
    return command.parse(message)


def loads(frame: str | bytes) -> Any:
    """A JSON frame as Python: finite numbers only, nested at most MAX_JSON_DEPTH deep.

    Every way it can fail is a `FrameError` `bad_json` (never RecursionError and the like).
    """
    try:
        value = json.loads(frame, parse_constant=_no_constant, parse_float=_finite_float)
    except FrameError:
        raise
    except RecursionError:
        raise FrameError("bad_json", f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except (ValueError, TypeError) as err:  # includes UnicodeDecodeError, int digit limits
        raise FrameError("bad_json", f"not valid JSON: {err}") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise FrameError("bad_json", f"nested deeper than {MAX_JSON_DEPTH} levels")
    return value


#: one encoder for every event: `json.dumps` with an argument builds a new one per call,
#: half the cost of a small event's encoding
_ENCODER = json.JSONEncoder(allow_nan=False)


def dumps(value: Any) -> str:
    """JSON as the server writes it: never NaN nor Infinity (ValueError instead)."""
    return _ENCODER.encode(value)


def _no_constant(name: str) -> Any:
    raise FrameError("bad_json", f"{name} is not a JSON number; send finite numbers only")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise FrameError("bad_json", f"{text[:40]} is out of range; send finite numbers only")
    return value


def _depth(value: Any) -> int:
    """How deep containers nest in `value` (iteratively: no recursion limit)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def finite_number(value: object, name: str) -> float:
    """`value` as a finite float; `bad_field` naming `name` when it is not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FrameError("bad_field", f"{name}: expected a number")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise FrameError("bad_field", f"{name}: out of range; expected a finite number")
    return number


def check_text(text: object, name: str) -> str:
    """Typed text as both the stream and the REST route take it (`name` prefixes errors)."""
    if not isinstance(text, str):
        raise FrameError("bad_field", f"{name}: expected a non-empty string")
    if not text.strip():
        raise FrameError("bad_field", f"{name}: empty")
    if len(text) > MAX_TEXT_CHARS:
        raise FrameError("bad_field", f"{name}: longer than {MAX_TEXT_CHARS} characters")
    return text


def _field(message: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = message.get(name)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        label = " or ".join(k.__name__ for k in kinds)
        raise FrameError("bad_field", f"{message['type']}.{name}: expected {label}")
    return value


# ---- REST shapes ------------------------------------------------------------------------


class ModalityTokens(TypedDict):
    text: int
    audio: int
    image: int


class TokenCounts(TypedDict):
    """Tokens by kind and modality (usage.py's `Tokens`)."""

    prompt: ModalityTokens
    response: ModalityTokens
    thinking: int
    tool_use: int
    total: int


class UsageTotals(TypedDict):
    """Tokens and their estimated cost in USD (a turn's or a session's)."""

    tokens: TokenCounts
    cost_usd: float


class GroundingSource(TypedDict):
    """A web source of a grounded reply (an http(s) link)."""

    title: str
    uri: str


class DelaySpread(TypedDict):
    """How long the last `count` of something took, in ms (null while there were none)."""

    count: int
    p50: float | None
    p99: float | None
    max: float | None


class SessionStats(TypedDict):
    audio_in_ms: float
    audio_out_ms: float
    played_ms: float
    turns: int
    interruptions: int
    reconnects: int
    dropped_in_ms: float
    dropped_out_ms: float
    #: how long recent microphone frames were in the server: from their arrival to their
    #: write upstream (the server's own share of the uplink's latency)
    uplink_ms: DelaySpread
    #: how long recent chunks of model audio were in the server: from the upstream having
    #: them to their write to the device's socket (the server's share of the downlink's)
    downlink_ms: DelaySpread
    #: the session's token usage so far and its estimated cost
    usage: UsageTotals


class Session(TypedDict):
    id: str
    backend: str
    model: str
    voice: str
    activity_detection: ActivityDetection
    transcription: bool
    record: bool
    #: the notebook tools are among the session's tools (the panel runs them)
    notebook: bool
    state: SessionState
    created: str
    clients: int
    device_connected: bool
    #: the turn under way (what user input goes into)
    turn: int
    error: str | None
    stats: SessionStats


class TranscriptEntry(TypedDict):
    role: Role
    text: str
    turn: int
    start: float
    end: float
    final: bool
    interrupted: bool
    #: the usage of the turn (on the turn's last entry, once the turn is complete)
    usage: UsageTotals | None
    #: why the turn ended abnormally (on the turn's last entry), e.g. GENERATED_CONTENT_SAFETY
    reason: str | None
    #: Google Search sources of the model's reply (on the turn's last entry)
    sources: list[GroundingSource]


class TextTurn(TypedDict):
    """The REST text route's answer: the turn the text went into."""

    turn: int


# ---- server events ----------------------------------------------------------------------


class ServerEvent:
    """A JSON event sent to clients. Subclasses are frozen dataclasses."""

    type: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type}
        for item in dataclasses.fields(self):  # type: ignore[arg-type]
            body[item.name] = _jsonable(getattr(self, item.name))
        return body


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Ready(ServerEvent):
    """Always the first event of a connection."""

    type: ClassVar[str] = "ready"
    session: Session
    mode: Mode


@dataclass(frozen=True)
class State(ServerEvent):
    type: ClassVar[str] = "state"
    state: SessionState


@dataclass(frozen=True)
class Transcript(ServerEvent):
    """The whole text of `role` in `turn` so far (not a delta)."""

    type: ClassVar[str] = "transcript"
    role: Role
    text: str
    turn: int
    final: bool
    interrupted: bool


@dataclass(frozen=True)
class TextAccepted(ServerEvent):
    """A `text` frame was queued, in `turn`; sent to its sender only."""

    type: ClassVar[str] = "text_accepted"
    id: str | None
    turn: int


@dataclass(frozen=True)
class Interrupted(ServerEvent):
    """No audio (nor model transcript) of `turn` follows."""

    type: ClassVar[str] = "interrupted"
    turn: int


@dataclass(frozen=True)
class TurnComplete(ServerEvent):
    """`reason`: why the turn ended abnormally (the service's `turn_complete_reason`,
    e.g. GENERATED_CONTENT_SAFETY, MALFORMED_FUNCTION_CALL); null when it ended normally."""

    type: ClassVar[str] = "turn_complete"
    turn: int
    reason: str | None = None


@dataclass(frozen=True)
class GenerationComplete(ServerEvent):
    """All of the model's audio of `turn` has arrived (playback may still go on)."""

    type: ClassVar[str] = "generation_complete"
    turn: int


@dataclass(frozen=True)
class Thinking(ServerEvent):
    """The model works in the background (`active`) or is done (extended thinking)."""

    type: ClassVar[str] = "thinking"
    turn: int
    active: bool


@dataclass(frozen=True)
class VoiceActivity(ServerEvent):
    """The service heard the user's voice start or end."""

    type: ClassVar[str] = "voice_activity"
    turn: int
    activity: Literal["start", "end"]


@dataclass(frozen=True)
class Grounding(ServerEvent):
    """Google Search sources of the model's reply in `turn` (http(s) links, bounded)."""

    type: ClassVar[str] = "grounding"
    turn: int
    sources: tuple[GroundingSource, ...]


@dataclass(frozen=True)
class ToolCall(ServerEvent):
    type: ClassVar[str] = "tool_call"
    id: str
    name: str
    args: Mapping[str, Any]
    turn: int


@dataclass(frozen=True)
class ToolCallCancelled(ServerEvent):
    type: ClassVar[str] = "tool_call_cancelled"
    ids: tuple[str, ...]
    turn: int


@dataclass(frozen=True)
class Usage(ServerEvent):
    """A usage report: `usage` as the service sent it (cumulative per connection),
    `delta` what it adds, `turn_usage` the turn so far, `session_usage` the session's."""

    type: ClassVar[str] = "usage"
    usage: Mapping[str, Any]
    turn: int
    delta: TokenCounts
    turn_usage: UsageTotals
    session_usage: UsageTotals


@dataclass(frozen=True)
class Error(ServerEvent):
    """A fatal error is followed by `state: error` and the socket closing (4002)."""

    type: ClassVar[str] = "error"
    code: str
    message: str
    fatal: bool = False


@dataclass(frozen=True)
class Pong(ServerEvent):
    type: ClassVar[str] = "pong"
    t: Any


@dataclass(frozen=True)
class Device(ServerEvent):
    """To a relay source: the device's socket came or went (`connected`, `disconnected`), or
    its `device_status` (`started`, `failed` with the browser's reason, `stopped`)."""

    type: ClassVar[str] = "device"
    status: DeviceState
    reason: str | None = None


@dataclass(frozen=True)
class PlaybackProgress(ServerEvent):
    """To a relay source: the device's running total of audio really played (ms)."""

    type: ClassVar[str] = "playback"
    played_ms: float


SERVER_EVENTS: tuple[type[ServerEvent], ...] = (
    Ready,
    State,
    Transcript,
    TextAccepted,
    Interrupted,
    TurnComplete,
    GenerationComplete,
    Thinking,
    VoiceActivity,
    Grounding,
    ToolCall,
    ToolCallCancelled,
    Usage,
    Error,
    Pong,
    Device,
    PlaybackProgress,
)
#: the REST shapes, by their schema name
REST_SHAPES: Mapping[str, type] = {
    "ModalityTokens": ModalityTokens,
    "TokenCounts": TokenCounts,
    "UsageTotals": UsageTotals,
    "GroundingSource": GroundingSource,
    "DelaySpread": DelaySpread,
    "Session": Session,
    "SessionStats": SessionStats,
    "TranscriptEntry": TranscriptEntry,
    "TextTurn": TextTurn,
}


# ---- JSON Schema ------------------------------------------------------------------------

_SCALARS: Mapping[type, str] = {str: "string", bool: "boolean", int: "integer", float: "number"}


def schema() -> dict[str, Any]:
    """Draft-07 JSON Schema of every server event (named by its `type`) and REST shape.

    Every field is required and no other is allowed; the whole schema is one server event.
    """
    definitions: dict[str, Any] = {}
    names = {cls: name for name, cls in REST_SHAPES.items()}
    for name, shape in REST_SHAPES.items():
        definitions[name] = _object_schema(shape, names)
    for event in SERVER_EVENTS:
        definitions[event.type] = _object_schema(event, names)
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "gemini-live server events and REST shapes (docs/api.md)",
        "description": "Generated by `python -m jupyter_gemini_live.protocol`; do not edit.",
        "definitions": definitions,
        "oneOf": [{"$ref": f"#/definitions/{event.type}"} for event in SERVER_EVENTS],
    }


def _object_schema(shape: type, names: Mapping[type, str]) -> dict[str, Any]:
    hints = typing.get_type_hints(shape)
    properties: dict[str, Any] = {}
    if dataclasses.is_dataclass(shape):
        properties["type"] = {"const": shape.type}  # type: ignore[attr-defined]
        fields_ = [f.name for f in dataclasses.fields(shape)]
    else:
        fields_ = list(hints)
    for name in fields_:
        properties[name] = _type_schema(hints[name], names)
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _type_schema(hint: Any, names: Mapping[type, str]) -> dict[str, Any]:
    if hint is Any:
        return {}
    if hint is type(None):
        return {"type": "null"}
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}
    if hint in names:
        return {"$ref": f"#/definitions/{names[hint]}"}
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Literal:
        return {"type": _SCALARS[type(args[0])], "enum": list(args)}
    if origin in (Union, types.UnionType):
        return {"anyOf": [_type_schema(arg, names) for arg in args]}
    if origin in (tuple, list, Sequence) and args:
        return {"type": "array", "items": _type_schema(args[0], names)}
    if origin in (dict, Mapping):
        return {"type": "object"}
    raise TypeError(f"no JSON Schema for {hint!r}")


def schema_text() -> str:
    """The schema as the checked-in file holds it."""
    return json.dumps(schema(), indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(schema_text())

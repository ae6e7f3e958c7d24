"""The `gemini` backend: a conversation with the Gemini Live API through `google-genai`.

`google.genai` is imported inside methods only: starting the server must not pay for it.

One `GeminiUpstream` may span several websocket connections. The service recycles
connections (goAway, with the time left) and sometimes drops them (1006, 1011). After
goAway the turn under way finishes on the old connection while time allows; the move
to a new one comes at a turn boundary, resuming with the newest resumable handle and
replaying the input the service did not confirm, without a word to the user unless it
takes long. After a drop the same happens at once, and `reconnecting`/`live` say so. A
refused or expired handle starts a new session seeded with the transcript. Refusals
that retrying cannot fix (bad key, unknown model, bad settings) end the conversation
with a fatal error that says what to change.

`map_message` turns each service message into events (pure, no I/O); `TurnState`
follows whether a turn is under way; `HoldBuffer` keeps input while reconnecting;
`ReplayBuffer` keeps sent input until a handle confirms it; `TranscriptHistory` keeps
the conversation's text for a new session.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib.util
import json
import logging
import ssl
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NoReturn

from ..models import Api, ModelCapabilities, capabilities, supporting
from .base import (
    INPUT_RATE,
    SAMPLE_WIDTH,
    AudioEvent,
    Backend,
    BackendError,
    BackendUnavailable,
    ErrorEvent,
    Event,
    GenerationCompleteEvent,
    GroundingEvent,
    GroundingSource,
    InteractionStatusEvent,
    InterimTranscriptEvent,
    InterruptedEvent,
    NewConnectionEvent,
    Role,
    Scheduling,
    SessionOptions,
    StateEvent,
    ToolCallCancelledEvent,
    ToolCallEvent,
    ToolImage,
    TranscriptEvent,
    TurnCompleteEvent,
    Upstream,
    UpstreamClosed,
    UsageEvent,
    VoiceActivityEvent,
    pcm_ms,
)

if TYPE_CHECKING:
    from google.auth.credentials import Credentials
    from google.genai import Client, types
    from google.genai.live import AsyncSession
    from websockets.exceptions import ConnectionClosed

    from ..vad import SpeechDetector

INPUT_MIME = f"audio/pcm;rate={INPUT_RATE}"
NO_KEY = "no API key: set GOOGLE_API_KEY or GEMINI_API_KEY, or c.GeminiLive.api_key"
NO_SDK = "the google-genai package is not installed: pip install google-genai"
NO_PROJECT = "Vertex AI needs a project: set c.GeminiLive.project or GOOGLE_CLOUD_PROJECT"
NO_LOCATION = "Vertex AI needs a location: set c.GeminiLive.location or GOOGLE_CLOUD_LOCATION"
NO_CREDENTIALS = (
    "The Gemini backend is off: no Application Default Credentials for Vertex AI. Run "
    "`gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS"
)
VERTEX_REFUSED = (
    "Vertex AI refused the credentials. Check Application Default Credentials "
    "(`gcloud auth application-default login`), c.GeminiLive.project and that the "
    "account may use Vertex AI there."
)
VERTEX_API_VERSION = "v1beta1"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
EVENT_QUEUE_SIZE = 256
CLOSE_TIMEOUT_S = 5.0
#: audio kept to tell, at goAway, whether the user is speaking (20 ms frames: 0.5 s)
RECENT_FRAMES = 25
#: speech start threshold of that watch: as sensitive as the service's most sensitive
WATCH_START_DB = -48.0


@dataclass(frozen=True)
class ReconnectPolicy:
    """How hard an upstream tries to keep a conversation going."""

    #: consecutive failed connections before giving up
    attempts: int = 4
    first_delay_s: float = 0.5
    max_delay_s: float = 8.0
    connect_timeout_s: float = 20.0
    #: microphone audio held while reconnecting; older audio is dropped (and counted)
    hold_ms: float = 5000.0
    #: inputs of any kind held while reconnecting, and their bytes; beyond, the oldest go
    hold_items: int = 1024
    hold_bytes: int = 8 * 1024 * 1024
    #: after goAway the connection is left this long before the deadline at the latest
    go_away_margin_s: float = 0.5
    #: sent input the service has not confirmed yet (replayed after a resumption), and
    #: its bytes; beyond, the oldest goes (and counts as lost if a resumption needs it)
    replay_items: int = 4096
    replay_bytes: int = 8 * 1024 * 1024
    #: a planned reconnect says `reconnecting` only once it took this long
    notice_s: float = 1.0
    #: transcript kept to seed a new session when a handle is refused, in UTF-8 bytes
    history_bytes: int = 32 * 1024

    def delay(self, failures: int) -> float:
        """Wait before the connection attempt that follows `failures` failed ones."""
        if failures <= 0:
            return 0.0
        return float(min(self.max_delay_s, self.first_delay_s * 2 ** (failures - 1)))


class Failure(Exception):
    """An upstream failure, classified: `retry` says whether reconnecting can help."""

    def __init__(self, code: str, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry = retry


class GeminiBackend(Backend):
    """Builds a `google-genai` client once and opens one upstream per session."""

    name = "gemini"

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None = None,
        api_version: str = "v1beta",
        ca_file: str | None = None,
        log: logging.Logger | None = None,
        policy: ReconnectPolicy | None = None,
        compression: bool = False,
        vertexai: bool = False,
        project: str | None = None,
        location: str | None = None,
        credentials: Credentials | None = None,
        on_loaded: Callable[[], None] | None = None,
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url
        self.api_version = api_version
        self.ca_file = ca_file
        self.log = log or logging.getLogger(__name__)
        self.policy = policy or ReconnectPolicy()
        #: per-message deflate on the upstream websocket (audio barely compresses)
        self.compression = compression
        #: Vertex AI (Gemini Enterprise Agent Platform) instead of the Developer API:
        #: a project and a location, and a bearer token from `credentials` (by default
        #: Application Default Credentials, loaded at the first connection)
        self.vertexai = vertexai
        self.project = project
        self.location = location
        self.credentials = credentials
        self._client: Client | None = None
        #: called once the SDK is imported and the client built (GeminiLive.settle_heap)
        self.on_loaded = on_loaded
        self._loading = asyncio.Lock()

    @property
    def api(self) -> Api:
        return "vertex" if self.vertexai else "developer"

    def unavailable_reason(self) -> str | None:
        if importlib.util.find_spec("google.genai") is None:
            return NO_SDK
        if self.vertexai:
            if not self.project:
                return NO_PROJECT
            if not self.location:
                return NO_LOCATION
        elif not self.api_key:
            return NO_KEY
        return None

    async def connect(self, options: SessionOptions) -> Upstream:
        reason = self.unavailable_reason()
        if reason is not None:
            raise BackendUnavailable("gemini_unavailable", f"The Gemini backend is off: {reason}.")
        if self._client is None:
            # Importing the SDK (pydantic models, aiohttp, httpx), building its pydantic
            # schemas and its client (two TLS contexts from the system's CAs) took 2.5 s
            # of the event loop at the first session, a stall of every other
            # conversation (benchmarks/RESULTS.md): a worker thread does it.
            async with self._loading:
                await asyncio.to_thread(load_sdk, options)
        try:
            live_config(options, None)
        except ValueError as error:  # pydantic's ValidationError is a ValueError
            raise BackendError("invalid_options", f"Bad session settings: {error}") from None
        if self.vertexai and self.credentials is None:
            self.credentials = await asyncio.to_thread(application_default_credentials)
        upstream = GeminiUpstream(await self.loaded_client(), options, self.policy, self.log)
        try:
            await upstream.start()
        except BackendError as error:
            if self.vertexai and error.code == "bad_api_key":
                raise BackendError("bad_credentials", VERTEX_REFUSED) from None
            raise
        return upstream

    async def loaded_client(self) -> Client:
        """The client, built on a worker thread the first time (then `on_loaded`)."""
        async with self._loading:
            if self._client is None:
                self._client = await asyncio.to_thread(self._make_client)
                if self.on_loaded is not None:
                    self.on_loaded()
        return self._client

    def _make_client(self) -> Client:
        from google import genai
        from google.genai import types

        async_args: dict[str, Any] = {}
        if not self.compression:
            # Handed to websockets' connect as well: no permessage-deflate offer. PCM
            # audio (most of the upstream bytes) barely compresses, and deflating every
            # 20 ms frame was the largest CPU cost of the uplink (issue 11).
            async_args["compression"] = None
        if self.ca_file:
            # The SDK hands async_client_args["ssl"] to websockets' connect for wss://.
            async_args["ssl"] = ssl.create_default_context(cafile=self.ca_file)
        if self.vertexai:
            # Vertex's own API version (v1beta1) unless one is configured.
            http_options = types.HttpOptions(
                api_version=self.vertex_api_version,
                base_url=self.base_url or None,
                async_client_args=async_args or None,
            )
            return genai.Client(
                vertexai=True,
                project=self.project,
                location=self.location,
                credentials=self.credentials,
                http_options=http_options,
            )
        http_options = types.HttpOptions(
            api_version=self.api_version,
            base_url=self.base_url or None,
            async_client_args=async_args or None,
        )
        return genai.Client(api_key=self.api_key, http_options=http_options)

    @property
    def vertex_api_version(self) -> str:
        """The Developer API's pinned version means nothing to Vertex: its own default."""
        return VERTEX_API_VERSION if self.api_version == "v1beta" else self.api_version


#: a service message with the fields of a conversation, parsed once to build the schemas
WARM_UP_MESSAGE: dict[str, Any] = {
    "serverContent": {
        "modelTurn": {"parts": [{"inlineData": {"data": "AAAA", "mimeType": "audio/pcm"}}]},
        "inputTranscription": {"text": "a", "finished": True},
        "outputTranscription": {"text": "b"},
        "interrupted": False,
        "generationComplete": True,
        "turnComplete": True,
    },
    "usageMetadata": {
        "totalTokenCount": 2,
        "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 2}],
    },
    "sessionResumptionUpdate": {"newHandle": "h", "resumable": True},
    "goAway": {"timeLeft": "1s"},
    "toolCall": {"functionCalls": [{"id": "1", "name": "f", "args": {}}]},
    "toolCallCancellation": {"ids": ["1"]},
    "voiceActivity": {"voiceActivityType": "ACTIVITY_START"},
}


def load_sdk(options: SessionOptions) -> None:
    """Import what a connection uses and build the pydantic schemas of the messages it
    exchanges, which pydantic defers to their first use (blocking: run in a thread)."""
    from google.genai import _live_converters, types

    with contextlib.suppress(ValueError):  # bad options: connect() says so
        live_config(options, None)
    converted = _live_converters._LiveServerMessage_from_mldev(WARM_UP_MESSAGE)
    types.LiveServerMessage._from_response(response=converted, kwargs={})


def application_default_credentials() -> Credentials:
    """Application Default Credentials for Vertex AI (blocking: run in a thread).

    What `gcloud auth application-default login` wrote, $GOOGLE_APPLICATION_CREDENTIALS,
    or the metadata server of a Google Cloud machine."""
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        credentials, _project = google.auth.default(scopes=[CLOUD_PLATFORM])
    except DefaultCredentialsError as error:
        raise BackendUnavailable("gemini_unavailable", f"{NO_CREDENTIALS} ({error})") from None
    return credentials


def live_config(options: SessionOptions, handle: str | None) -> types.LiveConnectConfig:
    """The setup of a connection: the session's options, plus the handle to resume.

    What depends on the model follows `models.capabilities` (never the name itself):
    no `thinking_config` on a model without thinking levels, no `proactive_audio` where
    the model is always proactive (false is an error there), `behavior` on function
    declarations only where async calling is supported (the model's default unless the
    declaration asks for another).
    """
    from google.genai import types

    capable = capabilities(options.model)
    voice = types.VoiceConfig(
        prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=options.voice)
    )
    transcription = types.AudioTranscriptionConfig() if options.transcription else None
    instruction = None
    if options.system_instruction:
        instruction = types.Content(parts=[types.Part(text=options.system_instruction)])
    tools: list[types.ToolUnion] = []
    if options.tools:
        declarations = [function_declaration(d, capable) for d in options.tools]
        tools.append(types.Tool(function_declarations=declarations))
    if options.google_search and capable.google_search:
        tools.append(types.Tool(google_search=types.GoogleSearch()))
    thinking = None
    if options.thinking_level and options.thinking_level in capable.thinking_levels:
        thinking = types.ThinkingConfig(
            thinking_level=types.ThinkingLevel(options.thinking_level.upper())
        )
    proactivity = None
    if options.proactive_audio is not None and capable.proactive_audio == "optional":
        proactivity = types.ProactivityConfig(proactive_audio=options.proactive_audio)
    affective = None
    if capable.affective_dialog == "supported":
        affective = options.affective_dialog
    resolution = None
    if options.media_resolution and capable.image_input:
        resolution = types.MediaResolution(f"MEDIA_RESOLUTION_{options.media_resolution.upper()}")
    return types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        speech_config=types.SpeechConfig(voice_config=voice, language_code=options.language),
        system_instruction=instruction,
        input_audio_transcription=transcription,
        output_audio_transcription=transcription,
        realtime_input_config=types.RealtimeInputConfig(
            automatic_activity_detection=activity_detection(options)
        ),
        tools=tools or None,
        thinking_config=thinking,
        proactivity=proactivity,
        enable_affective_dialog=affective,
        media_resolution=resolution,
        # Without compression audio sessions end after 15 minutes (audio+video: 2).
        context_window_compression=types.ContextWindowCompressionConfig(
            sliding_window=types.SlidingWindow()
        ),
        session_resumption=types.SessionResumptionConfig(handle=handle),
    )


def function_declaration(
    declaration: Mapping[str, Any], capable: ModelCapabilities
) -> types.FunctionDeclaration:
    """A session's tool as the model takes it: `behavior` only where async function
    calling is supported, and then always (the model's default unless asked)."""
    from google.genai import types

    fields = {key: value for key, value in declaration.items() if key != "behavior"}
    if capable.async_function_calling:
        behavior = declaration.get("behavior") or capable.default_behavior
        if behavior in capable.behaviors:
            fields["behavior"] = types.Behavior(behavior)
    return types.FunctionDeclaration.model_validate(fields)


def activity_detection(options: SessionOptions) -> types.AutomaticActivityDetection:
    from google.genai import types

    if options.activity_detection == "manual":
        return types.AutomaticActivityDetection(disabled=True)
    vad = options.vad
    start = end = None
    if vad.start_sensitivity:
        start = types.StartSensitivity(f"START_SENSITIVITY_{vad.start_sensitivity.upper()}")
    if vad.end_sensitivity:
        end = types.EndSensitivity(f"END_SENSITIVITY_{vad.end_sensitivity.upper()}")
    return types.AutomaticActivityDetection(
        disabled=False,
        silence_duration_ms=vad.silence_ms,
        prefix_padding_ms=vad.prefix_padding_ms,
        start_of_speech_sensitivity=start,
        end_of_speech_sensitivity=end,
    )


# ---- failures --------------------------------------------------------------------------


def classify(error: BaseException, model: str) -> Failure:
    """What an exception from the SDK or the websocket means for the conversation."""
    from google.genai import errors
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    if isinstance(error, Failure):
        return error
    if isinstance(error, errors.APIError):
        details = error.details
        reason = details if isinstance(details, str) else str(error.message or details)
        return closed(int(error.code or 1006), reason, model)
    if isinstance(error, ConnectionClosed):
        frame = error.rcvd
        return closed(frame.code if frame else 1006, frame.reason if frame else "", model)
    if isinstance(error, InvalidStatus):
        return refused_handshake(error.response.status_code)
    if isinstance(error, ssl.SSLCertVerificationError):
        return Failure(
            "tls_error",
            f"The Live API endpoint's certificate is not trusted ({error.verify_message}). "
            "For a private CA (simulator, corporate proxy) set c.GeminiLive.ca_file.",
            retry=False,
        )
    if isinstance(error, (OSError, asyncio.TimeoutError)):
        return Failure(
            "upstream_unreachable",
            f"Cannot reach the Live API ({error or type(error).__name__}); "
            "check the network, or c.GeminiLive.base_url.",
            retry=True,
        )
    return Failure("protocol_error", f"Unexpected answer from the Live API: {error!r}", retry=False)


def closed(code: int, reason: str, model: str) -> Failure:
    """The service closed the websocket with `code`: which failures are final."""
    said = f" ({code}: {reason})" if reason else f" ({code})"
    lowered = reason.lower()
    if "api key" in lowered or "unregistered callers" in lowered:
        return Failure(
            "bad_api_key",
            f"The Gemini API refused the API key{said}. Set a valid key in GOOGLE_API_KEY "
            "or GEMINI_API_KEY, or c.GeminiLive.api_key, and restart the server.",
            retry=False,
        )
    if "quota" in lowered or "resource_exhausted" in lowered:
        return Failure(
            "quota_exceeded",
            f"The Gemini API quota is used up{said}. Wait, or check the plan of the key.",
            retry=False,
        )
    if "handle" in lowered and code in (1007, 1008):
        return Failure(
            "handle_refused",
            f"The Live API refused to resume the session{said}.",
            retry=False,
        )
    if code == 1008:
        return Failure(
            "model_refused",
            f"The Live API refused the model {model!r}{said}. Pick another model in the "
            "model picker, or set c.GeminiLive.model.",
            retry=False,
        )
    if code in (1003, 1007):
        return Failure(
            "invalid_argument",
            f"The Live API rejected the session settings{said}. Check the voice, "
            "language, tools and system instruction.",
            retry=False,
        )
    return Failure("upstream_closed", f"The Live API connection closed{said}.", retry=True)


def refused_handshake(status: int) -> Failure:
    if status in (401, 403):
        return Failure(
            "bad_api_key",
            f"The Gemini API refused the connection (HTTP {status}). Check the API key "
            "(GOOGLE_API_KEY, GEMINI_API_KEY or c.GeminiLive.api_key).",
            retry=False,
        )
    if status == 404:
        return Failure(
            "endpoint_not_found",
            "No Live API at the configured address (HTTP 404). Check "
            "c.GeminiLive.base_url and c.GeminiLive.api_version.",
            retry=False,
        )
    return Failure(
        "upstream_unavailable",
        f"The Live API answered HTTP {status} to the connection.",
        retry=status == 429 or status >= 500,
    )


# ---- from service messages to events --------------------------------------------------


@dataclass(frozen=True)
class Mapped:
    """What one service message means for the conversation."""

    #: what the upstream reports, in order
    events: tuple[Event, ...] = ()
    #: a handle to resume with (only from an update the service marked resumable)
    handle: str | None = None
    #: the index of the last client message the handle's state includes (on the
    #: connection that sent it; counted from 0, the `setup`), when the service says
    last_consumed: int | None = None
    #: goAway: the seconds this connection has left
    go_away_s: float | None = None
    #: the model has sent all of the reply under way (only its playback is left)
    generation_complete: bool = False
    #: content or a tool call arrived: the conversation moves, the connection is sound
    progress: bool = False


def map_message(message: types.LiveServerMessage) -> Mapped:
    """The events of one `LiveServerMessage`, and what else the upstream must know.

    Pure: no I/O and no state. Backends only report what happened; the session owns
    "no audio of an interrupted turn" and "finals before turn_complete". Everything a
    message carries belongs to the turn it is part of, so `TurnCompleteEvent` comes
    last (after a usage report or a tool call in the same message).
    """
    events: list[Event] = []
    content = message.server_content
    activity = message.voice_activity
    kind = activity.voice_activity_type if activity is not None else None
    if kind is not None and kind.name in ("ACTIVITY_START", "ACTIVITY_END"):
        events.append(VoiceActivityEvent("start" if kind.name == "ACTIVITY_START" else "end"))
    if content is not None:
        interim = content.interim_input_transcription
        if interim is not None and interim.text:
            events.append(InterimTranscriptEvent(interim.text))
        events.extend(transcript_of("user", content.input_transcription))
        status = content.interaction_status
        if status is not None and status.name in ("IN_PROGRESS", "IDLE"):
            events.append(InteractionStatusEvent(status.name == "IN_PROGRESS"))
        parts = (content.model_turn.parts if content.model_turn else None) or []
        for part in parts:
            data = part.inline_data.data if part.inline_data else None
            if data:
                events.append(AudioEvent(data))
        events.extend(transcript_of("model", content.output_transcription))
        sources = grounding_sources(content.grounding_metadata)
        if sources:
            events.append(GroundingEvent(sources))
        if content.interrupted:
            events.append(InterruptedEvent())
        if content.generation_complete:
            events.append(GenerationCompleteEvent())
    calls = message.tool_call.function_calls if message.tool_call else None
    for call in calls or []:
        events.append(ToolCallEvent(call.id or "", call.name or "", dict(call.args or {})))
    cancelled = message.tool_call_cancellation
    if cancelled is not None:
        events.append(ToolCallCancelledEvent(tuple(cancelled.ids or ())))
    if message.usage_metadata is not None:
        events.append(UsageEvent(message.usage_metadata.model_dump(mode="json", exclude_none=True)))
    if content is not None and content.turn_complete:
        reason = content.turn_complete_reason
        unusual = reason is not None and reason.name != "TURN_COMPLETE_REASON_UNSPECIFIED"
        events.append(TurnCompleteEvent(reason.name if unusual and reason else None))
    update = message.session_resumption_update
    handle = (update.new_handle if update is not None and update.resumable else None) or None
    consumed = update.last_consumed_client_message_index if update is not None else None
    go_away = message.go_away
    return Mapped(
        events=tuple(events),
        handle=handle,
        last_consumed=consumed if handle is not None else None,
        go_away_s=seconds(go_away.time_left) if go_away is not None else None,
        generation_complete=bool(content is not None and content.generation_complete),
        progress=content is not None or message.tool_call is not None,
    )


#: grounding sources passed on per message, and the longest title and URI kept
MAX_SOURCES = 10
MAX_TITLE_CHARS = 300
MAX_URI_CHARS = 2048


def grounding_sources(metadata: types.GroundingMetadata | None) -> tuple[GroundingSource, ...]:
    """The web sources of grounding metadata: http(s) links only, bounded in count and
    size, each URI once."""
    if metadata is None:
        return ()
    sources: list[GroundingSource] = []
    seen: set[str] = set()
    for chunk in metadata.grounding_chunks or []:
        web = chunk.web
        uri = (web.uri or "").strip() if web is not None else ""
        if not uri or len(uri) > MAX_URI_CHARS or uri in seen:
            continue
        if not uri.lower().startswith(("https://", "http://")) or any(
            c.isspace() or c in '<>"' for c in uri
        ):
            continue
        seen.add(uri)
        title = " ".join(((web.title if web else None) or "").split())[:MAX_TITLE_CHARS]
        sources.append(GroundingSource(title, uri))
        if len(sources) == MAX_SOURCES:
            break
    return tuple(sources)


def transcript_of(role: Role, part: types.Transcription | None) -> list[Event]:
    """A transcript delta; final when the service says that role's text is finished."""
    if part is None or not (part.text or part.finished):
        return []
    return [TranscriptEvent(role, part.text or "", final=bool(part.finished))]


#: the serverContent fields `map_json` reads itself; anything else goes through the SDK
FAST_CONTENT = frozenset(
    {
        "modelTurn",
        "inputTranscription",
        "outputTranscription",
        "interrupted",
        "generationComplete",
        "turnComplete",
    }
)


def map_json(message: Mapping[str, Any]) -> Mapped | None:
    """`map_message` of the commonest service messages (reply audio, transcriptions, the
    turn's end, resumption handles), read straight from their JSON: None for any other
    message, or any field or value this does not know, and the SDK converts it as before.

    The SDK's conversion (converters, pydantic validation and its own dict walks) of every
    reply chunk was the largest cost of the downlink left in Python (issue 11).
    tests/backends/test_gemini.py holds this to `map_message` of the SDK's parse.
    """
    if len(message) != 1:
        return None
    if "sessionResumptionUpdate" in message:
        return _resumption_update(message["sessionResumptionUpdate"])
    content = message.get("serverContent")
    if not isinstance(content, dict) or not content.keys() <= FAST_CONTENT:
        return None
    flags = [content.get(k, False) for k in ("interrupted", "generationComplete", "turnComplete")]
    if not all(isinstance(flag, bool) for flag in flags):
        return None
    interrupted, generated, complete = flags
    heard = _transcription("user", content.get("inputTranscription"))
    said = _transcription("model", content.get("outputTranscription"))
    audio = _audio(content.get("modelTurn"))
    if heard is None or said is None or audio is None:
        return None
    events: list[Event] = [*heard, *audio, *said]
    if interrupted:
        events.append(InterruptedEvent())
    if generated:
        events.append(GenerationCompleteEvent())
    if complete:
        events.append(TurnCompleteEvent(None))
    return Mapped(events=tuple(events), generation_complete=generated, progress=True)


def _resumption_update(update: Any) -> Mapped | None:
    """A `sessionResumptionUpdate` (every ~50 client messages, per session) as the SDK
    maps it; None for anything unexpected."""
    if not isinstance(update, dict) or not update.keys() <= _UPDATE_FIELDS:
        return None
    handle, resumable = update.get("newHandle"), update.get("resumable")
    consumed = update.get("lastConsumedClientMessageIndex")
    if isinstance(consumed, str) and consumed.isdecimal():  # int64: a string in JSON
        consumed = int(consumed)
    if (
        not isinstance(handle, (str, type(None)))
        or not isinstance(resumable, (bool, type(None)))
        or not (consumed is None or (type(consumed) is int and consumed >= 0))
    ):
        return None
    if not (resumable and handle):
        return Mapped()
    return Mapped(handle=handle, last_consumed=consumed)


_UPDATE_FIELDS = frozenset({"newHandle", "resumable", "lastConsumedClientMessageIndex"})


def _transcription(role: Role, part: Any) -> list[Event] | None:
    if part is None:
        return []
    if not isinstance(part, dict) or not part.keys() <= {"text", "finished"}:
        return None
    text, finished = part.get("text"), part.get("finished")
    if not isinstance(text, (str, type(None))) or not isinstance(finished, (bool, type(None))):
        return None
    if not (text or finished):
        return []
    return [TranscriptEvent(role, text or "", final=bool(finished))]


def _audio(turn: Any) -> list[Event] | None:
    if turn is None:
        return []
    if not isinstance(turn, dict) or not turn.keys() <= {"role", "parts"}:
        return None
    events: list[Event] = []
    for part in turn.get("parts") or []:
        blob = (
            part.get("inlineData")
            if isinstance(part, dict) and part.keys() == {"inlineData"}
            else None
        )
        if not isinstance(blob, dict) or not blob.keys() <= {"data", "mimeType"}:
            return None
        data = blob.get("data")
        if not isinstance(data, str):
            return None
        try:  # pydantic takes both alphabets, as this does
            if "-" in data or "_" in data:
                pcm = base64.b64decode(data.translate(_URLSAFE), validate=True)
            else:
                pcm = base64.b64decode(data, validate=True)
        except ValueError:
            return None
        if pcm:
            events.append(AudioEvent(pcm))
    return events


_URLSAFE = str.maketrans("-_", "+/")


class TurnState:
    """Whether a turn is under way, followed from the events the upstream reports.

    The upstream needs it for two things: after goAway, to let a reply under way finish
    on the old connection; and when a connection is left mid-turn, to end that turn.
    """

    def __init__(self) -> None:
        self.open = False
        self._model_spoke = False
        self._interrupted = False
        self._generated = False

    def generation_complete(self) -> None:
        """All of the reply arrived: leaving now cuts nothing (only playback is left)."""
        if self.open:
            self._generated = True

    def observe(self, event: Event) -> None:
        if isinstance(event, TurnCompleteEvent):
            self._reset()
        elif isinstance(event, AudioEvent):
            self.open = self._model_spoke = True
        elif isinstance(event, InterruptedEvent):
            self.open = self._interrupted = True
        elif isinstance(event, TranscriptEvent) and event.text:
            self.open = True

    def cut(self) -> list[Event]:
        """The connection went away mid-turn: that turn is over, whatever it was."""
        if not self.open:
            return []
        events: list[Event] = []
        if self._model_spoke and not (self._interrupted or self._generated):
            events.append(InterruptedEvent())
        events.append(TurnCompleteEvent())
        self._reset()
        return events

    def _reset(self) -> None:
        self.open = self._model_spoke = self._interrupted = self._generated = False


# ---- input held while reconnecting --------------------------------------------------------


@dataclass(frozen=True)
class HeldInput:
    """One `send_*` call, ready to be delivered on whichever connection is current."""

    deliver: Callable[[AsyncSession], Awaitable[None]]
    #: payload size (PCM, text, image or response bytes), for the byte bound
    nbytes: int = 0
    #: microphone audio (PCM at INPUT_RATE): the audio bound applies, its loss is counted
    audio: bool = False
    #: the microphone audio itself, which replay keeps alone (see `ReplayBuffer`)
    pcm: bytes | None = None

    @property
    def audio_bytes(self) -> int:
        return self.nbytes if self.audio else 0


class HoldBuffer:
    """Input that arrived while no connection could take it, oldest first.

    Bounded three ways: microphone audio by duration (the oldest audio goes first), and
    everything by item count and by bytes (the oldest item goes first). What is dropped
    is counted: `dropped_ms` of audio, `dropped_items` of other input.
    """

    def __init__(self, *, max_audio_ms: float, max_items: int, max_bytes: int) -> None:
        self.max_audio_ms = max_audio_ms
        self.max_items = max_items
        self.max_bytes = max_bytes
        #: items ever held (delivered later or dropped)
        self.held = 0
        #: microphone audio dropped, in milliseconds
        self.dropped_ms = 0.0
        #: inputs other than audio dropped (texts, images, tool responses, signals)
        self.dropped_items = 0
        self._items: deque[HeldInput] = deque()
        self._max_audio_bytes = max_audio_ms * INPUT_RATE * SAMPLE_WIDTH / 1000
        self._audio_bytes = 0
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def audio_ms(self) -> float:
        return pcm_ms(self._audio_bytes, INPUT_RATE)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def push(self, item: HeldInput) -> None:
        self.held += 1
        self._items.append(item)
        self._audio_bytes += item.audio_bytes
        self._bytes += item.nbytes
        while self._audio_bytes > self._max_audio_bytes:
            self._drop(next(held for held in self._items if held.audio))
        while len(self._items) > self.max_items or self._bytes > self.max_bytes:
            self._drop(self._items[0])

    def first(self) -> HeldInput:
        """The oldest item (the buffer must not be empty)."""
        return self._items[0]

    def pop_first(self) -> HeldInput:
        """Remove the oldest item: it was delivered."""
        item = self._items.popleft()
        self._forget(item)
        return item

    def _drop(self, item: HeldInput) -> None:
        self._items.remove(item)
        self._forget(item)
        if item.audio:
            self.dropped_ms += pcm_ms(item.nbytes, INPUT_RATE)
        else:
            self.dropped_items += 1

    def _forget(self, item: HeldInput) -> None:
        self._audio_bytes -= item.audio_bytes
        self._bytes -= item.nbytes


def realtime_audio_message(pcm: bytes) -> str:
    """The SDK's `send_realtime_input(audio=Blob(pcm, INPUT_MIME))` message, built directly.

    The same JSON text the SDK writes (snake_case keys, URL-safe base64) for the Developer
    API and Vertex AI alike, without its per-frame pydantic validation, conversion and
    dict walk, which were the largest share of the uplink's CPU after deflate (issue 11,
    benchmarks/RESULTS.md). tests/backends/test_gemini_send.py holds it to the SDK's.
    """
    data = base64.urlsafe_b64encode(pcm).decode("ascii")  # as the SDK encodes bytes
    return f'{{"realtime_input": {{"audio": {{"data": "{data}", "mime_type": "{INPUT_MIME}"}}}}}}'


def audio_input(pcm: bytes) -> HeldInput:
    """Microphone audio as input to send, hold or replay."""
    return HeldInput(audio_sender(pcm), len(pcm), audio=True, pcm=pcm)


def audio_sender(pcm: bytes) -> Callable[[AsyncSession], Awaitable[None]]:
    """Deliver microphone audio on a connection: the prebuilt message on the SDK's socket.

    Everything else still goes through the SDK; a session without the socket attribute
    the SDK has today (a fake, a future SDK) gets the SDK's own call.
    """
    message = realtime_audio_message(pcm)

    async def deliver(session: AsyncSession) -> None:
        ws = getattr(session, "_ws", None)
        if ws is None:
            from google.genai import types

            blob = types.Blob(data=pcm, mime_type=INPUT_MIME)
            await session.send_realtime_input(audio=blob)
            return
        await ws.send(message)

    return deliver


# ---- input the service has not confirmed ----------------------------------------------------

#: the index of input put back unsent: no confirmation covers it
UNSENT = 2**62


class ReplayBuffer:
    """Input sent on the current connection that no resumption handle covers yet.

    Each item keeps the index the service counts it by (`setup` is 0 on every
    connection). A resumable handle whose state includes messages up to index N
    confirms them; resuming with that handle replays the rest, in order. Bounded by item
    count and bytes: the oldest go first, and are counted (`evicted_*`) until a
    confirmation covers them, so a resumption can say what it could not replay.

    Microphone audio is kept as its bytes alone, rebuilt into input when replayed: about
    2 s of every session's frames wait here for a handle, and as objects with a closure
    each they filled the garbage collector's oldest generation (at 50 sessions, a full
    collection of 40-70 ms, holding the event loop, every 10 s or so). A tuple of an int
    and bytes is not tracked by the collector.
    """

    def __init__(self, *, max_items: int, max_bytes: int) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        #: items that had to go before any confirmation covered them
        self.evicted = 0
        self._items: deque[tuple[int, HeldInput | bytes]] = deque()
        self._bytes = 0
        #: (index, audio ms, other items) of evicted input not confirmed yet, oldest first
        self._gone: deque[tuple[int, float, int]] = deque()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def sent(self, index: int, item: HeldInput | bytes) -> None:
        """`item` (microphone audio: its PCM) went out as message `index`."""
        kept = item.pcm if isinstance(item, HeldInput) and item.pcm is not None else item
        self._items.append((index, kept))
        self._bytes += _nbytes(kept)
        while len(self._items) > self.max_items or self._bytes > self.max_bytes:
            gone_index, gone = self._items.popleft()
            self._bytes -= _nbytes(gone)
            self.evicted += 1
            audio = isinstance(gone, bytes) or gone.audio
            audio_ms = pcm_ms(_nbytes(gone), INPUT_RATE) if audio else 0.0
            self._gone.append((gone_index, audio_ms, 0 if audio else 1))
            if len(self._gone) > 256:  # keep the record small: merge the two oldest
                _, ms1, n1 = self._gone.popleft()
                index2, ms2, n2 = self._gone.popleft()
                self._gone.appendleft((index2, ms1 + ms2, n1 + n2))

    def confirm(self, index: int) -> None:
        """The service's state includes every message up to `index`."""
        while self._items and self._items[0][0] <= index:
            self._bytes -= _nbytes(self._items.popleft()[1])
        while self._gone and self._gone[0][0] <= index:
            self._gone.popleft()

    def take(self) -> tuple[list[HeldInput], float, int]:
        """Everything to replay, oldest first, and what could not be kept (ms, items)."""
        items = [audio_input(kept) if isinstance(kept, bytes) else kept for _, kept in self._items]
        lost_ms = sum(ms for _, ms, _ in self._gone)
        lost_items = sum(n for _, _, n in self._gone)
        self._items.clear()
        self._gone.clear()
        self._bytes = 0
        return items, lost_ms, lost_items

    def put_back(self, items: list[HeldInput]) -> None:
        """Items a resumption could not deliver: they go first next time."""
        for item in reversed(items):
            kept = item.pcm if item.pcm is not None else item
            self._items.appendleft((UNSENT, kept))
            self._bytes += _nbytes(kept)


def _nbytes(kept: HeldInput | bytes) -> int:
    return len(kept) if isinstance(kept, bytes) else kept.nbytes


# ---- the conversation so far, to seed a new session ---------------------------------------


class TranscriptHistory:
    """The text of the conversation's turns, bounded by UTF-8 bytes (oldest turns go).

    When a handle is refused the service has forgotten the conversation; a new session
    is seeded with this (as initial history, or as one summary turn).
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._turns: deque[tuple[Role, str]] = deque()
        self._bytes = 0
        self._current: dict[Role, list[str]] = {"user": [], "model": []}

    def observe(self, event: Event) -> None:
        if isinstance(event, TranscriptEvent) and event.text:
            self._current[event.role].append(event.text)
        elif isinstance(event, TurnCompleteEvent):
            self.end_turn()

    def typed(self, text: str) -> None:
        self._current["user"].append(text)

    def end_turn(self) -> None:
        for role in ("user", "model"):
            text = "".join(self._current[role]).strip()
            self._current[role] = []
            if text:
                self._add(role, text)

    def _add(self, role: Role, text: str) -> None:
        size = len(text.encode())
        if size > self.max_bytes:
            text = text.encode()[-self.max_bytes :].decode(errors="ignore")
            size = len(text.encode())
        self._turns.append((role, text))
        self._bytes += size
        while self._bytes > self.max_bytes:
            self._bytes -= len(self._turns.popleft()[1].encode())

    @property
    def nbytes(self) -> int:
        return self._bytes

    def turns(self) -> list[tuple[Role, str]]:
        """Completed turns (and what the turn under way said so far), oldest first."""
        turns = list(self._turns)
        for role in ("user", "model"):
            text = "".join(self._current[role]).strip()
            if text:
                turns.append((role, text))
        return turns

    def summary(self) -> str:
        names = {"user": "User", "model": "You"}
        lines = [f"{names[role]}: {text}" for role, text in self.turns()]
        return (
            "The connection was renewed and the conversation so far was restored from its "
            "transcript. Continue from here without repeating it.\n" + "\n".join(lines)
        )


# ---- the upstream ----------------------------------------------------------------------------

SESSION_RESTARTED = (
    "The Live API could not resume the conversation (its handle was refused or had "
    "expired). A new session was started, and the conversation so far was restored from "
    "the transcript: the model may have lost details that were not in the text."
)


class GeminiUpstream(Upstream):
    """One conversation with the Live API, across as many connections as it takes.

    Seamless goAway: after the service announces the end of a connection, the turn
    under way (a reply, a tool call, the user's utterance) finishes on it while time
    allows; at the first turn boundary that has a fresh resumable handle the upstream
    moves to a new connection, and replays what the service did not confirm. A planned
    move says nothing to the user unless it takes longer than `policy.notice_s`.
    """

    def __init__(
        self,
        client: Client,
        options: SessionOptions,
        policy: ReconnectPolicy,
        log: logging.Logger,
    ) -> None:
        self.options = options
        self.policy = policy
        self.log = log
        #: input that arrived while no connection could take it
        self.held = HoldBuffer(
            max_audio_ms=policy.hold_ms, max_items=policy.hold_items, max_bytes=policy.hold_bytes
        )
        #: input sent but not confirmed by a resumable handle yet
        self.replay = ReplayBuffer(max_items=policy.replay_items, max_bytes=policy.replay_bytes)
        #: the conversation's text, to seed a new session if resuming is refused
        self.history = TranscriptHistory(policy.history_bytes)
        #: seed a new session with `history_config.initial_history_in_client_content`
        #: and the turns as client content; False: one summary turn (set per model)
        self.history_in_client_content = True
        #: sessions restarted because a handle was refused; audio and other input a
        #: resumption could not replay (the replay buffer was full)
        self.restarts = 0
        self.replay_lost_ms = 0.0
        self._client = client
        # Imported once: an import statement costs ~4 µs, too much per 20 ms audio frame.
        from websockets.exceptions import ConnectionClosed
        from websockets.protocol import State

        self._connection_closed = ConnectionClosed
        self._ws_open = State.OPEN
        self._events: asyncio.Queue[Event | None] = asyncio.Queue(EVENT_QUEUE_SIZE)
        self._ended = False  # the end-of-events marker was queued
        self._over = False  # no more input accepted
        self._session: AsyncSession | None = None
        self._exit_stack: contextlib.AsyncExitStack | None = None
        self._handle: str | None = None
        self._handle_fresh = False  # the handle came after the last turn ended
        self._sent_index = 0  # index of the last message sent on this connection
        self._send_lock = asyncio.Lock()
        self._failures = 0
        self._turn = TurnState()
        self._calls: set[str] = set()  # tool calls waiting for their response
        self._told_scheduling = False  # `scheduling_unsupported` was reported
        self._activity_open = False
        self._recent: deque[bytes] = deque(maxlen=RECENT_FRAMES)
        self._speech: SpeechDetector | None = None  # watching the user after goAway
        self._boundary = asyncio.Event()  # something a goAway wind-down waits on changed
        self._announced = False  # `reconnecting` was reported
        self._runner: asyncio.Task[None] | None = None
        self._closing: asyncio.Future[None] | None = None

    async def start(self) -> None:
        """The first connection; its failure is the caller's `BackendError`."""
        try:
            self._adopt(*await self._open())
        except Exception as error:
            failure = classify(error, self.options.model)
            raise BackendError(failure.code, failure.message) from None
        self._runner = asyncio.create_task(self._run(), name="gemini-live-upstream")

    # ---- input -------------------------------------------------------------------------

    async def send_audio(self, pcm: bytes) -> None:
        self._heard(pcm)
        await self._send(audio_input(pcm))

    def send_audio_now(self, pcm: bytes) -> bool:
        """`send_audio` written at once when nothing is in the way: a connection is up,
        no other send is under way and its socket has nothing queued. False: nothing was
        sent (the caller uses `send_audio`)."""
        session = self._session
        if self._over or session is None or self._send_lock.locked():
            return False
        ws = self._free_socket(session)
        if ws is None:
            return False
        message = realtime_audio_message(pcm)
        ws.protocol.send_text(message.encode())
        ws.send_data()
        self._heard(pcm)
        self._sent(pcm)
        return True

    def _free_socket(self, session: AsyncSession) -> Any:
        """The SDK's websocket if a message can be written on it at once, else None.

        websockets' `send` yields only while its write buffer is full (its docs); short of
        that it writes at once, and awaiting it cost the server's event loop a turn per
        microphone frame (issue 11). So: when the connection is open, no send is under way
        and nothing is queued in user space, the frame is written the way `send` does
        (`protocol.send_text`, then `send_data`).
        """
        ws: Any = getattr(session, "_ws", None)
        protocol = getattr(ws, "protocol", None)
        transport = getattr(ws, "transport", None)
        if protocol is None or transport is None or getattr(ws, "send_in_progress", 1) is not None:
            return None  # not the websockets connection this was written for
        if protocol.state is not self._ws_open or transport.is_closing():
            return None
        if transport.get_write_buffer_size():
            return None
        return ws

    def _heard(self, pcm: bytes) -> None:
        self._recent.append(pcm)
        if self._speech is not None and any(e.kind == "end" for e in self._speech.feed(pcm)):
            self._boundary.set()

    async def send_text(self, text: str) -> None:
        # Realtime text, not clientContent: native-audio and 3.x Live models take
        # clientContent only as initial history, and realtime text keeps its place in
        # the input stream. Without automatic activity detection a turn needs an
        # explicit activity around it, unless the user is holding push-to-talk.
        bracket = self.options.activity_detection == "manual" and not self._activity_open
        if bracket:
            await self.activity_start()
        self.history.typed(text)
        await self._send(HeldInput(lambda s: s.send_realtime_input(text=text), len(text.encode())))
        if bracket:
            await self.activity_end()

    async def activity_start(self) -> None:
        from google.genai import types

        self._activity_open = True
        await self._send(
            HeldInput(lambda s: s.send_realtime_input(activity_start=types.ActivityStart()))
        )

    async def activity_end(self) -> None:
        from google.genai import types

        self._activity_open = False
        self._boundary.set()
        await self._send(
            HeldInput(lambda s: s.send_realtime_input(activity_end=types.ActivityEnd()))
        )

    async def audio_stream_end(self) -> None:
        if self._speech is not None:
            self._speech.reset()
            self._boundary.set()
        if self._client.vertexai:
            return  # Developer API only: the SDK refuses it for Vertex AI
        await self._send(HeldInput(lambda s: s.send_realtime_input(audio_stream_end=True)))

    async def send_image(self, mime_type: str, data: bytes) -> None:
        from google.genai import types

        blob = types.Blob(data=data, mime_type=mime_type)
        await self._send(HeldInput(lambda s: s.send_realtime_input(video=blob), len(data)))

    async def send_tool_response(
        self,
        call_id: str,
        name: str,
        response: Mapping[str, Any],
        scheduling: Scheduling | None = None,
        images: Sequence[ToolImage] = (),
    ) -> None:
        from google.genai import types

        self._calls.discard(call_id)
        fields: dict[str, Any] = {"id": call_id, "name": name, "response": dict(response)}
        if scheduling is not None:
            if capabilities(self.options.model).scheduling:
                fields["scheduling"] = types.FunctionResponseScheduling(scheduling)
            else:
                await self._scheduling_unsupported()
        inline = capabilities(self.options.model).function_response_images
        if images and inline:
            fields["parts"] = [
                types.FunctionResponsePart(
                    inline_data=types.FunctionResponseBlob(mime_type=i.mime_type, data=i.data)
                )
                for i in images
            ]
        elif images:
            fields["response"]["images"] = "sent as video input"
        answer = types.FunctionResponse(**fields)
        size = len(json.dumps(answer.response, default=str)) + sum(len(i.data) for i in images)
        await self._send(
            HeldInput(lambda s: s.send_tool_response(function_responses=[answer]), size)
        )
        if not inline:
            # The model sees them as what the camera shows right after the answer.
            for image in images:
                await self.send_image(image.mime_type, image.data)

    async def _scheduling_unsupported(self) -> None:
        """Tell the sender once that this model takes no `scheduling` (it was dropped)."""
        if self._told_scheduling:
            return
        self._told_scheduling = True
        able = ", ".join(supporting("scheduling")) or "none"
        message = (
            f"{self.options.model} does not take scheduling on tool responses: it was "
            f"dropped and the model's default applies (models that take it: {able})"
        )
        await self._emit(ErrorEvent("scheduling_unsupported", message))

    async def _send(self, item: HeldInput) -> None:
        if self._over:
            raise UpstreamClosed("the Gemini conversation is over")
        async with self._send_lock:
            session = self._session
            if session is None:
                self.held.push(item)
                return
            try:
                await item.deliver(session)
            except self._connection_closed:
                # The receiver sees the same drop and reconnects; this goes out then.
                self.held.push(item)
                return
            self._sent(item)

    def _sent(self, item: HeldInput | bytes) -> None:
        """`item` (microphone audio: its PCM) is on the current connection: kept for
        replay until a handle covers it."""
        self._sent_index += 1
        self.replay.sent(self._sent_index, item)

    @property
    def dropped_ms(self) -> float:
        """Microphone audio lost: not held long enough, or not kept for replay."""
        return self.held.dropped_ms + self.replay_lost_ms

    # ---- output ------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[Event]:
        while not (self._ended and self._events.empty()):
            event = await self._events.get()
            if event is None:
                return
            yield event

    async def _emit(self, event: Event) -> None:
        self.history.observe(event)
        await self._events.put(event)

    def _end_events(self) -> None:
        """Queue the end marker now; on a full queue, what nobody read is dropped."""
        if self._ended:
            return
        self._ended = True
        while self._events.full():
            self._events.get_nowait()
        self._events.put_nowait(None)

    # ---- connections -----------------------------------------------------------------

    async def _open(
        self, *, seeded: bool = False
    ) -> tuple[contextlib.AsyncExitStack, AsyncSession]:
        """Connect (resuming when there is a handle); not yet used for sending.

        `seeded`: a new session that will get the history as initial client content.
        """
        config = live_config(self.options, self._handle)
        if seeded:
            from google.genai import types

            history = types.HistoryConfig(initial_history_in_client_content=True)
            config = config.model_copy(update={"history_config": history})
        stack = contextlib.AsyncExitStack()
        connection = self._client.aio.live.connect(model=self.options.model, config=config)
        session = await asyncio.wait_for(
            stack.enter_async_context(connection), self.policy.connect_timeout_s
        )
        return stack, session

    def _adopt(self, stack: contextlib.AsyncExitStack, session: AsyncSession) -> None:
        self._exit_stack, self._session = stack, session

    async def _disconnect(self) -> None:
        stack, self._exit_stack, self._session = self._exit_stack, None, None
        if stack is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(stack.aclose(), CLOSE_TIMEOUT_S)

    async def _run(self) -> None:
        try:
            await self._converse()
        except Failure as failure:
            await self._emit(ErrorEvent(failure.code, failure.message, fatal=True))
        except Exception as error:
            self.log.exception("gemini upstream failed")
            await self._emit(
                ErrorEvent("internal_error", f"Gemini backend error: {error!r}", fatal=True)
            )
        self._over = True
        await self._disconnect()
        await self._events.put(None)
        self._ended = True

    async def _converse(self) -> None:
        """Relay the conversation; reconnect whenever that can help."""
        while True:
            try:
                await self._relay_connection()
                planned = True
            except Exception as error:
                failure = classify(error, self.options.model)
                if not failure.retry:
                    raise failure from error
                self.log.warning("Gemini Live connection lost: %s", failure.message)
                planned = False
            await self._reconnect(planned=planned)

    async def _relay_connection(self) -> None:
        """Relay until the connection fails (raises) or was wound down after goAway."""
        session = self._session
        assert session is not None
        messages = receive_all(session)
        try:
            while True:
                mapped = as_mapped(await anext(messages))
                await self._dispatch(mapped)
                if mapped.go_away_s is not None:
                    self.log.info("Gemini Live goAway: %.1f s left", mapped.go_away_s)
                    await self._wind_down(messages, mapped.go_away_s)
                    return
        finally:
            await messages.aclose()

    async def _wind_down(
        self, messages: AsyncIterator[types.LiveServerMessage | Mapped], left: float
    ) -> None:
        """Keep relaying (and sending) until a turn boundary, or until time runs out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, left - self.policy.go_away_margin_s)
        self._watch_speech()
        receiving: asyncio.Future[types.LiveServerMessage | Mapped] | None = None
        try:
            while not self._at_boundary():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    self.log.info("Gemini Live goAway: time is up before a turn boundary")
                    return
                if receiving is None:
                    receiving = asyncio.ensure_future(anext(messages))
                self._boundary.clear()
                changed: asyncio.Future[Any] = asyncio.ensure_future(self._boundary.wait())
                waiting: set[asyncio.Future[Any]] = {receiving, changed}
                done, _ = await asyncio.wait(
                    waiting, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
                changed.cancel()
                if receiving not in done:
                    continue
                arrived, receiving = receiving, None
                try:
                    message = arrived.result()
                except Exception as error:  # the connection ended before its time
                    failure = classify(error, self.options.model)
                    if not failure.retry:
                        raise failure from error
                    return
                await self._dispatch(as_mapped(message))
        finally:
            self._speech = None
            if receiving is not None:
                receiving.cancel()
                await asyncio.gather(receiving, return_exceptions=True)

    def _watch_speech(self) -> None:
        """Follow whether the user is speaking (from the audio sent lately on)."""
        from ..vad import SpeechDetector

        self._speech = SpeechDetector(
            INPUT_RATE, start_db=WATCH_START_DB, silence_ms=self.options.vad.silence_ms
        )
        for pcm in self._recent:
            self._speech.feed(pcm)

    def _user_speaking(self) -> bool:
        if self.options.activity_detection == "manual":
            return self._activity_open
        return self._speech is not None and self._speech.speaking

    def _at_boundary(self) -> bool:
        """No reply, call or utterance under way, and a handle that covers all of it."""
        return (
            not self._turn.open
            and not self._calls
            and not self._user_speaking()
            and self._handle_fresh
        )

    async def _dispatch(self, mapped: Mapped) -> None:
        received = time.monotonic()  # the message has just been read and mapped
        if mapped.progress:
            self._failures = 0  # the conversation moves again: the connection is sound
        if mapped.generation_complete:
            self._turn.generation_complete()
        for event in mapped.events:
            if isinstance(event, AudioEvent):
                event = replace(event, received=received)
            self._turn.observe(event)
            if isinstance(event, ToolCallEvent):
                self._calls.add(event.id)
            elif isinstance(event, ToolCallCancelledEvent):
                self._calls.difference_update(event.ids)
            await self._emit(event)
        if self._turn.open:
            self._handle_fresh = False
        if mapped.handle is not None:
            self._handle = mapped.handle
            self._handle_fresh = not self._turn.open
            # Without an index, the handle is taken to cover what was sent before it came.
            confirmed = mapped.last_consumed
            self.replay.confirm(self._sent_index if confirmed is None else confirmed)

    async def _reconnect(self, *, planned: bool) -> None:
        cut = self._turn.cut()
        self._calls.clear()
        for event in cut:
            await self._emit(event)
        noticed = not planned or any(isinstance(event, InterruptedEvent) for event in cut)
        notice: asyncio.Task[None] | None = None
        if noticed:
            await self._announce()
        else:
            notice = asyncio.create_task(self._announce_later())
        async with self._send_lock:
            # From here on input is held; the old socket closes before the new one
            # opens, since the service resumes a session only once it is gone.
            await self._disconnect()
        dropped_ms, dropped_items = self.held.dropped_ms, self.held.dropped_items
        try:
            stack, session, seeded = await self._connect_with_backoff()
        finally:
            if notice is not None:
                notice.cancel()
                await asyncio.gather(notice, return_exceptions=True)
        try:
            lost_ms, lost_items = await self._resume_input(stack, session, seeded)
        except BaseException:  # closed while resuming: the new socket must not leak
            with contextlib.suppress(Exception):
                await asyncio.wait_for(stack.aclose(), CLOSE_TIMEOUT_S)
            raise
        self.replay_lost_ms += lost_ms
        # The service's cumulative usage counts start again on the new connection.
        await self._emit(NewConnectionEvent())
        lost = lost_input(
            self.held.dropped_ms - dropped_ms + lost_ms,
            self.held.dropped_items - dropped_items + lost_items,
        )
        if seeded is not None:
            self.restarts += 1
            await self._emit(ErrorEvent("session_restarted", SESSION_RESTARTED))
        if lost:
            await self._emit(ErrorEvent("input_dropped", lost))
        if self._announced:
            self._announced = False
            await self._emit(StateEvent("live"))

    async def _announce(self) -> None:
        if not self._announced:
            await self._emit(StateEvent("reconnecting"))
            self._announced = True

    async def _announce_later(self) -> None:
        await asyncio.sleep(self.policy.notice_s)
        await self._announce()

    async def _connect_with_backoff(
        self,
    ) -> tuple[contextlib.AsyncExitStack, AsyncSession, str | None]:
        """A new connection; the third item says how a new session is seeded with the
        conversation so far ("history", "summary"), None when the old one was resumed."""
        last = "no attempt"
        seeded: str | None = None
        while self._failures < self.policy.attempts:
            await asyncio.sleep(self.policy.delay(self._failures))
            self._failures += 1
            try:
                stack, session = await self._open(seeded=seeded == "history")
                return stack, session, seeded
            except Exception as error:
                failure = classify(error, self.options.model)
                if failure.code == "handle_refused" and self._handle is not None:
                    # Expired or unknown: start over, with the conversation as history.
                    self.log.warning("Gemini Live refused the resumption: %s", failure.message)
                    self._handle = None
                    self._failures -= 1
                    seeded = "history" if self.history_in_client_content else "summary"
                    continue
                if failure.code == "invalid_argument" and seeded == "history":
                    # This model takes no initial history: one summary turn instead.
                    self.history_in_client_content = False
                    seeded = "summary"
                    continue
                if not failure.retry:
                    raise failure from error
                last = failure.message
                self.log.warning("Gemini Live reconnect failed: %s", last)
        raise Failure(
            "reconnect_failed",
            f"Lost the Live API connection and could not resume it after "
            f"{self.policy.attempts} attempts; last error: {last} Start a new session.",
            retry=False,
        )

    async def _resume_input(
        self, stack: contextlib.AsyncExitStack, session: AsyncSession, seeded: str | None
    ) -> tuple[float, int]:
        """Seed a new session, replay what was not confirmed and send what was held, in
        order, then let new input through. Returns what could not be replayed."""
        from websockets.exceptions import ConnectionClosed

        async with self._send_lock:
            self._sent_index = 0
            self._handle_fresh = False
            if seeded is not None:
                with contextlib.suppress(ConnectionClosed):
                    await self._seed(session, seeded)
            pending, lost_ms, lost_items = self.replay.take()
            for index, item in enumerate(pending):
                try:
                    await item.deliver(session)
                except ConnectionClosed:
                    self.replay.put_back(pending[index:])
                    break  # the receiver will reconnect again; the rest waits
                self._sent(item)
            else:
                while self.held:
                    try:
                        await self.held.first().deliver(session)
                    except ConnectionClosed:
                        break  # the receiver will reconnect again; the rest stays held
                    self._sent(self.held.pop_first())
            self._adopt(stack, session)
        return lost_ms, lost_items

    async def _seed(self, session: AsyncSession, how: str) -> None:
        """Give a new session the conversation so far, without asking for a reply."""
        from google.genai import types

        turns = self.history.turns()
        if not turns:
            return
        if how == "history":
            contents: list[types.Content | types.ContentDict] = [
                types.Content(role=role, parts=[types.Part(text=text)]) for role, text in turns
            ]
        else:
            contents = [types.Content(role="user", parts=[types.Part(text=self.history.summary())])]
        await session.send_client_content(turns=contents, turn_complete=False)
        self._sent_index += 1

    # ---- closing ----------------------------------------------------------------------

    def dropped_input_ms(self) -> float:
        return self.dropped_ms

    async def close(self) -> None:
        if self._closing is not None:
            await asyncio.shield(self._closing)
            return
        self._closing = asyncio.get_running_loop().create_future()
        self._over = True
        try:
            if self._runner is not None:
                self._runner.cancel()
                await asyncio.gather(self._runner, return_exceptions=True)
            await self._disconnect()
            self._end_events()
        finally:
            self._closing.set_result(None)


async def receive_all(
    session: AsyncSession,
) -> AsyncGenerator[types.LiveServerMessage | Mapped, None]:
    """Every message of a connection (the SDK's `receive()` stops at each turn's end).

    On the Developer API, with the SDK's socket at hand, the commonest messages come
    already mapped (`map_json`); the rest, and everything on Vertex AI, as the SDK's
    `LiveServerMessage`.
    """
    ws = getattr(session, "_ws", None)
    client = getattr(session, "_api_client", None)
    if ws is None or client is None or getattr(client, "vertexai", True):
        while True:
            async for message in session.receive():
                yield message
    from websockets.exceptions import ConnectionClosed

    while True:
        try:
            raw = await ws.recv(decode=False)
        except ConnectionClosed as closed:
            raise_closed(closed)
        yield parse_message(raw)


def raise_closed(closed: ConnectionClosed) -> NoReturn:
    """The SDK's `APIError` for a closed connection, as `AsyncSession._receive` raises it."""
    from google.genai import errors
    from websockets.frames import CLOSE_CODE_EXPLANATIONS

    if closed.rcvd:
        code, reason = closed.rcvd.code, closed.rcvd.reason
    else:
        code, reason = 1006, CLOSE_CODE_EXPLANATIONS.get(1006, "Abnormal closure.")
    errors.APIError.raise_error(code, reason, None)
    raise closed  # raise_error always raises


def parse_message(raw: bytes | str) -> types.LiveServerMessage | Mapped:
    """One message of the Developer API, read as `AsyncSession._receive` reads it (the
    same errors), mapped here when `map_json` knows it."""
    try:
        response = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        raise ValueError(f"Failed to parse response: {raw!r}") from None
    if isinstance(response, dict):
        mapped = map_json(response)
        if mapped is not None:
            return mapped
    from google.genai import _live_converters, errors, types

    converted = _live_converters._LiveServerMessage_from_mldev(response)
    if not converted and response:
        errors.APIError.raise_error(response.get("code"), response, None)  # type: ignore[arg-type]
    return types.LiveServerMessage._from_response(
        response=converted, kwargs=types.LiveServerMessage().model_dump()
    )


def as_mapped(message: types.LiveServerMessage | Mapped) -> Mapped:
    return message if isinstance(message, Mapped) else map_message(message)


def lost_input(audio_ms: float, items: int) -> str:
    """What a reconnect lost, said to the user ("" when nothing)."""
    lost = []
    if audio_ms > 0:
        lost.append(f"{audio_ms:.0f} ms of microphone audio")
    if items > 0:
        lost.append(f"{items} other input{'s' if items != 1 else ''} (text, images, tool results)")
    if not lost:
        return ""
    verb = "was" if len(lost) == 1 and audio_ms <= 0 and items == 1 else "were"
    return f"{' and '.join(lost)} {verb} lost while reconnecting."


def seconds(duration: str | None) -> float:
    """A protobuf duration such as "50s" or "1.5s" in seconds (0 when unreadable)."""
    try:
        return float((duration or "0s").rstrip("s"))
    except ValueError:
        return 0.0

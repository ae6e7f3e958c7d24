"""The `gemini` backend: a conversation with the Gemini Live API through `google-genai`.

`google.genai` is imported inside methods only: starting the server must not pay for it.

One `GeminiUpstream` may span several websocket connections. The service recycles
connections (goAway about a minute before the end) and sometimes drops them (1006,
1011); the upstream then resumes with the newest resumable handle, holding the
microphone meanwhile so no input is lost, and reports `reconnecting` and `live`.
Refusals that retrying cannot fix (bad key, unknown model, bad settings) end the
conversation with a fatal error that says what to change.

`map_message` turns each service message into events (pure, no I/O); `TurnState`
follows whether a turn is under way; `HoldBuffer` keeps input while reconnecting.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import ssl
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .base import (
    INPUT_RATE,
    SAMPLE_WIDTH,
    AudioEvent,
    Backend,
    BackendError,
    BackendUnavailable,
    ErrorEvent,
    Event,
    InterruptedEvent,
    Role,
    SessionOptions,
    StateEvent,
    ToolCallCancelledEvent,
    ToolCallEvent,
    TranscriptEvent,
    TurnCompleteEvent,
    Upstream,
    UpstreamClosed,
    UsageEvent,
    pcm_ms,
)

if TYPE_CHECKING:
    from google.genai import Client, types
    from google.genai.live import AsyncSession

INPUT_MIME = f"audio/pcm;rate={INPUT_RATE}"
NO_KEY = "no API key: set GOOGLE_API_KEY or GEMINI_API_KEY, or c.GeminiLive.api_key"
NO_SDK = "the google-genai package is not installed: pip install google-genai"
EVENT_QUEUE_SIZE = 256
CLOSE_TIMEOUT_S = 5.0


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
    #: after goAway a reply still playing may finish, until this long before the deadline
    go_away_margin_s: float = 2.0

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
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url
        self.api_version = api_version
        self.ca_file = ca_file
        self.log = log or logging.getLogger(__name__)
        self.policy = policy or ReconnectPolicy()
        #: per-message deflate on the upstream websocket (audio barely compresses)
        self.compression = compression
        self._client: Client | None = None

    def unavailable_reason(self) -> str | None:
        if not self.api_key:
            return NO_KEY
        if importlib.util.find_spec("google.genai") is None:
            return NO_SDK
        return None

    async def connect(self, options: SessionOptions) -> Upstream:
        reason = self.unavailable_reason()
        if reason is not None:
            raise BackendUnavailable("gemini_unavailable", f"The Gemini backend is off: {reason}.")
        try:
            live_config(options, None)
        except ValueError as error:  # pydantic's ValidationError is a ValueError
            raise BackendError("invalid_options", f"Bad session settings: {error}") from None
        upstream = GeminiUpstream(self.client(), options, self.policy, self.log)
        await upstream.start()
        return upstream

    def client(self) -> Client:
        if self._client is None:
            self._client = self._make_client()
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
        http_options = types.HttpOptions(
            api_version=self.api_version,
            base_url=self.base_url or None,
            async_client_args=async_args or None,
        )
        return genai.Client(api_key=self.api_key, http_options=http_options)


def live_config(options: SessionOptions, handle: str | None) -> types.LiveConnectConfig:
    """The setup of a connection: the session's options, plus the handle to resume."""
    from google.genai import types

    voice = types.VoiceConfig(
        prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=options.voice)
    )
    transcription = types.AudioTranscriptionConfig() if options.transcription else None
    instruction = None
    if options.system_instruction:
        instruction = types.Content(parts=[types.Part(text=options.system_instruction)])
    tools: list[types.ToolUnion] | None = None
    if options.tools:
        declarations = [types.FunctionDeclaration.model_validate(dict(d)) for d in options.tools]
        tools = [types.Tool(function_declarations=declarations)]
    return types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        speech_config=types.SpeechConfig(voice_config=voice, language_code=options.language),
        system_instruction=instruction,
        input_audio_transcription=transcription,
        output_audio_transcription=transcription,
        realtime_input_config=types.RealtimeInputConfig(
            automatic_activity_detection=activity_detection(options)
        ),
        tools=tools,
        # Without compression audio sessions end after 15 minutes.
        context_window_compression=types.ContextWindowCompressionConfig(
            sliding_window=types.SlidingWindow()
        ),
        session_resumption=types.SessionResumptionConfig(handle=handle),
    )


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
    #: goAway: the seconds this connection has left
    go_away_s: float | None = None
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
    if content is not None:
        events.extend(transcript_of("user", content.input_transcription))
        parts = (content.model_turn.parts if content.model_turn else None) or []
        for part in parts:
            data = part.inline_data.data if part.inline_data else None
            if data:
                events.append(AudioEvent(data))
        events.extend(transcript_of("model", content.output_transcription))
        if content.interrupted:
            events.append(InterruptedEvent())
    calls = message.tool_call.function_calls if message.tool_call else None
    for call in calls or []:
        events.append(ToolCallEvent(call.id or "", call.name or "", dict(call.args or {})))
    cancelled = message.tool_call_cancellation
    if cancelled is not None:
        events.append(ToolCallCancelledEvent(tuple(cancelled.ids or ())))
    if message.usage_metadata is not None:
        events.append(UsageEvent(message.usage_metadata.model_dump(mode="json", exclude_none=True)))
    if content is not None and content.turn_complete:
        events.append(TurnCompleteEvent())
    update = message.session_resumption_update
    handle = update.new_handle if update is not None and update.resumable else None
    go_away = message.go_away
    return Mapped(
        events=tuple(events),
        handle=handle or None,
        go_away_s=seconds(go_away.time_left) if go_away is not None else None,
        progress=content is not None or message.tool_call is not None,
    )


def transcript_of(role: Role, part: types.Transcription | None) -> list[Event]:
    """A transcript delta; final when the service says that role's text is finished."""
    if part is None or not (part.text or part.finished):
        return []
    return [TranscriptEvent(role, part.text or "", final=bool(part.finished))]


class TurnState:
    """Whether a turn is under way, followed from the events the upstream reports.

    The upstream needs it for two things: after goAway, to let a reply under way finish
    on the old connection; and when a connection is lost mid-turn, to end that turn.
    """

    def __init__(self) -> None:
        self.open = False
        self._model_spoke = False
        self._interrupted = False

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
        if self._model_spoke and not self._interrupted:
            events.append(InterruptedEvent())
        events.append(TurnCompleteEvent())
        self._reset()
        return events

    def _reset(self) -> None:
        self.open = self._model_spoke = self._interrupted = False


# ---- input held while reconnecting --------------------------------------------------------


@dataclass(frozen=True)
class HeldInput:
    """One `send_*` call, ready to be delivered on whichever connection is current."""

    deliver: Callable[[AsyncSession], Awaitable[None]]
    #: payload size (PCM, text, image or response bytes), for the byte bound
    nbytes: int = 0
    #: microphone audio (PCM at INPUT_RATE): the audio bound applies, its loss is counted
    audio: bool = False

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


# ---- the upstream ----------------------------------------------------------------------------


class GeminiUpstream(Upstream):
    """One conversation with the Live API, across as many connections as it takes."""

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
        self._client = client
        self._events: asyncio.Queue[Event | None] = asyncio.Queue(EVENT_QUEUE_SIZE)
        self._ended = False  # the end-of-events marker was queued
        self._over = False  # no more input accepted
        self._session: AsyncSession | None = None
        self._exit_stack: contextlib.AsyncExitStack | None = None
        self._handle: str | None = None
        self._send_lock = asyncio.Lock()
        self._failures = 0
        self._turn = TurnState()
        self._activity_open = False
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
        from google.genai import types

        blob = types.Blob(data=pcm, mime_type=INPUT_MIME)
        await self._send(
            HeldInput(lambda s: s.send_realtime_input(audio=blob), len(pcm), audio=True)
        )

    async def send_text(self, text: str) -> None:
        # Realtime text, not clientContent: native-audio and 3.x Live models take
        # clientContent only as initial history, and realtime text keeps its place in
        # the input stream. Without automatic activity detection a turn needs an
        # explicit activity around it, unless the user is holding push-to-talk.
        bracket = self.options.activity_detection == "manual" and not self._activity_open
        if bracket:
            await self.activity_start()
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
        await self._send(
            HeldInput(lambda s: s.send_realtime_input(activity_end=types.ActivityEnd()))
        )

    async def audio_stream_end(self) -> None:
        await self._send(HeldInput(lambda s: s.send_realtime_input(audio_stream_end=True)))

    async def send_image(self, mime_type: str, data: bytes) -> None:
        from google.genai import types

        blob = types.Blob(data=data, mime_type=mime_type)
        await self._send(HeldInput(lambda s: s.send_realtime_input(video=blob), len(data)))

    async def send_tool_response(
        self, call_id: str, name: str, response: Mapping[str, Any]
    ) -> None:
        from google.genai import types

        answer = types.FunctionResponse(id=call_id, name=name, response=dict(response))
        size = len(json.dumps(answer.response, default=str))
        await self._send(
            HeldInput(lambda s: s.send_tool_response(function_responses=[answer]), size)
        )

    async def _send(self, item: HeldInput) -> None:
        from websockets.exceptions import ConnectionClosed

        if self._over:
            raise UpstreamClosed("the Gemini conversation is over")
        async with self._send_lock:
            session = self._session
            if session is None:
                self.held.push(item)
                return
            try:
                await item.deliver(session)
            except ConnectionClosed:
                # The receiver sees the same drop and reconnects; this goes out then.
                self.held.push(item)

    @property
    def dropped_ms(self) -> float:
        """Microphone audio dropped because a reconnect took too long."""
        return self.held.dropped_ms

    # ---- output ------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[Event]:
        while not (self._ended and self._events.empty()):
            event = await self._events.get()
            if event is None:
                return
            yield event

    async def _emit(self, event: Event) -> None:
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

    async def _open(self) -> tuple[contextlib.AsyncExitStack, AsyncSession]:
        """Connect (resuming when there is a handle); not yet used for sending."""
        stack = contextlib.AsyncExitStack()
        connection = self._client.aio.live.connect(
            model=self.options.model, config=live_config(self.options, self._handle)
        )
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
            except Exception as error:
                failure = classify(error, self.options.model)
                if not failure.retry:
                    raise failure from error
                self.log.warning("Gemini Live connection lost: %s", failure.message)
            await self._reconnect()

    async def _relay_connection(self) -> None:
        """Relay until the connection fails (raises) or has to be replaced (returns)."""
        time_left = await self._relay(until_turn_end=False)
        if self._turn.open:
            # Let the reply being played finish on this connection, if time allows.
            with contextlib.suppress(asyncio.TimeoutError):
                budget = max(0.0, time_left - self.policy.go_away_margin_s)
                await asyncio.wait_for(self._relay(until_turn_end=True), budget)

    async def _relay(self, *, until_turn_end: bool) -> float:
        """Relay messages; return goAway's time left, or 0 once the turn has ended."""
        session = self._session
        assert session is not None
        while True:
            async for message in session.receive():
                mapped = map_message(message)
                if mapped.go_away_s is not None and not until_turn_end:
                    self.log.info("Gemini Live goAway: %.1f s left", mapped.go_away_s)
                    return mapped.go_away_s
                await self._dispatch(mapped)
                if until_turn_end and not self._turn.open:
                    return 0.0

    async def _dispatch(self, mapped: Mapped) -> None:
        if mapped.progress:
            self._failures = 0  # the conversation moves again: the connection is sound
        if mapped.handle is not None:
            self._handle = mapped.handle
        for event in mapped.events:
            self._turn.observe(event)
            await self._emit(event)

    async def _reconnect(self) -> None:
        for event in self._turn.cut():
            await self._emit(event)
        await self._emit(StateEvent("reconnecting"))
        async with self._send_lock:
            # From here on input is held; the old socket closes before the new one
            # opens, since the service resumes a session only once it is gone.
            await self._disconnect()
        dropped_ms, dropped_items = self.held.dropped_ms, self.held.dropped_items
        stack, session = await self._connect_with_backoff()
        try:
            await self._resume_input(stack, session)
        except BaseException:  # closed while resuming: the new socket must not leak
            with contextlib.suppress(Exception):
                await asyncio.wait_for(stack.aclose(), CLOSE_TIMEOUT_S)
            raise
        lost = lost_input(
            self.held.dropped_ms - dropped_ms, self.held.dropped_items - dropped_items
        )
        if lost:
            await self._emit(ErrorEvent("input_dropped", lost))
        await self._emit(StateEvent("live"))

    async def _connect_with_backoff(self) -> tuple[contextlib.AsyncExitStack, AsyncSession]:
        last = "no attempt"
        while self._failures < self.policy.attempts:
            await asyncio.sleep(self.policy.delay(self._failures))
            self._failures += 1
            try:
                return await self._open()
            except Exception as error:
                failure = classify(error, self.options.model)
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

    async def _resume_input(self, stack: contextlib.AsyncExitStack, session: AsyncSession) -> None:
        """Send what was held, in order, then let new input through."""
        from websockets.exceptions import ConnectionClosed

        async with self._send_lock:
            while self.held:
                try:
                    await self.held.first().deliver(session)
                except ConnectionClosed:
                    break  # the receiver will reconnect again; the rest stays held
                self.held.pop_first()
            self._adopt(stack, session)

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

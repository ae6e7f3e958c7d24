"""`LiveSession`: one conversation, shared by its device and any observers.

A session owns an upstream (from a backend), a bounded inbox of client commands that a
sender task delivers upstream in order, and a pump task that turns upstream events into
what clients receive, the transcript and the stats. Clients are `Listener`s: the stream
websocket implements that protocol, so handlers stay thin.

The session owns the turn: it numbers turns, stamps `turn` on every event that belongs to
one and tells a typed text's sender which turn the text went into. It also owns two rules
whatever the backend does: no audio (nor model transcript) of an interrupted turn reaches a
client, and every role's transcript of a turn is final before that turn's `turn_complete`.

A relay session (backends/relay.py) has, besides its device, at most one SOURCE: the kernel
that hears the device's microphone and speaks through it. The session tells the source
what the device says about itself (`device`) and what it has played (`playback`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import NamedTuple, Protocol, cast

import numpy as np

from . import protocol
from .backends.base import (
    AudioEvent,
    Backend,
    BackendError,
    ErrorEvent,
    Event,
    GenerationCompleteEvent,
    GroundingEvent,
    InteractionStatusEvent,
    InterimTranscriptEvent,
    InterruptedEvent,
    NewConnectionEvent,
    SessionOptions,
    StateEvent,
    ToolCallCancelledEvent,
    ToolCallEvent,
    TranscriptEvent,
    TurnCompleteEvent,
    Upstream,
    UpstreamClosed,
    UsageEvent,
    VoiceActivityEvent,
)
from .backends.relay import RelayUpstream
from .protocol import (
    INPUT_RATE,
    OUTPUT_RATE,
    SAMPLE_WIDTH,
    SESSION_ENDED,
    AudioFrame,
    Clear,
    Command,
    DeviceStatus,
    Mode,
    Ping,
    Playback,
    ServerEvent,
    SessionState,
    SourceAudio,
    Text,
    ToolResponse,
    UpstreamCommand,
    pcm_ms,
)
from .recording import Recorder, RecordingSettings
from .transcript import Entry, Transcript
from .usage import Usage, UsageMeter, UsagePolicy

ENDED: frozenset[SessionState] = frozenset({"closed", "error"})
#: commands waiting for the upstream: 10 s of 40 ms audio frames
INBOX_ITEMS = 250
#: characters of typed text waiting for the upstream (ten of the longest texts)
INBOX_TEXT_CHARS = 10 * protocol.MAX_TEXT_CHARS
#: observer connections of one session
MAX_OBSERVERS = 8
#: microphone audio is taken at up to this multiple of real time ...
INPUT_PACE = 1.5
#: ... after a burst of this much (ms): the rest is dropped (`dropped_in_ms`)
INPUT_BURST_MS = 3000.0
_TOO_FAST = (
    "microphone audio arrives faster than real time (more than {pace}x after {burst:.0f} s); "
    "the excess is dropped and counted in stats.dropped_in_ms"
)
CONNECT_TIMEOUT = 30.0
#: audio frames queued behind a slow upstream write are sent together up to this size:
#: 40 ms at INPUT_RATE (the Live API takes 20-40 ms chunks)
COALESCE_BYTES = 40 * INPUT_RATE * SAMPLE_WIDTH // 1000
#: microphone audio that has waited this long for the upstream is too late to be worth
#: sending (the user would wait that long for every answer): it goes, counted in
#: `dropped_in_ms`. Its age, not the amount queued: a burst that just came (a file sent
#: faster than real time) is not late.
LATE_INPUT_MS = 1000.0
#: the recent frames (chunks) whose time in the server `stats.uplink_ms` (`downlink_ms`)
#: reports: a minute of 40 ms microphone frames
RECENT_DELAYS = 1500
#: tool calls waiting for an answer; the oldest are forgotten beyond this
MAX_PENDING_CALLS = 64
#: grounding sources kept per turn
MAX_SOURCES = 20
_NOT_PENDING = "tool call %s is not pending: answered already, cancelled, or never made"
_BUSY = "the upstream is not keeping up; try again"


class _Queued(NamedTuple):
    """An inbox entry: the command and when it was queued (`time.monotonic()`)."""

    command: UpstreamCommand
    at: float


class Listener(Protocol):
    """A connected client (the stream websocket)."""

    mode: Mode
    wants_audio: bool

    def send_audio(self, pcm: bytes, received: float | None = None) -> bool:
        """Queue model audio (`received`: when the upstream had it); False when it had
        to be dropped."""

    def send_event(self, event: ServerEvent) -> None: ...

    def discard_audio(self) -> None:
        """Forget queued model audio (the turn was interrupted)."""

    def disconnect(self, code: int, reason: str) -> None: ...

    async def wait_closed(self) -> None:
        """Until what was queued before `disconnect` is written and the socket closed."""


class RecentDelays:
    """The last `size` delays of something, reported as a count and percentiles (ms).

    A ring of float64, partitioned on report rather than sorted: every listing of the
    sessions (which each open panel polls) reports every session's, on the event loop the
    audio shares. Sorted, a spread cost 80 µs, and a listing of 100 sessions 16 ms.
    """

    def __init__(self, size: int) -> None:
        self._ring = np.zeros(size)
        self._added = 0

    def add(self, seconds: float) -> None:
        self._ring[self._added % len(self._ring)] = seconds
        self._added += 1

    def as_json(self) -> protocol.DelaySpread:
        count = min(self._added, len(self._ring))
        if not count:
            return {"count": 0, "p50": None, "p99": None, "max": None}
        # nearest rank: each figure is a delay that happened
        ranks = [max(0, math.ceil(q * count) - 1) for q in (0.5, 0.99, 1.0)]
        chosen = np.partition(self._ring[:count], ranks)[ranks]
        p50, p99, most = (round(1000 * float(seconds), 2) for seconds in chosen)
        return {"count": count, "p50": p50, "p99": p99, "max": most}


@dataclass
class Stats:
    audio_in_ms: float = 0.0
    audio_out_ms: float = 0.0
    played_ms: float = 0.0
    turns: int = 0
    interruptions: int = 0
    reconnects: int = 0
    dropped_in_ms: float = 0.0
    dropped_out_ms: float = 0.0
    #: audio frames sent upstream joined to the one before them (not part of the JSON)
    coalesced_frames: int = 0
    #: audio frames dropped because they waited too long (also in dropped_in_ms; not JSON)
    late_dropped_frames: int = 0
    #: microphone frames from their arrival to their write upstream (or hold, reconnecting)
    uplink: RecentDelays = field(default_factory=lambda: RecentDelays(RECENT_DELAYS))
    #: model audio from the upstream having it to its write to the device's socket
    downlink: RecentDelays = field(default_factory=lambda: RecentDelays(RECENT_DELAYS))

    def as_json(
        self, usage: protocol.UsageTotals, upstream_dropped_ms: float = 0.0
    ) -> protocol.SessionStats:
        return {
            "audio_in_ms": round(self.audio_in_ms, 1),
            "audio_out_ms": round(self.audio_out_ms, 1),
            "played_ms": round(self.played_ms, 1),
            "turns": self.turns,
            "interruptions": self.interruptions,
            "reconnects": self.reconnects,
            "dropped_in_ms": round(self.dropped_in_ms, 1) + round(upstream_dropped_ms, 1),
            "dropped_out_ms": round(self.dropped_out_ms, 1),
            "uplink_ms": self.uplink.as_json(),
            "downlink_ms": self.downlink.as_json(),
            "usage": usage,
        }


class LiveSession:
    def __init__(
        self,
        options: SessionOptions,
        backend: Backend,
        *,
        recording: RecordingSettings | None = None,
        log: logging.Logger,
        on_activity: Callable[[], None] | None = None,
        usage_policy: UsagePolicy | None = None,
    ) -> None:
        self.id = str(uuid.uuid4())
        self.options = options
        self.state: SessionState = "connecting"
        self.error: str | None = None
        self.stats = Stats()
        self.transcript = Transcript()
        policy = usage_policy or UsagePolicy()
        budget = policy.budget.capped(options.budget_tokens, options.budget_usd)
        #: tokens and cost, per turn and in total, against the session's budget
        self.usage = UsageMeter(options.model, replace(policy, budget=budget))
        self.created = datetime.now(timezone.utc)
        self.last_activity = time.monotonic()
        self.device_left_at: float | None = None
        self._t0 = time.monotonic()
        self._backend = backend
        self._recorder = (
            Recorder(
                recording.folder,
                self.id,
                self.now,
                max_bytes=recording.max_bytes,
                on_stop=self._recording_stopped,
                log=log,
            )
            if recording is not None
            else None
        )
        self._log = log
        self._on_activity = on_activity
        self._upstream: Upstream | None = None
        self._device: Listener | None = None
        self._source: Listener | None = None
        self._device_status: DeviceStatus | None = None
        self._observers: set[Listener] = set()
        self._inbox: asyncio.Queue[_Queued] = asyncio.Queue(INBOX_ITEMS)
        self._forward_idle = False  # the forwarder waits on an empty inbox
        self._tasks: list[asyncio.Task[None]] = []
        self._muted_turn: int | None = None  # interrupted: no more audio of this turn
        self._pending_calls: dict[str, str] = {}  # tool call id → name, until answered
        self._interim = ""  # the user's words of this turn as recognised so far (unsettled)
        self._sources: list[protocol.GroundingSource] = []  # grounding of this turn
        self._inbox_text_chars = 0
        # a token bucket of input audio (ms): refilled at INPUT_PACE times real time
        self._input_budget_ms = INPUT_BURST_MS
        self._input_budget_at = time.monotonic()
        self._told_too_fast = False
        self._warned_late = False  # the log said once that late audio is dropped

    # ---- life cycle ----------------------------------------------------------------

    async def open(self) -> None:
        """Start recording and connect upstream.

        On any failure the session ends (state `error`), everything it opened is released,
        and `BackendError` is raised (cancellation is re-raised as it is).
        """
        try:
            if self._recorder is not None:
                await self._recorder.open()
            self._upstream = await asyncio.wait_for(
                self._backend.connect(self.options), CONNECT_TIMEOUT
            )
        except asyncio.TimeoutError:
            error = BackendError(
                "connect_timeout", f"no answer from the backend in {CONNECT_TIMEOUT:.0f} s"
            )
        except BackendError as err:
            error = err
        except Exception as err:  # a backend bug must not leave a session "connecting"
            self._log.exception("gemini-live %s: connect failed", self.id)
            error = BackendError("connect_failed", f"could not open the conversation: {err}")
            error.__cause__ = err
        except BaseException:  # cancelled (the request went away): end, then re-raise
            self._fail("connect_cancelled", "opening the conversation was cancelled")
            await self._release()
            raise
        else:
            self._tasks = [
                asyncio.create_task(self._pump(self._upstream), name=f"gemini-live-pump-{self.id}"),
                asyncio.create_task(
                    self._forward(self._upstream), name=f"gemini-live-send-{self.id}"
                ),
            ]
            self._set_state("live")
            return
        self._fail(error.code, error.message)
        await self._release()
        raise error

    async def close(self, reason: str = "closed") -> None:
        if self.state in ENDED:
            return
        self._set_state("closed")
        await self._release()
        for client in self.clients():
            client.disconnect(1000, reason)

    async def _release(self) -> None:
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        for task in self._tasks:
            if task is not current:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._upstream is not None:
            await self._upstream.close()
        if self._recorder is not None:
            await self._recorder.close()

    @property
    def turn(self) -> int:
        """The turn now under way (user input goes into it)."""
        return self.stats.turns + 1

    async def recording(self) -> str | None:
        """The path of the recording, written out up to now; None when not recorded."""
        if self._recorder is None:
            return None
        if not self.ended:
            await self._recorder.flush()
        return str(self._recorder.path)

    async def discard_recording(self) -> None:
        """Delete the recording's file (the session is being forgotten)."""
        if self._recorder is not None:
            await self._recorder.discard()

    def _recording_stopped(self, reason: str) -> None:
        self._broadcast(protocol.Error("recording_stopped", reason, fatal=False))

    @property
    def ended(self) -> bool:
        return self.state in ENDED

    def now(self) -> float:
        return time.monotonic() - self._t0

    # ---- clients -----------------------------------------------------------------

    def clients(self) -> list[Listener]:
        device = [self._device] if self._device is not None else []
        source = [self._source] if self._source is not None else []
        return device + source + list(self._observers)

    def attach(self, client: Listener) -> None:
        """A new client; a source must have been allowed by `source_refusal` first."""
        if client.mode == "device":
            previous, self._device = self._device, client
            self.device_left_at = None
            self._device_status = None
            if previous is not None:
                previous.disconnect(protocol.DEVICE_REPLACED, "replaced by a new device connection")
        elif client.mode == "source":
            relay = self.relay
            assert relay is not None, "a source joined a session that is not a relay"
            self._source = client
            relay.listen(True)
        else:
            self._observers.add(client)
        self.touch()
        client.send_event(protocol.Ready(self.as_json(), client.mode))
        if client.mode == "device":
            self._tell_source(protocol.Device("connected"))
        elif client.mode == "source" and self._device is not None:
            client.send_event(protocol.Device("connected"))
            if self._device_status is not None:
                status = self._device_status
                client.send_event(protocol.Device(status.status, status.reason))

    def observer_count(self) -> int:
        return len(self._observers)

    def has_device(self) -> bool:
        return self._device is not None

    def detach(self, client: Listener) -> None:
        if client is self._device:
            self._device = None
            self._device_status = None
            self.device_left_at = time.monotonic()
            self._tell_source(protocol.Device("disconnected"))
        if client is self._source:
            self._source = None
            if self.relay is not None:
                self.relay.listen(False)
        self._observers.discard(client)

    # ---- relay sessions ------------------------------------------------------------

    @property
    def relay(self) -> RelayUpstream | None:
        """The upstream when this is a relay session (a kernel is the model)."""
        return self._upstream if isinstance(self._upstream, RelayUpstream) else None

    def source_refusal(self) -> str | None:
        """Why a source connection cannot join now (None: it can)."""
        if self.relay is None:
            return (
                f"session {self.id} is not a relay session (backend {self.options.backend}): "
                'only sessions created with {"backend": "relay"} take a source'
            )
        if self._source is not None:
            return (
                f"session {self.id} already has a source (another kernel's RunningLiveAudio); "
                "leave that one first"
            )
        return None

    def _tell_source(self, event: ServerEvent) -> None:
        if self._source is not None:
            self._source.send_event(event)

    def touch(self) -> None:
        self.last_activity = time.monotonic()
        if self._on_activity is not None:
            self._on_activity()

    # ---- input ---------------------------------------------------------------------

    def feed(self, command: Command, client: Listener) -> None:
        """Act on a validated client command; problems are answered with an `error` event.

        Whether `client` may send it at all is the websocket's check (before this).
        """
        self.touch()
        match command:
            case AudioFrame():
                self._feed_audio(command, client)
            case Ping():
                client.send_event(protocol.Pong(command.t))
            case Playback():
                # A running total for the session, so a reconnecting device counts nothing twice.
                self.stats.played_ms = max(self.stats.played_ms, command.played_ms)
                self._tell_source(protocol.PlaybackProgress(self.stats.played_ms))
            case DeviceStatus():
                self._device_status = command
                self._tell_source(protocol.Device(command.status, command.reason))
            case SourceAudio():
                if self.relay is not None and not self.relay.play(command.pcm):
                    client.send_event(protocol.Error("busy", _BUSY))
            case Clear():
                if self.relay is not None:
                    self.relay.clear()
            case Text():
                if self.send_text(command, client) is None:
                    client.send_event(protocol.Error("busy", _BUSY))
            case ToolResponse() if not self._claim_call(command.id):
                client.send_event(protocol.Error("unknown_tool_call", _NOT_PENDING % command.id))
            case UpstreamCommand():
                if not self._put(command):
                    client.send_event(protocol.Error("busy", _BUSY))

    def _feed_audio(self, frame: AudioFrame, client: Listener) -> None:
        ms = frame.ms
        self.stats.audio_in_ms += ms
        if not self._within_pace(ms):
            self.stats.dropped_in_ms += ms
            if not self._told_too_fast:
                self._told_too_fast = True
                message = _TOO_FAST.format(pace=INPUT_PACE, burst=INPUT_BURST_MS / 1000)
                client.send_event(protocol.Error("input_too_fast", message))
            return
        if self._recorder is not None:
            self._recorder.user(frame.pcm)
        if self._send_now(frame):
            return
        if not self._put(frame):
            self.stats.dropped_in_ms += ms

    def _send_now(self, frame: AudioFrame) -> bool:
        """Hand `frame` to the upstream in this turn of the event loop, when nothing is
        queued or being delivered before it (so the order stays the inbox's): a turn of
        the loop less per microphone frame, the uplink's commonest case."""
        upstream = self._upstream
        if upstream is None or not self._forward_idle or not self._inbox.empty():
            return False
        arrived = time.monotonic()
        try:
            if not upstream.send_audio_now(frame.pcm):
                return False
        except Exception:  # the queued send meets it again, and reports it
            return False
        self.stats.uplink.add(time.monotonic() - arrived)
        return True

    def _within_pace(self, ms: float) -> bool:
        """Take `ms` of audio from the token bucket; False when the input runs too fast."""
        now = time.monotonic()
        elapsed_ms = (now - self._input_budget_at) * 1000.0
        self._input_budget_at = now
        self._input_budget_ms = min(INPUT_BURST_MS, self._input_budget_ms + elapsed_ms * INPUT_PACE)
        if ms > self._input_budget_ms:
            return False
        self._input_budget_ms -= ms
        return True

    def send_text(self, command: Text, sender: Listener | None = None) -> int | None:
        """Queue typed text; the turn it went into, or None when the inbox is full.

        `sender` (a stream client) is told the turn with `text_accepted` before the
        transcript event that carries the text reaches everyone.
        """
        self.touch()
        if not self._put(command):
            return None
        # Once the model has spoken in this turn, typed text starts the next one (the model
        # stops, or has stopped, to answer it); before that it adds to what the user said.
        turn = self.turn + 1 if self.transcript.has(self.turn, "model") else self.turn
        if sender is not None:
            sender.send_event(protocol.TextAccepted(command.id, turn))
        delta = f" {command.text}" if self.transcript.has(turn, "user") else command.text
        self._add_transcript("user", delta, turn, True)
        return turn

    def _claim_call(self, call_id: str) -> bool:
        """The first answer to a tool call wins (two kernels may both have the tool)."""
        return self._pending_calls.pop(call_id, None) is not None

    def _put(self, command: UpstreamCommand) -> bool:
        if self.ended:
            return False
        chars = len(command.text) if isinstance(command, Text) else 0
        if chars and self._inbox_text_chars + chars > INBOX_TEXT_CHARS:
            return False  # typed text faster than the upstream takes it
        try:
            self._inbox.put_nowait(_Queued(command, time.monotonic()))
        except asyncio.QueueFull:
            return False
        self._inbox_text_chars += chars
        return True

    async def _forward(self, upstream: Upstream) -> None:
        """Deliver the inbox upstream in order, one command at a time.

        Audio frames that queued up behind a slow write go out together, up to
        `COALESCE_BYTES` (40 ms) per message: fewer and larger upstream writes exactly
        when the server is behind. A frame alone in the inbox goes at once, as it came.
        A frame that waited more than LATE_INPUT_MS is too late to send: it goes, counted
        in `dropped_in_ms`, so a server that cannot keep up says so.
        """
        waiting: _Queued | None = None
        while True:
            queued, waiting = await self._next(waiting), None
            command = queued.command
            if isinstance(command, AudioFrame):
                if self._too_late(command, queued.at):
                    continue
                command, waiting = self._coalesce(command)
            elif isinstance(command, Text):
                self._inbox_text_chars -= len(command.text)
            try:
                await command.deliver(upstream)
            except UpstreamClosed:
                return
            except Exception as err:  # one bad send must not end the conversation
                kind = command.type
                self._log.warning("gemini-live %s: sending %s failed: %s", self.id, kind, err)
                self._broadcast(protocol.Error("send_failed", f"could not send {kind}: {err}"))
            else:
                if isinstance(command, AudioFrame):  # the oldest of any it joined
                    self.stats.uplink.add(time.monotonic() - queued.at)

    async def _next(self, waiting: _Queued | None) -> _Queued:
        """The command taken out of the inbox already, else the inbox's next (waiting for
        one, idle: `_send_now` may hand audio over meanwhile)."""
        if waiting is not None:
            return waiting
        self._forward_idle = self._inbox.empty()
        try:
            return await self._inbox.get()
        finally:
            self._forward_idle = False

    def _too_late(self, frame: AudioFrame, queued_at: float) -> bool:
        """Drop (and count) a frame that waited more than LATE_INPUT_MS for the upstream."""
        if (time.monotonic() - queued_at) * 1000.0 <= LATE_INPUT_MS:
            return False
        self.stats.dropped_in_ms += frame.ms
        self.stats.late_dropped_frames += 1
        if not self._warned_late:
            self._warned_late = True
            self._log.warning(
                "gemini-live %s: the upstream is more than %.0f ms behind the microphone; "
                "dropping audio that waited longer (dropped_in_ms counts it)",
                self.id,
                LATE_INPUT_MS,
            )
        return True

    def _coalesce(self, frame: AudioFrame) -> tuple[AudioFrame, _Queued | None]:
        """`frame` joined by the audio queued right behind it, up to COALESCE_BYTES.

        Only what is in the inbox already: nothing waits for a frame to come. Returns the
        frame to send and the command taken out of the inbox but not joined (it goes next).
        """
        size = len(frame.pcm)
        if size >= COALESCE_BYTES or self._inbox.empty():
            return frame, None
        parts = [frame.pcm]
        waiting: _Queued | None = None
        while not self._inbox.empty():
            queued = self._inbox.get_nowait()
            command = queued.command
            if not isinstance(command, AudioFrame) or size + len(command.pcm) > COALESCE_BYTES:
                waiting = queued
                break
            parts.append(command.pcm)
            size += len(command.pcm)
        if len(parts) == 1:
            return frame, waiting
        self.stats.coalesced_frames += len(parts) - 1
        return AudioFrame(b"".join(parts)), waiting

    # ---- upstream events -------------------------------------------------------------

    async def _pump(self, upstream: Upstream) -> None:
        try:
            async for event in upstream.events():
                self._on_event(event)
                if self.ended:
                    break
        except Exception as err:
            self._log.exception("gemini-live %s: upstream failed", self.id)
            self._fail("upstream_failed", f"the upstream connection failed: {err}")
        if not self.ended:
            self._fail("upstream_closed", "the upstream ended the conversation")
        await self._release()
        for client in self.clients():
            client.disconnect(SESSION_ENDED, f"session ended: {self.error}")

    def _on_event(self, event: Event) -> None:
        match event:
            case AudioEvent():
                self._on_audio(event)
            case TranscriptEvent():
                self._on_transcript(event)
            case InterruptedEvent():
                self._on_interrupted()
            case TurnCompleteEvent():
                self._on_turn_complete(event.reason)
            case InterimTranscriptEvent():
                self._on_interim(event.text)
            case GenerationCompleteEvent():
                if not self._muted:
                    self._broadcast(protocol.GenerationComplete(self.turn))
            case InteractionStatusEvent():
                self._broadcast(protocol.Thinking(self.turn, event.active))
            case VoiceActivityEvent():
                self._broadcast(protocol.VoiceActivity(self.turn, event.activity))
            case GroundingEvent():
                self._on_grounding(event)
            case ToolCallEvent():
                self._on_tool_call(event)
            case ToolCallCancelledEvent():
                for call_id in event.ids:
                    self._pending_calls.pop(call_id, None)
                self._broadcast(protocol.ToolCallCancelled(tuple(event.ids), self.turn))
            case UsageEvent():
                self._on_usage(event)
            case NewConnectionEvent():
                self.usage.new_connection()
            case StateEvent():
                if event.state == "live" and self.state == "reconnecting":
                    self.stats.reconnects += 1
                self._set_state(event.state)
            case ErrorEvent():
                if event.fatal:
                    self._fail(event.code, event.message)
                else:
                    self._broadcast(protocol.Error(event.code, event.message))

    @property
    def _muted(self) -> bool:
        """The turn under way was interrupted: its audio and model words are dropped."""
        return self._muted_turn == self.turn

    def _on_audio(self, event: AudioEvent) -> None:
        if self._muted:
            return
        self.touch()
        ms = pcm_ms(len(event.pcm), OUTPUT_RATE)
        self.stats.audio_out_ms += ms
        self._model_started()
        if self._recorder is not None:
            self._recorder.model(event.pcm)
        for client in self.clients():
            if client.wants_audio and not client.send_audio(event.pcm, event.received):
                self.stats.dropped_out_ms += ms

    def _on_interim(self, text: str) -> None:
        """Words the user is saying, not settled yet: shown (not stored) after what was
        settled of the turn, until the transcription proper replaces them."""
        if self.transcript.has(self.turn, "model"):
            return  # the model answers: the user's words of this turn are over
        self._interim = text
        entry = self.transcript.last_of(self.turn)
        settled = entry.text if entry is not None and entry.role == "user" else ""
        shown = f"{settled} {text}" if settled else text
        self._broadcast(protocol.Transcript("user", shown, self.turn, False, False))

    def _on_grounding(self, event: GroundingEvent) -> None:
        known = {source["uri"] for source in self._sources}
        new: list[protocol.GroundingSource] = [
            {"title": s.title, "uri": s.uri} for s in event.sources if s.uri not in known
        ]
        new = new[: max(0, MAX_SOURCES - len(self._sources))]
        if new:
            self._sources.extend(new)
            self._broadcast(protocol.Grounding(self.turn, tuple(new)))

    def _on_transcript(self, event: TranscriptEvent) -> None:
        if event.role == "user":
            self._interim = ""  # the transcription proper replaces the interim text
        if event.role == "model":
            if self._muted:
                return
            self._model_started()
        self._add_transcript(event.role, event.text, self.turn, event.final)

    def _add_transcript(self, role: protocol.Role, delta: str, turn: int, final: bool) -> None:
        entry = self.transcript.append(role, delta, turn, self.now(), final)
        self._broadcast_transcript(entry)
        if self.transcript.cut is not None:
            message = (
                f"the {role} text of turn {turn} is longer than "
                f"{self.transcript.max_entry_chars} characters; the rest is not kept"
            )
            self._broadcast(protocol.Error("transcript_too_long", message))

    def _model_started(self) -> None:
        """The model answers: what the user said in this turn is complete."""
        for entry in self.transcript.settle(self.turn, "user"):
            self._broadcast_transcript(entry)

    def _on_interrupted(self) -> None:
        if self._muted:
            return  # said twice for one turn: once is the news
        self._muted_turn = self.turn
        self.stats.interruptions += 1
        if self._recorder is not None:
            self._recorder.interrupt()
        for client in self.clients():
            client.discard_audio()
        self._broadcast(protocol.Interrupted(self.turn))
        self._broadcast_transcript(self.transcript.mark_interrupted(self.turn))

    def _on_usage(self, event: UsageEvent) -> None:
        delta = self.usage.observe(event.usage)
        self._broadcast(
            protocol.Usage(
                dict(event.usage),
                self.turn,
                cast(protocol.TokenCounts, delta.to_json()),
                _totals(self.usage.turn),
                _totals(self.usage.session),
            )
        )
        over = self.usage.over_budget()
        if over is not None:
            self._log.info("gemini-live %s: budget exceeded", self.id)
            self._fail("budget_exceeded", over)

    def _on_turn_complete(self, reason: str | None = None) -> None:
        if self._interim and not self.transcript.has(self.turn, "user"):
            # No transcription proper came: the interim words are what was heard.
            self.transcript.append("user", self._interim, self.turn, self.now(), False)
        self._interim = ""
        for entry in self.transcript.settle(self.turn):
            self._broadcast_transcript(entry)
        turn_usage = self.usage.end_turn()
        closing = (
            self.transcript.closing(self.turn, self.now())
            if reason is not None
            else self.transcript.last_of(self.turn)
        )
        if closing is not None:
            closing.usage = _totals(turn_usage)
            closing.reason = reason
            closing.sources = list(self._sources)
        self._sources = []
        self._broadcast(protocol.TurnComplete(self.turn, reason))
        self.stats.turns += 1  # which starts the next turn

    def _on_tool_call(self, event: ToolCallEvent) -> None:
        self._pending_calls[event.id] = event.name
        while len(self._pending_calls) > MAX_PENDING_CALLS:
            del self._pending_calls[next(iter(self._pending_calls))]
        self._broadcast(protocol.ToolCall(event.id, event.name, dict(event.args), self.turn))

    # ---- output helpers --------------------------------------------------------------

    def _broadcast(self, event: ServerEvent) -> None:
        for client in self.clients():
            client.send_event(event)

    def _broadcast_transcript(self, entry: Entry | None) -> None:
        if entry is not None:
            self._broadcast(
                protocol.Transcript(
                    entry.role, entry.text, entry.turn, entry.final, entry.interrupted
                )
            )

    def _set_state(self, state: SessionState) -> None:
        if state == self.state:
            return
        self.state = state
        self._broadcast(protocol.State(state))

    def _fail(self, code: str, message: str) -> None:
        self.error = message
        self._broadcast(protocol.Error(code, message, fatal=True))
        self._set_state("error")

    def as_json(self) -> protocol.Session:
        dropped = self._upstream.dropped_input_ms() if self._upstream is not None else 0.0
        return {
            "id": self.id,
            "backend": self.options.backend,
            "model": self.options.model,
            "voice": self.options.voice,
            "activity_detection": self.options.activity_detection,
            "transcription": self.options.transcription,
            "record": self.options.record,
            "notebook": self.options.notebook,
            "state": self.state,
            "created": self.created.isoformat(),
            "clients": len(self.clients()),
            "device_connected": self._device is not None,
            "turn": self.turn,
            "error": self.error,
            "stats": self.stats.as_json(_totals(self.usage.session), dropped),
        }


def _totals(usage: Usage) -> protocol.UsageTotals:
    return cast(protocol.UsageTotals, usage.to_json())

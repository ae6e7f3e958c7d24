"""Sessions: one conversation each, shared by its device and any observers.

A `LiveSession` owns an upstream (from a backend), a bounded inbox of device input that a
sender task forwards upstream in order, and a pump task that turns upstream events into
what clients receive, the transcript and the stats. Clients are `Listener`s: the stream
websocket implements that protocol, so handlers stay thin.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, Literal, Protocol

from .backends.base import (
    INPUT_RATE,
    OUTPUT_RATE,
    AudioEvent,
    Backend,
    BackendError,
    BackendUnavailable,
    ErrorEvent,
    Event,
    InterruptedEvent,
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
from .frames import Control
from .recording import Recorder
from .session_options import Defaults
from .transcript import Entry, Transcript

State = Literal["connecting", "live", "reconnecting", "closed", "error"]
Mode = Literal["device", "observe"]
ENDED: frozenset[State] = frozenset({"closed", "error"})
#: device input waiting for the upstream: 5 s of 20 ms frames
INBOX_ITEMS = 250
#: ended sessions kept so their transcript and error can still be read
ENDED_KEPT = 20
CONNECT_TIMEOUT = 30.0
#: close code for clients of a session that ended on an error: final, do not reconnect
SESSION_ENDED = 4002
#: tool calls waiting for an answer; the oldest are forgotten beyond this
MAX_PENDING_CALLS = 64
_NOT_PENDING = "tool call %s is not pending: answered already, cancelled, or never made"


class Listener(Protocol):
    """A connected client (the stream websocket)."""

    mode: Mode
    wants_audio: bool

    def send_audio(self, pcm: bytes) -> bool:
        """Queue model audio; False when it had to be dropped."""

    def send_event(self, event: dict[str, Any]) -> None: ...

    def discard_audio(self) -> None:
        """Forget queued model audio (the turn was interrupted)."""

    def disconnect(self, code: int, reason: str) -> None: ...


class TooManySessions(Exception):
    pass


class UnknownSession(KeyError):
    pass


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

    def as_json(self) -> dict[str, float | int]:
        return {k: round(v, 1) if isinstance(v, float) else v for k, v in asdict(self).items()}


Input = tuple[str, Any]


class LiveSession:
    def __init__(
        self,
        options: SessionOptions,
        backend: Backend,
        *,
        record_dir: str | None = None,
        log: logging.Logger,
        on_activity: Callable[[], None] | None = None,
    ) -> None:
        self.id = str(uuid.uuid4())
        #: called on every touch: conversations count as server activity (activity.py)
        self._on_activity = on_activity
        self.options = options
        self.state: State = "connecting"
        self.error: str | None = None
        self.stats = Stats()
        self.transcript = Transcript()
        self.created = datetime.now(timezone.utc)
        self.last_activity = time.monotonic()
        self.device_left_at: float | None = None
        self._t0 = time.monotonic()
        self._backend = backend
        self._recorder = Recorder(record_dir, self.id, self.now) if record_dir else None
        self._log = log
        self._upstream: Upstream | None = None
        self._device: Listener | None = None
        self._observers: set[Listener] = set()
        self._inbox: asyncio.Queue[Input] = asyncio.Queue(INBOX_ITEMS)
        self._tasks: list[asyncio.Task[None]] = []
        self._muted_turn: int | None = None  # interrupted: no more audio of this turn
        self._pending_calls: dict[str, str] = {}  # tool call id → name, until answered

    # ---- life cycle ----------------------------------------------------------------

    async def open(self) -> None:
        """Connect upstream; raises BackendError (and the session ends) on failure."""
        if self._recorder is not None:
            await self._recorder.open()
        try:
            self._upstream = await asyncio.wait_for(
                self._backend.connect(self.options), CONNECT_TIMEOUT
            )
        except asyncio.TimeoutError:
            self._fail("connect_timeout", f"no answer from the backend in {CONNECT_TIMEOUT:.0f} s")
            await self._release()
            raise BackendError("connect_timeout", self.error or "") from None
        except BackendError as err:
            self._fail(err.code, err.message)
            await self._release()
            raise
        except Exception as err:  # a backend bug must not leave a session "connecting"
            self._log.exception("gemini-live %s: connect failed", self.id)
            self._fail("connect_failed", f"could not open the conversation: {err}")
            await self._release()
            raise BackendError("connect_failed", self.error or "") from err
        self._tasks = [
            asyncio.create_task(self._pump(self._upstream), name=f"gemini-live-pump-{self.id}"),
            asyncio.create_task(self._forward(self._upstream), name=f"gemini-live-send-{self.id}"),
        ]
        self._set_state("live")

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

    @property
    def ended(self) -> bool:
        return self.state in ENDED

    def now(self) -> float:
        return time.monotonic() - self._t0

    # ---- clients -----------------------------------------------------------------

    def clients(self) -> list[Listener]:
        device = [self._device] if self._device is not None else []
        return device + list(self._observers)

    def attach(self, client: Listener) -> None:
        if client.mode == "device":
            previous, self._device = self._device, client
            self.device_left_at = None
            if previous is not None:
                previous.disconnect(4001, "replaced by a new device connection")
        else:
            self._observers.add(client)
        self.touch()
        client.send_event({"type": "ready", "session": self.as_json(), "mode": client.mode})

    def has_device(self) -> bool:
        return self._device is not None

    def detach(self, client: Listener) -> None:
        if client is self._device:
            self._device = None
            self.device_left_at = time.monotonic()
        self._observers.discard(client)

    def touch(self) -> None:
        self.last_activity = time.monotonic()
        if self._on_activity is not None:
            self._on_activity()

    # ---- input ---------------------------------------------------------------------

    def feed_audio(self, pcm: bytes) -> None:
        self.touch()
        ms = pcm_ms(len(pcm), INPUT_RATE)
        self.stats.audio_in_ms += ms
        if self._recorder is not None:
            self._recorder.user(pcm)
        if not self._put(("audio", pcm)):
            self.stats.dropped_in_ms += ms

    def feed_control(self, control: Control, client: Listener | None = None) -> None:
        """Act on a validated JSON frame; answers problems with an `error` event."""
        self.touch()
        if control.type == "ping":
            if client is not None:
                client.send_event({"type": "pong", "t": control.fields["t"]})
        elif control.type == "playback":
            # A running total for the session, so a reconnecting device counts nothing twice.
            self.stats.played_ms = max(self.stats.played_ms, control.fields["played_ms"])
        elif control.type == "text":
            self.send_text(control.fields["text"])
        elif control.type == "tool_response" and not self._claim_call(control.fields["id"]):
            if client is not None:
                client.send_event(_error("unknown_tool_call", _NOT_PENDING % control.fields["id"]))
        elif not self._put((control.type, control.fields)) and client is not None:
            client.send_event(_error("busy", "the upstream is not keeping up; try again"))

    def send_text(self, text: str) -> int | None:
        """A typed user turn: the turn it opens, or None when the inbox is full."""
        if not self._put(("text", {"text": text})):
            return None
        # Once the model has spoken in this turn, typed text starts the next one (the model
        # stops, or has stopped, to answer it); before that it adds to what the user said.
        turn = self.turn + 1 if self.transcript.has(self.turn, "model") else self.turn
        delta = f" {text}" if self.transcript.has(turn, "user") else text
        self._broadcast_transcript(self.transcript.append("user", delta, turn, self.now(), True))
        return turn

    def _claim_call(self, call_id: str) -> bool:
        """The first answer to a tool call wins (two kernels may both have the tool)."""
        return self._pending_calls.pop(call_id, None) is not None

    def _put(self, item: Input) -> bool:
        if self.ended:
            return False
        try:
            self._inbox.put_nowait(item)
        except asyncio.QueueFull:
            return False
        return True

    async def _forward(self, upstream: Upstream) -> None:
        while True:
            kind, payload = await self._inbox.get()
            try:
                await _send(upstream, kind, payload)
            except UpstreamClosed:
                return
            except Exception as err:  # one bad send must not end the conversation
                self._log.warning("gemini-live %s: sending %s failed: %s", self.id, kind, err)
                self._broadcast(_error("send_failed", f"could not send {kind}: {err}"))

    # ---- upstream events -------------------------------------------------------------

    async def _pump(self, upstream: Upstream) -> None:
        try:
            async for event in upstream.events():
                self._dispatch(event)
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

    def _dispatch(self, event: Event) -> None:
        handler = self._HANDLERS[type(event)]
        handler(self, event)

    def _on_audio(self, event: AudioEvent) -> None:
        if self._muted_turn == self.turn:
            return
        self.touch()
        ms = pcm_ms(len(event.pcm), OUTPUT_RATE)
        self.stats.audio_out_ms += ms
        self._model_started()
        if self._recorder is not None:
            self._recorder.model(event.pcm)
        for client in self.clients():
            if client.wants_audio and not client.send_audio(event.pcm):
                self.stats.dropped_out_ms += ms

    def _on_transcript(self, event: TranscriptEvent) -> None:
        if event.role == "model" and self._muted_turn == self.turn:
            return
        if event.role == "model":
            self._model_started()
        self._broadcast_transcript(
            self.transcript.append(event.role, event.text, self.turn, self.now(), event.final)
        )

    def _model_started(self) -> None:
        """The model answers: what the user said in this turn is complete."""
        for entry in self.transcript.settle(self.turn, "user"):
            self._broadcast_transcript(entry)

    def _on_interrupted(self, event: InterruptedEvent) -> None:
        self._muted_turn = self.turn
        self.stats.interruptions += 1
        if self._recorder is not None:
            self._recorder.interrupt()
        for client in self.clients():
            client.discard_audio()
        self._broadcast({"type": "interrupted", "turn": self.turn})
        self._broadcast_transcript(self.transcript.mark_interrupted(self.turn))

    def _on_turn_complete(self, event: TurnCompleteEvent) -> None:
        for entry in self.transcript.settle(self.turn):
            self._broadcast_transcript(entry)
        self._broadcast({"type": "turn_complete", "turn": self.turn})
        self.stats.turns += 1  # which starts the next turn

    def _on_tool_call(self, event: ToolCallEvent) -> None:
        self._pending_calls[event.id] = event.name
        while len(self._pending_calls) > MAX_PENDING_CALLS:
            del self._pending_calls[next(iter(self._pending_calls))]
        self._broadcast(
            {"type": "tool_call", "id": event.id, "name": event.name, "args": dict(event.args)}
        )

    def _on_tool_call_cancelled(self, event: ToolCallCancelledEvent) -> None:
        for call_id in event.ids:
            self._pending_calls.pop(call_id, None)
        self._broadcast({"type": "tool_call_cancelled", "ids": list(event.ids)})

    def _on_usage(self, event: UsageEvent) -> None:
        self._broadcast({"type": "usage", "usage": dict(event.usage)})

    def _on_state(self, event: StateEvent) -> None:
        if event.state == "live" and self.state == "reconnecting":
            self.stats.reconnects += 1
        self._set_state(event.state)

    def _on_error(self, event: ErrorEvent) -> None:
        if event.fatal:
            self._fail(event.code, event.message)
        else:
            self._broadcast(_error(event.code, event.message))

    _HANDLERS: Mapping[type, Callable[[LiveSession, Any], None]] = {
        AudioEvent: _on_audio,
        TranscriptEvent: _on_transcript,
        InterruptedEvent: _on_interrupted,
        TurnCompleteEvent: _on_turn_complete,
        ToolCallEvent: _on_tool_call,
        ToolCallCancelledEvent: _on_tool_call_cancelled,
        UsageEvent: _on_usage,
        StateEvent: _on_state,
        ErrorEvent: _on_error,
    }

    # ---- output helpers --------------------------------------------------------------

    def _broadcast(self, event: dict[str, Any]) -> None:
        for client in self.clients():
            client.send_event(event)

    def _broadcast_transcript(self, entry: Entry | None) -> None:
        if entry is None:
            return
        self._broadcast(
            {
                "type": "transcript",
                "role": entry.role,
                "text": entry.text,
                "turn": entry.turn,
                "final": entry.final,
                "interrupted": entry.interrupted,
            }
        )

    def _set_state(self, state: State) -> None:
        if state == self.state:
            return
        self.state = state
        self._broadcast({"type": "state", "state": state})

    def _fail(self, code: str, message: str) -> None:
        self.error = message
        self._broadcast(_error(code, message, fatal=True))
        self._set_state("error")

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "backend": self.options.backend,
            "model": self.options.model,
            "voice": self.options.voice,
            "activity_detection": self.options.activity_detection,
            "transcription": self.options.transcription,
            "record": self.options.record,
            "state": self.state,
            "created": self.created.isoformat(),
            "clients": len(self.clients()),
            "device_connected": self._device is not None,
            "turn": self.turn,
            "error": self.error,
            "stats": self._stats_json(),
        }

    def _stats_json(self) -> dict[str, float | int]:
        stats = self.stats.as_json()
        if self._upstream is not None:
            stats["dropped_in_ms"] += round(self._upstream.dropped_input_ms(), 1)
        return stats


def _error(code: str, message: str, fatal: bool = False) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, "fatal": fatal}


async def _send(upstream: Upstream, kind: str, payload: Any) -> None:
    senders: dict[str, Callable[[], Awaitable[None]]] = {
        "audio": lambda: upstream.send_audio(payload),
        "text": lambda: upstream.send_text(payload["text"]),
        "activity_start": upstream.activity_start,
        "activity_end": upstream.activity_end,
        "audio_stream_end": upstream.audio_stream_end,
        "image": lambda: upstream.send_image(payload["mime_type"], payload["data"]),
        "tool_response": lambda: upstream.send_tool_response(
            payload["id"], payload["name"], payload["response"]
        ),
    }
    await senders[kind]()


class SessionManager:
    """Owns every session of the server: creation limits, lookup, reaping, shutdown."""

    def __init__(
        self,
        *,
        backends: Mapping[str, Backend],
        defaults: Defaults,
        max_sessions: int,
        idle_timeout: float,
        reconnect_grace: float,
        record_dir: str,
        log: logging.Logger,
        on_activity: Callable[[], None] | None = None,
    ) -> None:
        self.backends = dict(backends)
        #: passed to every session: called on its traffic (the server's activity)
        self.on_activity = on_activity
        #: what a session gets for the fields its request leaves out, and what is allowed
        self.defaults = defaults
        self.max_sessions = max_sessions
        self.idle_timeout = idle_timeout
        self.reconnect_grace = reconnect_grace
        self.record_dir = record_dir
        self.log = log
        self._sessions: dict[str, LiveSession] = {}
        self._reaper: asyncio.Task[None] | None = None

    def availability(self) -> dict[str, str | None]:
        return {name: backend.unavailable_reason() for name, backend in self.backends.items()}

    def open_count(self) -> int:
        return sum(not s.ended for s in self._sessions.values())

    async def create(self, options: SessionOptions) -> LiveSession:
        if self.open_count() >= self.max_sessions:
            raise TooManySessions(
                f"{self.max_sessions} sessions are open already; close one "
                "(DELETE gemini-live/api/sessions/ID) or raise c.GeminiLive.max_sessions"
            )
        backend = self.backends[options.backend]
        reason = backend.unavailable_reason()
        if reason is not None:
            raise BackendUnavailable("backend_unavailable", f"{options.backend}: {reason}")
        record_dir = self.record_dir if options.record else None
        session = LiveSession(
            options, backend, record_dir=record_dir, log=self.log, on_activity=self.on_activity
        )
        self._sessions[session.id] = session
        self._ensure_reaper()
        try:
            await session.open()
        except BackendError:
            self._sessions.pop(session.id, None)
            raise
        self.log.info("gemini-live: session %s opened (%s)", session.id, options.backend)
        return session

    def get(self, session_id: str) -> LiveSession:
        try:
            return self._sessions[session_id]
        except KeyError:
            raise UnknownSession(session_id) from None

    def list(self) -> list[LiveSession]:
        return list(self._sessions.values())

    async def delete(self, session_id: str) -> None:
        session = self.get(session_id)
        await session.close("session deleted")
        self._sessions.pop(session_id, None)

    async def shutdown(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        await asyncio.gather(
            *(s.close("server shutting down") for s in self._sessions.values()),
            return_exceptions=True,
        )
        self._sessions.clear()

    def _ensure_reaper(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.create_task(self._reap_forever(), name="gemini-live-reaper")

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, max(0.05, self.reconnect_grace / 4)))
            await self.reap()

    async def reap(self) -> None:
        """Close sessions past their idle timeout or device grace; forget old ended ones."""
        now = time.monotonic()
        for session in list(self._sessions.values()):
            reason = self._expiry(session, now)
            if reason is not None:
                self.log.info("gemini-live: closing session %s: %s", session.id, reason)
                await session.close(reason)
        ended = [s for s in self._sessions.values() if s.ended]
        for session in ended[: max(0, len(ended) - ENDED_KEPT)]:
            self._sessions.pop(session.id, None)

    def _expiry(self, session: LiveSession, now: float) -> str | None:
        if session.ended:
            return None
        if self.idle_timeout > 0 and now - session.last_activity > self.idle_timeout:
            return f"idle for {self.idle_timeout:.0f} s"
        left = session.device_left_at
        if left is not None and not session.clients() and now - left > self.reconnect_grace:
            return f"device gone for {self.reconnect_grace:.0f} s"
        return None

"""The kernel's observer connection to a session (`?mode=observe`), on a daemon thread.

The reader thread keeps a small record of each turn (what the user and the model said,
tool calls, interruption) so a cell can wait for "the reply to what I just said", puts
every event into a bounded `Events` queue for advanced use, and answers tool calls by
running the Python function on its own thread: a slow tool must not stop the reading.

It also receives the model's audio (`&audio=1`): each turn's audio is kept with the turn
(the latest turns, up to `MAX_AUDIO_BYTES` in all) and handed to `audio_chunks` readers.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import websocket

from .event_socket import close_reason, close_stream, open_stream
from .rest import LiveError, Rest
from .tools import Answer, Toolbox

#: events kept for `KernelSession.events`; older ones are dropped first
MAX_EVENTS = 1000
#: turns remembered for `wait_turn`
MAX_TURNS = 256
#: tool calls running at once; more are answered with an error at once
MAX_TOOL_CALLS = 16
CLOSE_WAIT = 2.0
#: model audio kept with the latest turns (24 kHz s16le): about 23 minutes
MAX_AUDIO_BYTES = 64 * 1024 * 1024
#: audio chunks a reader of `audio_chunks` may fall behind by; older ones are dropped
MAX_AUDIO_CHUNKS = 2000


@dataclass
class ToolCall:
    id: str
    name: str
    args: dict[str, Any]
    #: what the model was sent: `{"result": ...}` or `{"error": ...}`; None while running
    response: dict[str, Any] | None = None
    #: how the model was asked to take the answer (INTERRUPT, WHEN_IDLE, SILENT)
    scheduling: str | None = None
    #: set when the model cancelled the call (`tool_call_cancelled`) or the session closed;
    #: a tool taking the keyword `cancelled` gets this event
    cancelled: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)


@dataclass
class Turn:
    """One exchange: the user's words (typed or heard) and the model's reply."""

    turn: int
    user: str = ""
    model: str = ""
    interrupted: bool = False
    complete: bool = False
    tool_calls: list[ToolCall] = field(default_factory=list)
    #: the model's audio of the turn: PCM s16le mono 24 kHz (what the device was sent)
    audio: bytes = b""


class Events:
    """A bounded queue of the session's events: iterate it, or `get(timeout)`.

    When nobody reads, the oldest events are dropped (`dropped` counts them), so an
    unread queue costs bounded memory. Iteration ends when the session's stream closes.
    """

    def __init__(self, maxsize: int = MAX_EVENTS) -> None:
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize)
        self.dropped = 0

    def put(self, event: dict[str, Any] | None) -> None:
        while True:
            try:
                self._queue.put_nowait(event)
                return
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._queue.get_nowait()
                    self.dropped += 1

    def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next event; None once the stream has closed; TimeoutError after `timeout`."""
        try:
            event = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no event within {timeout} s") from None
        if event is None:
            self.put(None)  # stays the end for every later reader
        return event

    def clear(self) -> None:
        """Forget what is queued (not the end of the stream)."""
        with contextlib.suppress(queue.Empty):
            while True:
                if self._queue.get_nowait() is None:
                    self.put(None)
                    return

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while (event := self.get()) is not None:
            yield event


class Observer:
    def __init__(self, rest: Rest, session_id: str, toolbox: Toolbox, tool_timeout: float) -> None:
        self.session_id = session_id
        self.toolbox = toolbox
        self.tool_timeout = tool_timeout
        self.events = Events()
        self.state = "connecting"
        self._rest = rest
        self._ws: websocket.WebSocket | None = None
        self._reader: threading.Thread | None = None
        self._cond = threading.Condition()
        self._turns: dict[int, Turn] = {}
        self._current = 1  # the turn under way, as the server numbers it
        self._pending: dict[str, ToolCall] = {}
        self._tool_threads: set[threading.Thread] = set()
        self._ended = False
        self._end_message = ""
        self._audio: dict[int, bytearray] = {}  # turn → its model audio
        self._audio_bytes = 0
        #: the readers of `model_audio()`, each gone with its iterator
        self.audio_readers: weakref.WeakSet[Events] = weakref.WeakSet()

    # ---- life cycle ----------------------------------------------------------------

    def open(self) -> dict[str, Any]:
        """Connect and start reading; the session as the server described it."""
        self._ws, session = open_stream(self._rest, self.session_id, mode="observe", audio="1")
        self.state = session["state"]
        self._current = int(session["turn"])
        self._reader = threading.Thread(
            target=self._read_forever, name=f"gemini-live-observer-{self.session_id}", daemon=True
        )
        self._reader.start()
        return dict(session)

    def close(self) -> None:
        """Disconnect and join the threads (a tool still running is left to finish)."""
        with self._cond:
            for call in self._pending.values():
                call.cancelled.set()  # tools that listen may stop
            self._pending.clear()  # late tool results are not sent
        if self._ws is not None:
            close_stream(self._ws, self._reader, CLOSE_WAIT)
        for thread in list(self._tool_threads):
            thread.join(min(CLOSE_WAIT, self.tool_timeout))

    @property
    def ended(self) -> bool:
        return self._ended

    # ---- turns ---------------------------------------------------------------------

    def current_turn(self) -> int:
        """The turn under way as the server last told (what input sent now goes into)."""
        with self._cond:
            return self._current

    def wait_turn(self, first: int, timeout: float) -> Turn:
        """The reply that starts in turn `first`, once complete.

        A turn that only made tool calls continues in the next one (the model answers
        after the tool responses), so their texts and calls are gathered.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                reply = self._reply_from(first)
                if reply is not None:
                    return reply
                if self._ended:
                    raise LiveError(self._end_message)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no complete reply (turn {first}) within {timeout:g} s")
                self._cond.wait(left)

    def _reply_from(self, first: int) -> Turn | None:
        gathered: list[Turn] = []
        turn = first
        while (record := self._turns.get(turn)) is not None and record.complete:
            gathered.append(replace(record, audio=bytes(self._audio.get(turn, b""))))
            # A turn whose calls were all answered SILENT has no reply to wait for.
            silent = all(call.scheduling == "SILENT" for call in record.tool_calls)
            if record.model or not record.tool_calls or silent:
                return _merge(gathered)
            turn += 1
        return None

    def _turn(self, number: int) -> Turn:
        record = self._turns.get(number)
        if record is None:
            record = self._turns[number] = Turn(number)
            if len(self._turns) > MAX_TURNS:
                del self._turns[min(self._turns)]
        return record

    # ---- reading -------------------------------------------------------------------

    def _read_forever(self) -> None:
        assert self._ws is not None
        message = "the session's stream closed"
        try:
            while True:
                opcode, data = self._ws.recv_data()
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    code, reason = close_reason(data)
                    message = reason or f"the session's stream closed (code {code})"
                    break
                if opcode == websocket.ABNF.OPCODE_TEXT:
                    self._on_event(json.loads(data))
                elif opcode == websocket.ABNF.OPCODE_BINARY:
                    self._on_audio(data)
        except (OSError, ValueError, websocket.WebSocketException) as err:
            message = f"the session's stream broke: {err}"
        with self._cond:
            self._ended = True
            self._end_message = self._end_message or message
            self._cond.notify_all()
            readers = list(self.audio_readers)
        self.events.put(None)
        for reader in readers:
            reader.put(None)

    def _on_audio(self, pcm: bytes) -> None:
        """Model audio belongs to the turn under way (the server drops an interrupted
        turn's, and numbers turns by its `turn_complete`s)."""
        with self._cond:
            turn = self._current
            self._audio.setdefault(turn, bytearray()).extend(pcm)
            self._audio_bytes += len(pcm)
            while len(self._audio) > 1 and (
                self._audio_bytes > MAX_AUDIO_BYTES or len(self._audio) > MAX_TURNS
            ):
                oldest = min(self._audio)
                self._audio_bytes -= len(self._audio.pop(oldest))
            readers = list(self.audio_readers)
        for reader in readers:
            reader.put({"turn": turn, "pcm": pcm})

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        with self._cond:
            if kind == "transcript":
                record = self._turn(int(event["turn"]))
                setattr(record, "user" if event["role"] == "user" else "model", event["text"])
                record.interrupted = record.interrupted or bool(event.get("interrupted"))
            elif kind == "interrupted":
                self._turn(int(event["turn"])).interrupted = True
            elif kind == "turn_complete":
                self._turn(int(event["turn"])).complete = True
                self._current = max(self._current, int(event["turn"]) + 1)
            elif kind == "state":
                self.state = str(event["state"])
            elif kind == "error" and event.get("fatal"):
                self._end_message = f"{event.get('code')}: {event.get('message')}"
            elif kind == "tool_call_cancelled":
                for call_id in event.get("ids", []):
                    cancelled = self._pending.pop(call_id, None)
                    if cancelled is not None:
                        cancelled.cancelled.set()  # its late answer is not sent
            self._cond.notify_all()
        if kind == "tool_call":
            self._start_tool(event)
        self.events.put(event)

    # ---- tool calls ----------------------------------------------------------------

    def _start_tool(self, event: dict[str, Any]) -> None:
        call = ToolCall(str(event["id"]), str(event["name"]), dict(event.get("args") or {}))
        ours = call.name in self.toolbox.tools
        with self._cond:
            self._turn(int(event["turn"])).tool_calls.append(call)
            if not ours:
                # Another client answers it (the browser's notebook tools, another
                # kernel): an error from here would beat its answer, the first one wins.
                return
            self._pending[call.id] = call
            busy = len(self._pending) > MAX_TOOL_CALLS
        if busy:
            self._answer(call, Answer({"error": f"too many tool calls running ({MAX_TOOL_CALLS})"}))
            return
        runner = threading.Thread(
            target=self._run_tool, args=(call,), name=f"gemini-live-tool-{call.name}", daemon=True
        )
        self._tool_threads.add(runner)
        runner.start()

    def _run_tool(self, call: ToolCall) -> None:
        try:
            box: list[Answer] = []
            worker = threading.Thread(
                target=lambda: box.append(
                    self.toolbox.answer(call.name, call.args, call.cancelled)
                ),
                name=f"gemini-live-tool-{call.name}-body",
                daemon=True,  # Python cannot stop a function; a hung one must not block exit
            )
            worker.start()
            worker.join(self.tool_timeout)
            timed_out = {"error": f"{call.name} did not finish within {self.tool_timeout:g} s"}
            self._answer(call, box[0] if box else Answer(timed_out))
        finally:
            self._tool_threads.discard(threading.current_thread())

    def _answer(self, call: ToolCall, answer: Answer) -> None:
        with self._cond:
            if self._pending.pop(call.id, None) is None:
                return  # cancelled by the model (the server would refuse it), or closing
            call.response = answer.response
            call.scheduling = answer.scheduling
            self._cond.notify_all()
        message: dict[str, Any] = {"type": "tool_response", "id": call.id, "name": call.name}
        message["response"] = answer.response
        if answer.scheduling is not None:
            message["scheduling"] = answer.scheduling
        try:
            assert self._ws is not None
            self._ws.send(json.dumps(message))
        except (OSError, websocket.WebSocketException):
            pass  # the stream is closing; the reader reports why


def _merge(turns: list[Turn]) -> Turn:
    last = turns[-1]
    return replace(
        turns[0],
        model="\n".join(t.model for t in turns if t.model),
        interrupted=last.interrupted,
        complete=True,
        tool_calls=[call for t in turns for call in t.tool_calls],
        audio=b"".join(t.audio for t in turns),
    )

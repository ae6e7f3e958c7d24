"""A local TLS websocket server that speaks the Gemini Live wire protocol.

`Simulator` owns the listening socket, the conversations and the records; each
websocket connection is a `Link` that reads client messages, detects the end of speech
and "plays" replies: bursts of audio sent a little ahead of a real-time playback clock,
so a user who talks over a reply interrupts it, as with the real service.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import ssl
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .. import offline
from . import protocol as wire
from .conversation import BURST_S, Conversation, Reply, SetupSettings
from .faults import BAD_KEY_REASON, NO_KEY_REASON, Faults, refused_model_reason

log = logging.getLogger(__name__)

SETUP_TIMEOUT_S = 10.0
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


class Simulator:
    """The Live API on 127.0.0.1, for tests and for trying the product offline.

    `api_key=None` accepts any key; otherwise only that one. `reply_lead_s` is how far
    ahead of real-time playback reply audio is sent; `playback_speed` > 1 makes the
    playback clock (and so each reply) run faster, for quick tests.
    """

    def __init__(
        self,
        ssl_context: ssl.SSLContext,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        faults: Faults | None = None,
        reply_lead_s: float = 1.0,
        playback_speed: float = 1.0,
        record_limit: int = 100_000,
    ) -> None:
        self.ssl_context = ssl_context
        self.host = host
        self.port = port
        self.api_key = api_key
        self.faults = faults or Faults()
        self.reply_lead_s = reply_lead_s
        self.playback_speed = playback_speed
        self.conversations: list[Conversation] = []
        #: every message sent, as JSON text, for tests that validate the wire format
        self.sent: deque[str] = deque(maxlen=record_limit)
        #: close codes of ended connections, in order
        self.close_codes: list[int | None] = []
        self._handles: dict[str, Conversation] = {}
        self._links: set[Link] = set()
        self._connection_count = itertools.count()
        self._server: Server | None = None

    @property
    def url(self) -> str:
        """The base URL to configure (`c.GeminiLive.base_url`)."""
        return f"https://{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await serve(
            self._serve_link,
            self.host,
            self.port,
            ssl=self.ssl_context,
            process_request=self._check_path,
            max_size=MAX_MESSAGE_BYTES,
        )
        sockets = list(self._server.sockets)
        self.port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- scripted faults on demand ---------------------------------------------------

    async def go_away(self, time_left_s: float = 5.0) -> None:
        """Send goAway on every open connection; each closes after `time_left_s`."""
        await asyncio.gather(*(link.go_away(time_left_s) for link in list(self._links)))

    async def drop(self, code: int = 1011, reason: str = "Internal error encountered.") -> None:
        """Close every open connection with `code`, as a failing service would."""
        await asyncio.gather(*(link.close(code, reason) for link in list(self._links)))

    @property
    def open_connections(self) -> int:
        return len(self._links)

    def links(self) -> list[Link]:
        return list(self._links)

    # ---- conversations ---------------------------------------------------------------

    def conversation_for(self, handle: str | None) -> Conversation | None:
        if handle is None:
            conversation = Conversation(len(self.conversations) + 1)
            self.conversations.append(conversation)
            return conversation
        return self._handles.get(handle)

    def remember_handle(self, handle: str, conversation: Conversation) -> None:
        self._handles[handle] = conversation

    def record_sent(self, text: str) -> None:
        self.sent.append(text)

    # ---- connections -----------------------------------------------------------------

    def _check_path(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if wire.API_PATH.match(path) is None:
            return connection.respond(404, f"No Live API endpoint at {path}\n")
        return None

    async def _serve_link(self, connection: ServerConnection) -> None:
        link = Link(self, connection, next(self._connection_count))
        self._links.add(link)
        try:
            await link.run()
        finally:
            self._links.discard(link)
            self.close_codes.append(link.close_code())


class Link:
    """One websocket connection of a conversation."""

    def __init__(self, simulator: Simulator, connection: ServerConnection, index: int) -> None:
        self.sim = simulator
        self.ws = connection
        self.index = index
        self.conversation: Conversation | None = None
        self.settings: SetupSettings | None = None
        self._send_lock = asyncio.Lock()
        pacing = offline.Pacing(BURST_S, simulator.reply_lead_s, simulator.playback_speed)
        self._player = offline.ReplyPlayer(_Voice(self), pacing, name="simulated-reply")
        self._engine: offline.Engine | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def close_code(self) -> int | None:
        return self.ws.close_code

    async def run(self) -> None:
        try:
            if not await self._open():
                return
            self._start_timed_faults()
            async for raw in self.ws:
                await self._on_message(raw)
        except ConnectionClosed:
            pass
        except wire.ProtocolError as error:
            await self.close(1007, str(error))
        finally:
            await self._stop_tasks()

    async def _stop_tasks(self) -> None:
        await self._player.stop()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ---- setup -----------------------------------------------------------------------

    async def _open(self) -> bool:
        """Read `setup` and answer it, or refuse the way the service does."""
        try:
            raw = await asyncio.wait_for(self.ws.recv(), SETUP_TIMEOUT_S)
        except asyncio.TimeoutError:
            await self.close(1007, "setup must be the first message")
            return False
        message = parse_json(raw)
        setup = wire.field(message, "setup")
        if not isinstance(setup, Mapping):
            await self.close(1007, "setup must be the first message")
            return False
        settings = SetupSettings.parse(setup)
        refusal = self._refusal(settings)
        if refusal is not None:
            await self.close(*refusal)
            return False
        conversation = self.sim.conversation_for(settings.resume_handle)
        if conversation is None:
            await self.close(1007, "Invalid session resumption handle.")
            return False
        others = [link for link in self.sim.links() if link is not self]
        listener = conversation.attach(
            settings, overlapping=any(o.conversation is conversation for o in others)
        )
        self.conversation, self.settings = conversation, settings
        self._engine = offline.Engine(
            listener, self._player, on_utterance=self._on_utterance, on_text=self._on_text
        )
        await self.send(wire.setup_complete())
        # The service hands out a handle early, so even a first turn can be resumed.
        await self.send_handle(resumable=conversation.pending_tool is None)
        return True

    def _refusal(self, settings: SetupSettings) -> tuple[int, str] | None:
        key = self.ws.request.headers.get("x-goog-api-key") if self.ws.request else None
        if not key:
            return 1008, NO_KEY_REASON
        if self.sim.faults.bad_key or (self.sim.api_key is not None and key != self.sim.api_key):
            return 1007, BAD_KEY_REASON
        if self.sim.faults.refuses(settings.model):
            version = api_version_of(self.ws.request.path if self.ws.request else "")
            return 1008, refused_model_reason(settings.model, version)
        return None

    def _start_timed_faults(self) -> None:
        faults = self.sim.faults
        if not faults.timed_for(self.index):
            return
        if faults.go_away_after is not None:
            self._spawn(self._go_away_later(faults.go_away_after, faults.go_away_time_left))
        if faults.close_after is not None:
            self._spawn(
                self._close_later(faults.close_after, faults.close_code, faults.close_reason)
            )

    def _spawn(self, coroutine: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _go_away_later(self, after: float, time_left: float) -> None:
        await asyncio.sleep(after)
        await self.go_away(time_left)

    async def _close_later(self, after: float, code: int, reason: str) -> None:
        await asyncio.sleep(after)
        await self.close(code, reason)

    async def go_away(self, time_left: float) -> None:
        await self.send(wire.go_away(time_left))
        self._spawn(self._close_later(time_left, 1000, "Session time limit reached."))

    async def close(self, code: int, reason: str) -> None:
        # A close frame carries at most 123 bytes of reason; the service cuts it too.
        reason = reason.encode()[:123].decode(errors="ignore")
        await self.ws.close(code, reason)

    # ---- sending ---------------------------------------------------------------------

    async def send(self, message: wire.Message) -> None:
        text = json.dumps(message)
        async with self._send_lock:
            if self.sim.faults.message_delay:
                await asyncio.sleep(self.sim.faults.message_delay)
            try:
                await self.ws.send(text)
            except ConnectionClosed:
                return  # the reader still drains what the client sent before closing
            self.sim.record_sent(text)

    async def send_all(self, messages: Iterable[wire.Message]) -> None:
        for message in messages:
            await self.send(message)

    async def send_handle(self, *, resumable: bool) -> None:
        if self.conversation is None or self.settings is None or not self.settings.resumption:
            return
        handle = self.conversation.new_handle()
        self.sim.remember_handle(handle, self.conversation)
        await self.send(wire.resumption_update(handle, resumable=resumable))

    # ---- receiving -------------------------------------------------------------------

    async def _on_message(self, raw: str | bytes) -> None:
        message = parse_json(raw)
        kind = wire.message_kind(message)
        body = next(iter(message.values()))
        if kind == "realtime_input":
            await self._on_realtime_input(body)
        elif kind == "client_content":
            await self._on_client_content(body)
        elif kind == "tool_response":
            await self._on_tool_response(body)
        else:
            raise wire.ProtocolError(f"unexpected client message {kind!r}")

    async def _on_realtime_input(self, body: Mapping[str, Any]) -> None:
        conversation = self._conversation()
        chunks = [wire.field(body, "audio"), *(wire.field(body, "media_chunks", []) or [])]
        for blob in chunks:
            if blob is None:
                continue
            mime = str(wire.field(blob, "mime_type", ""))
            data = wire.decode_bytes(wire.field(blob, "data", ""))
            if mime.startswith("audio/"):
                conversation.audio_in_bytes += len(data)
                await self._engine_().audio(data)
            else:
                conversation.images += 1
        if wire.field(body, "video") is not None:
            conversation.images += 1
        if wire.field(body, "activity_start") is not None:
            await self._engine_().activity_start()
        if wire.field(body, "activity_end") is not None:
            await self._engine_().activity_end()
        if wire.field(body, "audio_stream_end"):
            await self._engine_().audio_stream_end()
        text = wire.field(body, "text")
        if isinstance(text, str) and text:
            await self._engine_().text(text)

    async def _on_client_content(self, body: Mapping[str, Any]) -> None:
        texts = wire.texts_of_turns(wire.field(body, "turns", []))
        if texts and wire.field(body, "turn_complete", False):
            await self._engine_().text(" ".join(texts))
        else:
            self._conversation().texts.extend(texts)

    async def _on_tool_response(self, body: Mapping[str, Any]) -> None:
        for response in wire.field(body, "function_responses", []) or []:
            reply = self._conversation().tool_reply(response)
            if reply is not None:
                self._player.play(reply)

    # ---- turns (the engine's hooks) ---------------------------------------------------

    async def _on_utterance(self, pcm: bytes) -> None:
        await self._engine_().barge_in()
        await self._cancel_tool_call()
        heard, reply = self._conversation().speech_reply(pcm)
        if self._settings().input_transcription:
            await self.send(wire.input_transcription(heard, finished=True))
        self._player.play(reply)

    async def _on_text(self, text: str) -> None:
        await self._cancel_tool_call()
        answer = self._conversation().text_reply(text)
        if isinstance(answer, Reply):
            self._player.play(answer)
            return
        await self.send_handle(resumable=False)
        await self.send(wire.tool_call(answer["id"], answer["name"], answer["args"]))

    async def _cancel_tool_call(self) -> None:
        """A new user turn makes the model drop a call it is still waiting for."""
        conversation = self._conversation()
        if conversation.pending_tool is not None:
            call_id = conversation.pending_tool["id"]
            conversation.pending_tool = None
            await self.send(wire.tool_call_cancellation([call_id]))

    def _engine_(self) -> offline.Engine:
        assert self._engine is not None
        return self._engine

    def _conversation(self) -> Conversation:
        assert self.conversation is not None
        return self.conversation

    def _settings(self) -> SetupSettings:
        assert self.settings is not None
        return self.settings


class _Voice:
    """How a link's replies go on the wire (an `offline.ReplyOutput`)."""

    def __init__(self, link: Link) -> None:
        self.link = link

    async def started(self, reply: Reply) -> None:
        await self.link.send_handle(resumable=False)

    async def chunk(self, reply: Reply, pcm: bytes, words: str) -> None:
        await self.link.send(wire.audio_chunk(pcm))
        settings = self.link.settings
        if words and settings is not None and settings.output_transcription:
            await self.link.send(wire.output_transcription(words))

    async def sent(self, reply: Reply) -> None:
        await self.link.send(wire.generation_complete())

    async def finished(self, reply: Reply) -> None:
        total = reply.prompt_tokens + reply.response_tokens
        await self.link.send(wire.usage(reply.prompt_tokens, reply.response_tokens, total))
        await self.link.send(wire.turn_complete())
        await self.link.send_handle(resumable=True)

    async def interrupted(self) -> None:
        """The user spoke while a reply was still playing: say so."""
        if self.link.conversation is not None:
            self.link.conversation.interruptions += 1
        await self.link.send_all([wire.interrupted(), wire.turn_complete()])
        await self.link.send_handle(resumable=True)


def parse_json(raw: str | bytes) -> dict[str, Any]:
    try:
        message = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise wire.ProtocolError(f"client messages are JSON: {error}") from None
    if not isinstance(message, dict):
        raise wire.ProtocolError("a client message is a JSON object")
    return message


def api_version_of(path: str) -> str:
    match = wire.API_PATH.match(path.split("?", 1)[0])
    return match["version"] if match else "v1beta"

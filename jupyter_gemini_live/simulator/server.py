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
from ..protocol import INPUT_RATE, OUTPUT_RATE
from . import profiles
from . import protocol as wire
from .conversation import BURST_S, IMAGE_TOKENS, TOKENS_PER_S, Conversation, Reply, SetupSettings
from .faults import (
    BAD_KEY_REASON,
    INVALID_HANDLE_CODE,
    INVALID_HANDLE_REASON,
    NO_KEY_REASON,
    Faults,
    refused_model_reason,
)
from .script import Script, ScriptedCall
from .tool_log import ResponseRecorder, ToolLog

log = logging.getLogger(__name__)

SETUP_TIMEOUT_S = 10.0
#: thinking tokens a model with thinking levels reports per reply
THOUGHTS_PER_TURN = 24
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
#: a resumable handle (when the conversation can be resumed) every this many client
#: messages, so a client never has to keep much unconfirmed input (about 1 s of 20 ms audio)
UPDATE_EVERY = 50
#: typed text the simulated model refuses (the turn ends with this reason, no reply)
UNSAFE_TEXT = "please be unsafe"
UNSAFE_REASON = "GENERATED_CONTENT_SAFETY"
#: typed text that asks for a grounded reply (when the setup has google_search)
SEARCH_PREFIX = "search "
#: interim input transcription every this much speech (models that send it)
INTERIM_EVERY_S = 0.5


class Simulator:
    """The Live API on 127.0.0.1, for tests and for trying the product offline.

    `api_key=None` accepts any key; otherwise only that one. On the Vertex AI path a
    bearer token replaces the key: `bearer_token=None` accepts any token, otherwise
    only that one (HTTP 401 at the handshake otherwise). `reply_lead_s` is how far
    ahead of real-time playback reply audio is sent; `playback_speed` > 1 makes the
    playback clock (and so each reply) run faster, for quick tests. `update_every`: a
    resumable `sessionResumptionUpdate` every this many client messages, when resumable.
    `script`: tool calls the model makes in reply to user turns; `tool_log`: where tool
    responses (and their images) are recorded.
    """

    def __init__(
        self,
        ssl_context: ssl.SSLContext,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        bearer_token: str | None = None,
        faults: Faults | None = None,
        reply_lead_s: float = 1.0,
        playback_speed: float = 1.0,
        record_limit: int = 100_000,
        update_every: int = UPDATE_EVERY,
        script: Script | None = None,
        tool_log: ToolLog | None = None,
    ) -> None:
        self.ssl_context = ssl_context
        self.host = host
        self.port = port
        self.api_key = api_key
        self.bearer_token = bearer_token
        self.faults = faults or Faults()
        self.reply_lead_s = reply_lead_s
        self.playback_speed = playback_speed
        self.update_every = update_every
        #: the calls the model makes in reply to user turns (`--script`)
        self.script = script
        #: every tool response received, with its images (`--tool-log`)
        self.tool_log = tool_log or ToolLog(limit=record_limit)
        self.conversations: list[Conversation] = []
        #: every message sent, as JSON text, for tests that validate the wire format
        self.sent: deque[str] = deque(maxlen=record_limit)
        #: the same, of connections on the Vertex AI path (Vertex names some fields
        #: differently: they parse after the SDK's own Vertex conversion)
        self.sent_vertex: deque[str] = deque(maxlen=record_limit)
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
        """A new conversation, or the one `handle` resumes, restored to the handle's
        state (None: the handle is unknown, expired or refused)."""
        if handle is None:
            conversation = Conversation(len(self.conversations) + 1)
            self.conversations.append(conversation)
            return conversation
        resumed = self._handles.get(handle)
        if resumed is None:
            return None
        snapshot = resumed.snapshot_of(handle)
        lifetime = self.faults.handle_lifetime
        expired = snapshot is None or (
            lifetime is not None
            and asyncio.get_running_loop().time() - snapshot.taken_at > lifetime
        )
        if self.faults.refuse_resumption or expired:
            resumed.refused_handles += 1
            return None
        assert snapshot is not None
        # The connections that served this conversation so far take nothing more in.
        for link in self.links():
            if link.conversation is resumed:
                link.superseded = True
        resumed.restore(snapshot)
        return resumed

    def remember_handle(self, handle: str, conversation: Conversation) -> None:
        self._handles[handle] = conversation

    def record_sent(self, text: str, *, vertex: bool = False) -> None:
        (self.sent_vertex if vertex else self.sent).append(text)

    # ---- connections -----------------------------------------------------------------

    def _check_path(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if wire.VERTEX_PATH.match(path) is not None:
            scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or not token:
                return connection.respond(401, "Request is missing the bearer token.\n")
            if self.bearer_token is not None and token != self.bearer_token:
                return connection.respond(401, "Request had invalid authentication credentials.\n")
            return None
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
        path = connection.request.path if connection.request else ""
        #: which API the client speaks: "developer" or "vertex"
        self.api = "vertex" if wire.VERTEX_PATH.match(path.split("?", 1)[0]) else "developer"
        #: the profile of the model of the setup (models.py's table)
        self.model = profiles.profile_of({}, self.api)
        #: cumulative token counts of this connection (the service counts per connection)
        self.prompt_tokens: dict[str, int] = {"TEXT": 0, "AUDIO": 0, "IMAGE": 0}
        self.response_seconds = 0.0
        self.thoughts = 0
        self._send_lock = asyncio.Lock()
        pacing = offline.Pacing(BURST_S, simulator.reply_lead_s, simulator.playback_speed)
        self._player = offline.ReplyPlayer(_Voice(self), pacing, name="simulated-reply")
        self._engine: offline.Engine | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        #: index of the last client message taken in (0: `setup`), for
        #: `lastConsumedClientMessageIndex`
        self.consumed = 0
        #: a later connection resumed the conversation: this one takes nothing more in
        self.superseded = False
        self._heard_bytes = 0  # speech of the utterance under way (interim transcription)
        self._in_message = False  # a client message is being taken in
        self._update_due = False  # a resumable update waits for that to end
        self.turn_open = False  # a turn is under way that no reply will end (a call's)
        self._responses = ResponseRecorder(simulator.tool_log)

    def close_code(self) -> int | None:
        return self.ws.close_code

    async def run(self) -> None:
        try:
            if not await self._open():
                return
            self._start_timed_faults()
            async for raw in self.ws:
                if self.sim.faults.read_delay:
                    await asyncio.sleep(self.sim.faults.read_delay)
                if self.superseded:
                    continue
                await self._take(raw)
        except ConnectionClosed:
            pass
        except wire.ProtocolError as error:
            await self.close(1007, str(error))
        finally:
            self._responses.flush()
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
        self.model = profiles.profile_of(setup, self.api)
        refusal = self._refusal(settings)
        if refusal is not None:
            await self.close(*refusal)
            return False
        conversation = self.sim.conversation_for(settings.resume_handle)
        if conversation is None:
            await self.close(INVALID_HANDLE_CODE, INVALID_HANDLE_REASON)
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
        if self.api == "developer":  # on Vertex the bearer token was checked already
            key = self.ws.request.headers.get("x-goog-api-key") if self.ws.request else None
            if not key:
                return 1008, NO_KEY_REASON
            wrong = self.sim.api_key is not None and key != self.sim.api_key
            if self.sim.faults.bad_key or wrong:
                return 1007, BAD_KEY_REASON
        if self.sim.faults.refuses(settings.model):
            version = api_version_of(self.ws.request.path if self.ws.request else "")
            return 1008, refused_model_reason(settings.model, version)
        return profiles.refusal(settings.raw, self.model)

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
        if self.superseded:
            return  # the client left this connection for another one
        text = json.dumps(message)
        async with self._send_lock:
            if self.sim.faults.message_delay:
                await asyncio.sleep(self.sim.faults.message_delay)
            try:
                await self.ws.send(text)
            except ConnectionClosed:
                return  # the reader still drains what the client sent before closing
            self.sim.record_sent(text, vertex=self.api == "vertex")

    async def send_audio(self, pcm: bytes) -> None:
        """A chunk of the model's voice."""
        await self.send(wire.audio_chunk(pcm))

    async def send_all(self, messages: Iterable[wire.Message]) -> None:
        for message in messages:
            await self.send(message)

    async def send_handle(self, *, resumable: bool) -> None:
        """A `sessionResumptionUpdate`; a resumable one stands for the state after the
        client message taken in last (so it waits while one is being taken in)."""
        if self.conversation is None or self.settings is None or not self.settings.resumption:
            return
        if not resumable:
            await self.send(wire.resumption_update("", resumable=False))
            return
        if self._in_message:
            self._update_due = True
            return
        self._update_due = False
        handle = self.conversation.new_handle()
        self.conversation.snapshot(handle, self.consumed, asyncio.get_running_loop().time())
        self.sim.remember_handle(handle, self.conversation)
        await self.send(wire.resumption_update(handle, resumable=True, last_consumed=self.consumed))

    def resumable(self) -> bool:
        """No reply under way and no call pending: the state can be handed out."""
        conversation = self.conversation
        return (
            conversation is not None
            and conversation.pending_tool is None
            and not self._player.playing
        )

    # ---- receiving -------------------------------------------------------------------

    async def _take(self, raw: str | bytes) -> None:
        """Take one client message in, then hand out a handle if one is due."""
        self._in_message = True
        try:
            await self._on_message(raw)
        finally:
            self._in_message = False
        self.consumed += 1
        every = self.sim.update_every
        if self._update_due or (every and self.consumed % every == 0 and self.resumable()):
            await self.send_handle(resumable=self.resumable())

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
        chunks = [wire.field(body, "audio"), *(wire.field(body, "media_chunks", []) or [])]
        for blob in chunks:
            if blob is None:
                continue
            mime = str(wire.field(blob, "mime_type", ""))
            data = wire.decode_bytes(wire.field(blob, "data", ""))
            if mime.startswith("audio/"):
                await self._audio_in(data)
            else:
                self._image_in(mime, len(data))
        video = wire.field(body, "video")
        if video is not None:
            data = wire.decode_bytes(wire.field(video, "data", ""))
            self._image_in(str(wire.field(video, "mime_type", "")), len(data))
        if wire.field(body, "activity_start") is not None:
            await self._engine_().activity_start()
        if wire.field(body, "activity_end") is not None:
            await self._engine_().activity_end()
        if wire.field(body, "audio_stream_end"):
            await self._engine_().audio_stream_end()
        text = wire.field(body, "text")
        if isinstance(text, str) and text:
            await self._engine_().text(text)

    async def _audio_in(self, pcm: bytes) -> None:
        conversation = self._conversation()
        conversation.audio_in_bytes += len(pcm)
        conversation.audio_received_bytes += len(pcm)
        await self._engine_().audio(pcm)
        await self._interim(len(pcm))

    async def _on_client_content(self, body: Mapping[str, Any]) -> None:
        turns = wire.field(body, "turns", [])
        if not wire.field(body, "turn_complete", False):
            self._conversation().history.extend(wire.turns_of(turns))
        texts = wire.texts_of_turns(turns)
        if texts and wire.field(body, "turn_complete", False):
            await self._engine_().text(" ".join(texts))
        else:
            self._conversation().texts.extend(texts)

    async def _on_tool_response(self, body: Mapping[str, Any]) -> None:
        """Answer the awaited call as its `scheduling` says: SILENT takes the result in
        without a word, INTERRUPT cuts in on a reply under way, WHEN_IDLE (and no
        scheduling) waits until the reply under way ends. Only models whose capabilities
        have `scheduling` take the field (others refuse it, as the service does)."""
        for response in wire.field(body, "function_responses", []) or []:
            scheduling = wire.field(response, "scheduling")
            if scheduling is not None and not self.model.scheduling:
                raise wire.ProtocolError(
                    "Invalid argument: function response scheduling is not supported "
                    f"(model {self.model.name})."
                )
            self._responses.response(response)
            reply = self._conversation().tool_reply(response)
            if reply is None:
                continue
            if isinstance(reply, ScriptedCall):
                await self._make_call(reply)
                continue
            if scheduling == "SILENT":
                await self._end_quiet_turn()
                continue
            if scheduling == "INTERRUPT":
                await self._engine_().barge_in()
            self._player.play(reply)

    async def _end_quiet_turn(self) -> None:
        """A turn the model ends without saying anything (nothing playing to end it)."""
        if self.turn_open and not self._player.playing:
            self.turn_open = False
            await self.send_all([self.usage(), wire.turn_complete()])
            await self.send_handle(resumable=self.resumable())

    async def _interim(self, nbytes: int) -> None:
        """While the user speaks, the words so far (models with interim transcription)."""
        listener = self._conversation().listener
        settings = self._settings()
        if (
            listener is None
            or listener.manual
            or not listener.speech.speaking
            or not settings.input_transcription
            or not self.model.interim_input_transcription
        ):
            self._heard_bytes = 0
            return
        step = round(INTERIM_EVERY_S * INPUT_RATE) * 2
        before, self._heard_bytes = self._heard_bytes, self._heard_bytes + nbytes
        if self._heard_bytes // step > before // step:
            seconds = self._heard_bytes / 2 / INPUT_RATE
            await self.send(wire.interim_input_transcription(f"({seconds:.1f} s of speech…"))

    def google_search(self) -> bool:
        """The setup asked for Google Search grounding."""
        tools = wire.field(self._settings().raw, "tools", []) or []
        return any(wire.field(tool, "google_search") is not None for tool in tools)

    def _image_in(self, mime_type: str, size: int) -> None:
        self._responses.video(mime_type, size)
        self._conversation().images += 1
        self.prompt_tokens["IMAGE"] += IMAGE_TOKENS

    # ---- usage ---------------------------------------------------------------------------

    def usage(self) -> wire.Message:
        """The cumulative usage of this connection, as the service reports it."""
        response = {"AUDIO": round(self.response_seconds * TOKENS_PER_S)}
        return wire.usage(self.prompt_tokens, response, self.thoughts, vertex=self.api == "vertex")

    # ---- turns (the engine's hooks) ---------------------------------------------------

    def behavior_of(self, name: str) -> str:
        """How the model calls `name`: the declaration's `behavior`, else the model's
        default (BLOCKING for a function the setup does not declare)."""
        for tool in wire.field(self._settings().raw, "tools", []) or []:
            for declaration in wire.field(tool, "function_declarations", []) or []:
                if wire.field(declaration, "name") == name:
                    behavior = wire.field(declaration, "behavior")
                    return str(behavior or self.model.default_behavior or "BLOCKING")
        return "BLOCKING"

    async def _on_utterance(self, pcm: bytes) -> None:
        await self._engine_().barge_in()
        await self._cancel_tool_call(blocking_only=True)
        self._heard_bytes = 0
        conversation = self._conversation()
        run = conversation.start_script(self.sim.script)
        if run is not None:
            heard = f"({offline.speech_seconds(pcm):.1f} s of speech)"
            reply: Reply | None = None
        else:
            heard, reply = conversation.speech_reply(pcm)
        if self._settings().input_transcription:
            await self.send(wire.input_transcription(heard, finished=True))
        if reply is not None:
            self._player.play(reply)
        else:
            await self._scripted_next()

    async def _on_text(self, text: str) -> None:
        request = offline.parse_call(text)
        # A NON_BLOCKING call runs on while the user talks; a new call replaces it.
        await self._cancel_tool_call(blocking_only=request is None)
        conversation = self._conversation()
        if text.strip().lower() == UNSAFE_TEXT:
            conversation.refused_turn(text)
            self.turn_open = False
            await self.send_all([self.usage(), wire.turn_complete(UNSAFE_REASON)])
            return
        if text.lower().startswith(SEARCH_PREFIX) and self.google_search():
            self._player.play(conversation.search_reply(text[len(SEARCH_PREFIX) :].strip()))
            return
        if request is None and conversation.start_script(self.sim.script, text) is not None:
            await self._scripted_next()
            return
        behavior = self.behavior_of(request.name) if request is not None else "BLOCKING"
        answer = conversation.text_reply(text, behavior)
        if isinstance(answer, Reply):
            self._player.play(answer)
            return
        self.turn_open = True
        await self.send_handle(resumable=False)
        await self.send(wire.tool_call(answer["id"], answer["name"], answer["args"]))

    async def _cancel_tool_call(self, *, blocking_only: bool = False) -> None:
        """A new user turn makes the model drop a call it is still waiting for (not a
        NON_BLOCKING one, with `blocking_only`: the conversation goes on beside it)."""
        conversation = self._conversation()
        if conversation.pending_tool is not None and (
            conversation.pending_blocks or not blocking_only
        ):
            call_id = conversation.drop_pending()
            assert call_id is not None
            await self.send(wire.tool_call_cancellation([call_id]))

    async def _scripted_next(self) -> None:
        """The scripted turn's next call, or its reply when no call is left."""
        conversation = self._conversation()
        call = conversation.scripted.take_call() if conversation.scripted else None
        if call is None:
            self._player.play(conversation.scripted_end())
            return
        await self._make_call(call)

    async def _make_call(self, call: ScriptedCall) -> None:
        made = self._conversation().scripted_call(call, self.behavior_of(call.name))
        self.turn_open = True
        await self.send_handle(resumable=False)
        await self.send(wire.tool_call(made["id"], made["name"], made["args"]))

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
        link = self.link
        link.prompt_tokens[reply.prompt_modality] += reply.prompt_tokens
        if link.model.thinking_levels:
            link.thoughts += THOUGHTS_PER_TURN
        await link.send_handle(resumable=False)
        if link.model.interaction_status:  # extended thinking: it works in the background
            await link.send(wire.interaction_status("IN_PROGRESS"))

    async def chunk(self, reply: Reply, pcm: bytes, words: str) -> None:
        self.link.response_seconds += len(pcm) / 2 / OUTPUT_RATE
        await self.link.send_audio(pcm)
        settings = self.link.settings
        if words and settings is not None and settings.output_transcription:
            await self.link.send(wire.output_transcription(words))

    async def sent(self, reply: Reply) -> None:
        if reply.sources:
            await self.link.send(wire.grounding(reply.sources, reply.queries))
        await self.link.send(wire.generation_complete())

    async def finished(self, reply: Reply) -> None:
        self.link.turn_open = False
        if self.link.model.interaction_status:
            await self.link.send(wire.interaction_status("IDLE"))
        await self.link.send(self.link.usage())
        await self.link.send(wire.turn_complete())
        await self.link.send_handle(resumable=self.link.resumable())

    async def interrupted(self) -> None:
        """The user spoke while a reply was still playing: say so."""
        self.link.turn_open = False
        if self.link.conversation is not None:
            self.link.conversation.interruptions += 1
        if self.link.model.interaction_status:
            await self.link.send(wire.interaction_status("IDLE"))
        await self.link.send_all([wire.interrupted(), self.link.usage(), wire.turn_complete()])
        await self.link.send_handle(resumable=self.link.resumable())


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

"""The stream websocket: the device (microphone and speaker) of a session, an observer, or
the source of a relay session (the kernel end: it hears the device's microphone and speaks
through the device).

It is authenticated and authorized like jupyter-server's kernel websocket (the `execute`
action) and keeps tornado's origin check. Frames become typed commands (protocol.py) that
the session acts on. What the session says is written at once when nothing is queued
before it and the socket has taken what came before; else it waits in a bounded `Outbox`
drained by one writer task. A source's microphone audio is written by a task of its own
from the relay's `MicQueue`, which bounds it (oldest dropped) while the kernel does not
read; what a source is told always goes through its outbox, so the two keep their order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web
from tornado.iostream import BaseIOStream, IOStream, SSLIOStream, StreamClosedError
from tornado.util import _websocket_mask
from tornado.websocket import (
    WebSocketClosedError,
    WebSocketHandler,
    WebSocketProtocol,
    WebSocketProtocol13,
    _DecompressTooLargeError,
)

from .backends.relay import MicQueue
from .handler_base import GeminiLiveMixin
from .outbox import Audio, Close, Outbox, OutboxOverflow
from .protocol import (
    DEVICE_BUSY,
    INVALID_UTF8,
    Error,
    FrameError,
    Mode,
    Pong,
    ServerEvent,
    dumps,
    parse_frame,
)
from .session import MAX_OBSERVERS, LiveSession

DEVICE_TAKEN = (
    "session %s already has a device (a Gemini Live panel holds its microphone); "
    "stop it there first"
)
TOO_MANY_OBSERVERS = "session %s has %d observers already; close one first"
#: most bytes read from a stream's socket at once
READ_AHEAD = 65536
#: most plaintext bytes in a TLS record (RFC 8446 5.1)
MAX_TLS_RECORD = 16384


class SessionWebSocket(
    GeminiLiveMixin, WebSocketMixin, WebSocketHandler, ExtensionHandlerMixin, JupyterHandler
):
    mode: Mode = "device"
    wants_audio = True
    exclusive = False
    live: LiveSession | None = None
    _mic_writer: asyncio.Task[None] | None = None

    def set_default_headers(self) -> None:
        """Undo JupyterHandler's, which do not apply to a websocket (as the kernel one)."""

    def get_compression_options(self) -> dict[str, Any] | None:
        options: dict[str, Any] | None = self.settings.get("websocket_compression_options")
        return options

    @ws_authenticated
    async def get(self, session_id: str) -> None:
        user = self.current_user
        if not await ensure_async(
            self.authorizer.is_authorized(self, user, "execute", self.auth_resource)
        ):
            raise web.HTTPError(403, "not authorized to talk through gemini-live sessions")
        session = self.live_session(session_id)
        modes: dict[str, Mode] = {"device": "device", "observe": "observe", "source": "source"}
        mode = modes.get(self.get_argument("mode", "device"))
        if mode is None:
            raise web.HTTPError(400, "mode: expected 'device', 'observe' or 'source'")
        self.mode = mode
        self.wants_audio = self.mode == "device" or (
            self.mode == "observe" and self.get_argument("audio", "0") == "1"
        )
        self.exclusive = self.mode == "device" and self.get_argument("exclusive", "0") == "1"
        if self.exclusive and session.has_device():
            raise web.HTTPError(409, "%s", DEVICE_TAKEN % session_id)
        if self.mode == "observe" and session.observer_count() >= MAX_OBSERVERS:
            raise web.HTTPError(429, "%s", TOO_MANY_OBSERVERS % (session_id, MAX_OBSERVERS))
        # tornado's own origin check answers in plain text; the same check, answered in JSON
        # (tornado checks again in super().get(), which then passes).
        refused = self._check_cross_origin(self.check_origin)
        if refused is not None:
            self.log.warning("gemini-live: cross-origin stream refused: %s", refused)
            raise web.HTTPError(403, "%s", f"cross-origin websocket refused: {refused}")
        if self.mode == "source" and (refusal := session.source_refusal()) is not None:
            raise web.HTTPError(409, "%s", refusal)
        self.live = session
        await super().get(session_id)

    def get_websocket_protocol(self) -> WebSocketProtocol | None:
        return stream_protocol(super().get_websocket_protocol())

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open()  # WebSocketMixin's keep-alive pings
        # Events are small and come in runs; Nagle would hold each second one back until the
        # client's ACK (20-40 ms measured in benchmarks/latency.py).
        self.set_nodelay(True)
        self.outbox = Outbox()
        self._writer = asyncio.create_task(self._write_forever(), name="gemini-live-writer")
        assert self.live is not None
        if self.exclusive and self.live.has_device():  # another one came in meanwhile
            self.close(DEVICE_BUSY, "the session has a device already")
            return
        if self.mode == "observe" and self.live.observer_count() >= MAX_OBSERVERS:
            self.close(DEVICE_BUSY, f"the session has {MAX_OBSERVERS} observers already")
            return
        if self.mode == "source":
            refusal = self.live.source_refusal()  # another one came in meanwhile
            if refusal is not None:
                self.close(DEVICE_BUSY, _short(refusal))
                return
        self.live.attach(self)
        relay = self.live.relay
        if self.mode == "source" and relay is not None:
            self._mic_writer = asyncio.create_task(
                self._write_mic_forever(relay.mic), name="gemini-live-mic-writer"
            )

    def on_message(self, message: str | bytes) -> None:
        session = self.live
        if session is None or session.ended:
            return
        try:
            command = parse_frame(message, self.mode)
        except FrameError as err:
            self.send_event(Error(err.code, err.message))
            return
        session.feed(command, self)

    def on_close(self) -> None:
        if self.live is not None:
            self.live.detach(self)
        writer = getattr(self, "_writer", None)
        if writer is not None:
            writer.cancel()
        outbox = getattr(self, "outbox", None)
        if outbox is not None:
            outbox.clear()
        if self._mic_writer is not None:
            self._mic_writer.cancel()

    # ---- Listener ------------------------------------------------------------------

    def send_audio(self, pcm: bytes, received: float | None = None) -> bool:
        if self._wrote_now(pcm, binary=True):
            self._count_downlink(received)
            return True
        return self.outbox.put_audio(pcm, received)

    def send_event(self, event: ServerEvent) -> None:
        try:
            text = dumps(event.to_json())
        except ValueError as err:  # NaN or Infinity (from upstream): never on the wire
            self.log.warning("gemini-live: %s event not sent: %s", event.type, err)
            text = dumps(Error("unencodable_event", f"{event.type}: {err}").to_json())
        if self._wrote_now(text):
            return
        try:
            self.outbox.put_event(text)
        except OutboxOverflow as err:
            self.log.warning("gemini-live: dropping a client that does not read: %s", err)
            self.close(1008, "client too slow: events not read")

    def discard_audio(self) -> None:
        self.outbox.discard_audio()

    def _wrote_now(self, message: str | bytes, binary: bool = False) -> bool:
        """Write `message` in this turn of the event loop when nothing is queued before it
        and the socket has taken all that was written before: the writer task would write
        it a turn later, and the turn is what every session's audio waits behind."""
        if self.mode == "source":  # its microphone audio is queued apart: keep the order
            return False
        if self._socket_behind() or not self.outbox.empty():
            return False
        try:
            written = self.write_message(message, binary=binary)
        except WebSocketClosedError:  # closed or closing: the queue (and the writer's end) has it
            return False
        written.add_done_callback(_observe)
        return True

    def disconnect(self, code: int, reason: str) -> None:
        """Close after what is queued has been written (a final error event, say)."""
        self.outbox.put_close(code, reason)

    async def wait_closed(self) -> None:
        writer = getattr(self, "_writer", None)
        if writer is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(writer)

    async def _write_forever(self) -> None:
        with contextlib.suppress(WebSocketClosedError, asyncio.CancelledError):
            while True:
                item = await self.outbox.get()
                if isinstance(item, Close):
                    self.close(item.code, _short(item.reason))
                    return
                if isinstance(item, Audio):
                    written = self.write_message(item.pcm, binary=True)
                    self._count_downlink(item.received)
                    await self._drained(written)
                else:
                    await self._drained(self.write_message(item))

    async def _drained(self, written: asyncio.Future[None]) -> None:
        """Wait for a write only while tornado holds bytes the socket has not taken.

        tornado's future for a write is a task a turn or two of the event loop away even
        when the socket took everything at once: awaited each time, the last chunk of a
        burst of N waited 2N turns (1.5 ms at the median in the server at 50 sessions)."""
        if self._socket_behind():
            await written
        else:  # written (or failed) already: its outcome is read, never left unobserved
            written.add_done_callback(_observe)

    def _socket_behind(self) -> bool:
        """tornado holds bytes written to this client that its socket has not taken."""
        connection = self.ws_connection
        return (
            connection is not None and connection.stream is not None and connection.stream.writing()
        )

    def _count_downlink(self, received: float | None) -> None:
        """The audio is on its way to the device: its time in the server, for the stats
        (the device's only: an observer's copy says nothing about the conversation)."""
        if received is not None and self.mode == "device" and self.live is not None:
            self.live.stats.downlink.add(time.monotonic() - received)

    async def _write_mic_forever(self, mic: MicQueue) -> None:
        """The device's microphone to a source, frame by frame, as fast as it reads: while
        it does not, frames wait in `mic` (which drops the oldest beyond its bound)."""
        with contextlib.suppress(WebSocketClosedError, asyncio.CancelledError):
            while True:
                await self._drained(self.write_message(await mic.get(), binary=True))


def stream_protocol(protocol: WebSocketProtocol | None) -> WebSocketProtocol | None:
    """tornado's protocol, handling frames as their bytes come, and closing a text frame
    of invalid UTF-8 with 1007 and a reason (`_StreamProtocol`)."""
    if type(protocol) is not WebSocketProtocol13:
        return protocol
    protocol.__class__ = _StreamProtocol
    assert isinstance(protocol, _StreamProtocol)
    protocol.ahead = bytearray()
    return protocol


class _StreamProtocol(WebSocketProtocol13):
    """tornado's RFC 6455 protocol with two changes:

    - A text frame of invalid UTF-8 is closed with 1007 and a reason (RFC 6455 7.1.7),
      where tornado drops the TCP connection.
    - Frames are handled in the turn of the event loop their bytes arrive in. tornado
      awaits one `read_bytes` per part of a frame (header, length, mask, payload), so
      each frame woke its reading task a turn after the socket was read, tried the
      socket once more (`recv` finding nothing), and, the header's read leaving the rest
      buffered, stopped watching the socket and watched it again for the next frame
      (two `epoll_ctl`). Here one read stays pending for the life of the connection and
      each chunk the socket gives goes to `_feed` (`_FeedingStream`), which handles every
      whole frame in it at once, the way tornado's `_receive_frame` does. Only for
      tornado's own stream classes, reading at least a TLS record at a time (so that
      nothing read waits inside OpenSSL, where epoll would not see it: without
      read-ahead, OpenSSL takes a record at a time from the socket); any other stream is
      read by tornado as before.
    """

    ahead: bytearray  # set by stream_protocol
    _message_opcode = 0  # of the fragmented message being joined

    async def _receive_frame_loop(self) -> None:
        feeding = _FEEDING.get(type(self.stream))
        if feeding is None or self.stream.read_chunk_size < MAX_TLS_RECORD:
            await super()._receive_frame_loop()
            return
        self.stream.__class__ = feeding
        assert isinstance(self.stream, _FeedingStream)
        self.stream.feed = self._feed
        try:
            while not self.client_terminated:
                # pending until the stream closes: `_FeedingStream` hands on what it reads
                await self.stream.read_bytes(READ_AHEAD, partial=True)
        except StreamClosedError:
            self._abort()
        finally:
            self.handler.on_ws_connection_close(self.close_code, self.close_reason)

    def _feed(self, data: bytes) -> None:
        """Handle every whole frame; keep the start of the next one for the next read
        (bounded: its length was checked against max_message_size before it is kept)."""
        ahead = self.ahead
        if ahead:
            ahead += data
            del ahead[: self._handle_frames(ahead)]
            return
        used = self._handle_frames(data)
        if used < len(data):
            ahead += data[used:]

    def _handle_frames(self, buf: bytes | bytearray) -> int:
        """Handle the whole frames at the start of `buf`; return how many bytes they took."""
        start, size = 0, len(buf)
        while not self.client_terminated and size - start >= 2:
            header, second = buf[start], buf[start + 1]
            at, length = start + 2, second & 0x7F
            if length >= 126:
                width = 2 if length == 126 else 8
                if size < at + width:
                    break
                length = int.from_bytes(buf[at : at + width], "big")
                at += width
            if not self._frame_allowed(header, length):
                break
            masked = bool(second & 0x80)
            end = at + 4 * masked + length
            if size < end:
                break
            payload = bytes(buf[at + 4 * masked : end])
            if masked:
                payload = _websocket_mask(bytes(buf[at : at + 4]), payload)
            start = end
            self._handle_frame(header, payload)
        return start

    def _frame_allowed(self, header: int, length: int) -> bool:
        """tornado's checks of a frame's header; a frame that fails one ends the connection."""
        opcode, reserved = header & self.OPCODE_MASK, header & self.RSV_MASK
        if self._decompressor is not None and opcode != 0:
            # set by the first frame of a message, read once the message is whole
            self._frame_compressed = bool(reserved & self.RSV1)
            reserved &= ~self.RSV1
        if reserved or (opcode & 0x8 and length >= 126):
            self._abort()
            return False
        if length + len(self._fragmented_message_buffer or b"") > self.params.max_message_size:
            self.close(1009, "message too big")
            self._abort()
            return False
        return True

    def _handle_frame(self, header: int, data: bytes) -> None:
        """A frame's payload, joined to its message's (RFC 6455 5.4) as tornado does."""
        final, opcode = header & self.FIN, header & self.OPCODE_MASK
        if opcode & 0x8:  # control frames come whole, even between a message's fragments
            if not final:
                self._abort()
                return
        elif opcode == 0:
            if self._fragmented_message_buffer is None:
                self._abort()
                return
            self._fragmented_message_buffer.extend(data)
            if not final:
                return
            opcode = self._message_opcode
            data = bytes(self._fragmented_message_buffer)
            self._fragmented_message_buffer = None
        elif self._fragmented_message_buffer is not None:
            self._abort()
            return
        elif not final:
            self._message_opcode = opcode
            self._fragmented_message_buffer = bytearray(data)
            return
        # on_message is not a coroutine: nothing to wait for before the next frame
        self._handle_message(opcode, data)

    def _handle_message(self, opcode: int, data: bytes) -> Any:
        if opcode != 0x1 or self.client_terminated:
            return super()._handle_message(opcode, data)
        if self.server_terminated:
            return None  # closing: what the client still sends is not read
        if self._frame_compressed:  # decompress here (as tornado would), then check
            assert self._decompressor is not None
            try:
                data = self._decompressor.decompress(data)
            except _DecompressTooLargeError:
                self.close(1009, "message too big after decompression")
                self._abort()
                return None
            self._frame_compressed = False
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as err:
            self.close(INVALID_UTF8, f"text frame is not valid UTF-8 (byte {err.start})")
            return None
        return super()._handle_message(opcode, data)


class _FeedingStream(BaseIOStream):
    """A stream whose read stays pending: what each read of the socket brings goes to
    `feed` at once, and the stream, still reading, keeps watching its socket."""

    feed: Callable[[bytes], None]

    def _finish_read(self, size: int) -> None:
        if self._user_read_buffer:  # a read_into: not the stream protocol's read
            super()._finish_read(size)
            return
        self._read_bytes, self._read_partial = READ_AHEAD, True
        self.feed(self._consume(size))


class _FeedingIOStream(_FeedingStream, IOStream):
    pass


class _FeedingSSLIOStream(_FeedingStream, SSLIOStream):
    pass


_FEEDING: dict[type[IOStream], type[IOStream]] = {
    IOStream: _FeedingIOStream,
    SSLIOStream: _FeedingSSLIOStream,
}


def _observe(written: asyncio.Future[None]) -> None:
    """Read a write's outcome nobody awaited (the connection closed under it, at worst)."""
    if not written.cancelled():
        written.exception()


def _short(reason: str) -> str:
    """A close reason fits in 123 bytes of UTF-8 (RFC 6455), cut on a character boundary."""
    return reason.encode()[:123].decode(errors="ignore")


class ProbeWebSocket(GeminiLiveMixin, WebSocketMixin, WebSocketHandler, JupyterHandler):
    """`gemini-live/api/probe`: answers `{"type": "pong", "t": null}` and closes. The
    panel's pre-flight check opens it to learn that websockets reach the server (a proxy
    in between may pass plain HTTP but block them) before the user presses Start."""

    def set_default_headers(self) -> None:
        """Undo JupyterHandler's, which do not apply to a websocket."""

    @ws_authenticated
    async def get(self) -> None:
        await super().get()

    def open(self, *args: Any, **kwargs: Any) -> None:
        self.write_message(Pong(None).to_json())
        self.close(1000, "probe answered")

"""The stream websocket: the device (microphone and speaker) of a session, or an observer.

It is authenticated and authorized like jupyter-server's kernel websocket (the `execute`
action) and keeps tornado's origin check. Frames are validated here and handed to the
session; what the session says goes through a bounded `Outbox` drained by one writer task.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from .frames import OBSERVER_TYPES, FrameError, check_audio, parse_control
from .outbox import Close, Outbox, OutboxOverflow
from .routes import AUTH_RESOURCE, JsonErrors
from .sessions import LiveSession, Mode, SessionManager, UnknownSession

DEVICE_TAKEN = (
    "session %s already has a device (a Gemini Live panel holds its microphone); "
    "stop it there first"
)


class StreamHandler(
    JsonErrors, WebSocketMixin, WebSocketHandler, ExtensionHandlerMixin, JupyterHandler
):
    auth_resource = AUTH_RESOURCE

    mode: Mode = "device"
    wants_audio = True
    exclusive = False
    session: LiveSession | None = None

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
        manager: SessionManager = self.settings["gemini_live_sessions"]
        try:
            session = manager.get(session_id)
        except UnknownSession:
            raise web.HTTPError(404, "unknown session %s", session_id) from None
        if session.ended:
            raise web.HTTPError(409, "session is %s: %s", session.state, session.error or "")
        mode = self.get_argument("mode", "device")
        if mode not in ("device", "observe"):
            raise web.HTTPError(400, "mode: expected 'device' or 'observe'")
        self.mode = "observe" if mode == "observe" else "device"
        self.wants_audio = self.mode == "device" or self.get_argument("audio", "0") == "1"
        self.exclusive = self.mode == "device" and self.get_argument("exclusive", "0") == "1"
        if self.exclusive and session.has_device():
            raise web.HTTPError(409, "%s", DEVICE_TAKEN % session_id)
        self.session = session
        await super().get(session_id)

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open()  # WebSocketMixin's keep-alive pings
        # Events are small and come in runs; Nagle would hold each second one back until the
        # client's ACK (20-40 ms measured in benchmarks/latency.py).
        self.set_nodelay(True)
        self.outbox = Outbox()
        self._writer = asyncio.create_task(self._write_forever(), name="gemini-live-writer")
        assert self.session is not None
        if self.exclusive and self.session.has_device():  # another one came in meanwhile
            self.close(4009, "the session has a device already")
            return
        self.session.attach(self)

    def on_message(self, message: str | bytes) -> None:
        session = self.session
        if session is None or session.ended:
            return
        try:
            if isinstance(message, bytes):
                self._only_device("audio")
                session.feed_audio(check_audio(message))
                return
            control = parse_control(message)
            if control.type not in OBSERVER_TYPES:
                self._only_device(control.type)
            session.feed_control(control, self)
        except FrameError as err:
            self.send_event(
                {"type": "error", "code": err.code, "message": err.message, "fatal": False}
            )

    def _only_device(self, what: str) -> None:
        if self.mode != "device":
            raise FrameError(
                "observer_cannot_send", f"{what}: only the device connection sends this"
            )

    def on_close(self) -> None:
        if self.session is not None:
            self.session.detach(self)
        writer = getattr(self, "_writer", None)
        if writer is not None:
            writer.cancel()

    # ---- Listener ------------------------------------------------------------------

    def send_audio(self, pcm: bytes) -> bool:
        return self.outbox.put_audio(pcm)

    def send_event(self, event: dict[str, Any]) -> None:
        try:
            self.outbox.put_event(event)
        except OutboxOverflow as err:
            self.log.warning("gemini-live: dropping a client that does not read: %s", err)
            self.close(1008, "client too slow: events not read")

    def discard_audio(self) -> None:
        self.outbox.discard_audio()

    def disconnect(self, code: int, reason: str) -> None:
        """Close after what is queued has been written (a final error event, say)."""
        self.outbox.put_close(code, reason)

    async def _write_forever(self) -> None:
        with contextlib.suppress(WebSocketClosedError, asyncio.CancelledError):
            while True:
                item = await self.outbox.get()
                if isinstance(item, Close):
                    self.close(item.code, _short(item.reason))
                    return
                await self.write_message(item, binary=isinstance(item, bytes))


def _short(reason: str) -> str:
    """A close reason fits in 123 bytes of UTF-8 (RFC 6455), cut on a character boundary."""
    return reason.encode()[:123].decode(errors="ignore")

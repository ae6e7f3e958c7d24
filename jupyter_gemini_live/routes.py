"""REST handlers: each translates one HTTP request into a call on the session manager."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from .backends.base import BackendError
from .session_options import OptionError, parse_session_options
from .sessions import LiveSession, SessionManager, TooManySessions, UnknownSession

AUTH_RESOURCE = "gemini_live"
MAX_TEXT_CHARS = 20_000
SESSION = r"(?P<session_id>[^/]+)"


class JsonErrors:
    """Errors as JSON `{"message", "reason"}`, the message formatted with its arguments
    (APIHandler shows `log_message` unformatted; the websocket handler would send HTML)."""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        handler: JupyterHandler = self  # type: ignore[assignment]
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, web.HTTPError) and error.log_message:
            handler.set_header("Content-Type", "application/json")
            message = error.log_message % error.args
            handler.finish(json.dumps({"message": message, "reason": error.reason}))
            return
        super().write_error(status_code, **kwargs)  # type: ignore[misc]


class GeminiLiveHandler(JsonErrors, ExtensionHandlerMixin, APIHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def manager(self) -> SessionManager:
        manager: SessionManager = self.settings["gemini_live_sessions"]
        return manager

    def session(self, session_id: str) -> LiveSession:
        try:
            return self.manager.get(session_id)
        except UnknownSession:
            raise web.HTTPError(404, "unknown session %s", session_id) from None

    def reply(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(body))

    def json_object(self) -> dict[str, Any]:
        body = self.get_json_body() if self.request.body else {}
        if not isinstance(body, dict):
            raise web.HTTPError(400, "%s", "body: expected a JSON object")
        return body


class StatusHandler(GeminiLiveHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(self.settings["gemini_live_app"].status())


class SessionsHandler(GeminiLiveHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply([session.as_json() for session in self.manager.list()])

    @web.authenticated
    @authorized
    async def post(self) -> None:
        try:
            options = parse_session_options(self.json_object(), self.manager.defaults)
            session = await self.manager.create(options)
        except OptionError as err:
            raise web.HTTPError(400, "%s", str(err)) from None
        except TooManySessions as err:
            raise web.HTTPError(429, "%s", str(err)) from None
        except BackendError as err:
            raise web.HTTPError(err.status, "%s", err.message) from None
        self.set_header("Location", self.request.path.rstrip("/") + "/" + session.id)
        self.reply(session.as_json(), 201)


class SessionHandler(GeminiLiveHandler):
    @web.authenticated
    @authorized
    async def get(self, session_id: str) -> None:
        self.reply(self.session(session_id).as_json())

    @web.authenticated
    @authorized
    async def delete(self, session_id: str) -> None:
        try:
            await self.manager.delete(session_id)
        except UnknownSession:
            raise web.HTTPError(404, "unknown session %s", session_id) from None
        self.set_status(204)
        self.finish()


class TextHandler(GeminiLiveHandler):
    @web.authenticated
    @authorized
    async def post(self, session_id: str) -> None:
        session = self.session(session_id)
        text = self.json_object().get("text")
        if not isinstance(text, str) or not text.strip():
            raise web.HTTPError(400, "text: expected a non-empty string")
        if len(text) > MAX_TEXT_CHARS:
            raise web.HTTPError(400, "text: longer than %d characters", MAX_TEXT_CHARS)
        if session.ended:
            raise web.HTTPError(409, "session is %s: %s", session.state, session.error or "")
        turn = session.send_text(text)
        if turn is None:
            raise web.HTTPError(503, "the upstream is not keeping up; try again")
        self.reply({"turn": turn}, 202)


class TranscriptHandler(GeminiLiveHandler):
    @web.authenticated
    @authorized
    async def get(self, session_id: str) -> None:
        self.reply(self.session(session_id).transcript.entries())


class RecordingHandler(GeminiLiveHandler):
    @web.authenticated
    @authorized
    async def get(self, session_id: str) -> None:
        path = await self.session(session_id).recording()
        if path is None:
            raise web.HTTPError(404, "session %s was not created with record=true", session_id)
        self.set_header("Content-Type", "audio/wav")
        self.set_header("Content-Disposition", f'attachment; filename="{session_id}.wav"')
        with open(path, "rb") as wav:  # noqa: ASYNC230 -- reads go through a thread below
            while chunk := await asyncio.to_thread(wav.read, 256 * 1024):
                self.write(chunk)
                await self.flush()
        self.finish()


def route_table() -> list[tuple[str, type]]:
    from .stream import StreamHandler

    api = "/gemini-live/api"
    return [
        (rf"{api}/status", StatusHandler),
        (rf"{api}/sessions/?", SessionsHandler),
        (rf"{api}/sessions/{SESSION}", SessionHandler),
        (rf"{api}/sessions/{SESSION}/text", TextHandler),
        (rf"{api}/sessions/{SESSION}/transcript", TranscriptHandler),
        (rf"{api}/sessions/{SESSION}/recording\.wav", RecordingHandler),
        (rf"{api}/sessions/{SESSION}/stream", StreamHandler),
    ]

"""REST handlers: each translates one HTTP request into a call on the session manager.

The route table is in app.py; the stream websocket is websocket.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from .backends.base import BackendError
from .handler_base import GeminiLiveMixin
from .manager import TooManySessions, UnknownSession
from .protocol import FrameError, Text, TextTurn, check_text, dumps
from .session_options import OptionError, decode_body, parse_session_options
from .transcript import to_markdown


class GeminiLiveHandler(GeminiLiveMixin, ExtensionHandlerMixin, APIHandler):
    def reply(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(dumps(body))

    def json_object(self) -> dict[str, Any]:
        """The request body as a JSON object ({} when empty); 400 naming `body` otherwise."""
        try:
            body = decode_body(self.request.body)
        except OptionError as err:
            raise web.HTTPError(400, "%s", str(err)) from None
        if body is None:
            return {}
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
        self.reply(await self.manager.listing())

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
        self.session(session_id)  # 404 before the body is looked at
        try:
            text = check_text(self.json_object().get("text"), "text")
        except FrameError as err:
            raise web.HTTPError(400, "%s", err.message) from None
        turn = self.live_session(session_id).send_text(Text(text))
        if turn is None:
            raise web.HTTPError(503, "the upstream is not keeping up; try again")
        answer: TextTurn = {"turn": turn}
        self.reply(answer, 202)


class TranscriptHandler(GeminiLiveHandler):
    @web.authenticated
    @authorized
    async def get(self, session_id: str) -> None:
        entries = self.session(session_id).transcript.entries()
        form = self.get_argument("format", "json")
        if form == "json":
            self.reply(entries)
        elif form == "md":
            self.set_header("Content-Type", "text/markdown; charset=UTF-8")
            self.write(to_markdown(entries, f"Gemini Live conversation {session_id}"))
            await self.flush()  # the headers go now: APIHandler.finish would say JSON
            self.finish()
        else:
            raise web.HTTPError(400, "format: expected 'json' or 'md', got %r", form)


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

"""What every gemini-live handler shares (REST and websocket alike).

`GeminiLiveMixin` goes first in a handler's bases: the authorization resource, errors as
JSON `{"message", "reason"}`, the typed session manager, and session lookups that answer
404 (unknown) and 409 (ended) the same way on every route.
"""

from __future__ import annotations

import json
from typing import Any, cast

from jupyter_server.base.handlers import JupyterHandler
from tornado import web

from .manager import SessionManager, UnknownSession
from .session import LiveSession

#: the resource jupyter-server's authorizer is asked about (read, write, execute)
AUTH_RESOURCE = "gemini_live"
#: the settings key of the server's SessionManager (set by app.py)
MANAGER_SETTING = "gemini_live_sessions"
#: how tornado's refusal of a form body it could not parse begins
TORNADO_BODY_ERROR = "Invalid body: "


class GeminiLiveMixin:
    """Mixed into a `JupyterHandler` subclass (before it in the bases)."""

    auth_resource = AUTH_RESOURCE

    @property
    def _handler(self) -> JupyterHandler:
        return cast(JupyterHandler, self)

    @property
    def manager(self) -> SessionManager:
        manager: SessionManager = self._handler.settings[MANAGER_SETTING]
        return manager

    def session(self, session_id: str) -> LiveSession:
        """The session, ended or not; 404 when unknown."""
        try:
            return self.manager.get(session_id)
        except UnknownSession:
            raise web.HTTPError(404, "unknown session %s", session_id) from None

    def live_session(self, session_id: str) -> LiveSession:
        """The session, which must not have ended; 404 when unknown, 409 when ended."""
        session = self.session(session_id)
        if session.ended:
            raise web.HTTPError(409, "session is %s: %s", session.state, session.error or "")
        return session

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every error as JSON `{"message", "reason"}`, the message formatted with its
        arguments (APIHandler shows `log_message` unformatted; a websocket handler, and
        jupyter-server's `ws_authenticated`, would answer HTML)."""
        handler = self._handler
        error = kwargs.get("exc_info", (None, None, None))[1]
        reason = handler._reason
        if isinstance(error, web.HTTPError) and error.log_message:
            message = error.log_message % error.args if error.args else error.log_message
            reason = error.reason or reason
        elif status_code == 403 and handler.current_user is None:
            message = "not authenticated: log in, or pass a token (Authorization: token ...)"
        elif status_code >= 500:
            message = "internal error of the gemini-live extension; see the server's log"
        else:
            message = reason
        if message.startswith(TORNADO_BODY_ERROR):  # tornado parses form bodies itself
            message = "body: " + message[len(TORNADO_BODY_ERROR) :]
        handler.clear_header("Content-Type")
        handler.set_header("Content-Type", "application/json")
        handler.finish(json.dumps({"message": message, "reason": reason}))

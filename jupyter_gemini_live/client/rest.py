"""The REST half of the client: one blocking HTTP request per call, errors with the
server's own message. urllib, not asyncio: a notebook cell already runs inside ipykernel's
event loop, which must not be blocked or re-entered.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

from .discovery import ServerAddress

API = "gemini-live/api/"
TIMEOUT = 30.0


class LiveError(RuntimeError):
    """The server refused a request or a session ended; `message` is the server's words."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message if status is None else f"{message} (HTTP {status})")
        self.message = message
        self.status = status


class Rest:
    def __init__(self, server: ServerAddress, timeout: float = TIMEOUT) -> None:
        self.server = server
        self.timeout = timeout

    def url(self, *path: str) -> str:
        return self.server.url + API + "/".join(quote(p, safe="") for p in path)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.server.token}"} if self.server.token else {}

    def json(self, method: str, *path: str, body: Any = None) -> Any:
        """The decoded JSON answer (None for 204)."""
        raw = self.raw(method, *path, body=body)
        return json.loads(raw) if raw else None

    def raw(self, method: str, *path: str, body: Any = None) -> bytes:
        data = None if body is None else json.dumps(body).encode()
        headers = self.headers()
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url(*path), data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload: bytes = response.read()
                return payload
        except urllib.error.HTTPError as err:
            raise LiveError(_server_message(err), err.code) from None
        except urllib.error.URLError as err:
            raise LiveError(
                f"cannot reach the Jupyter server at {self.server.url}: {err.reason}"
            ) from None


def _server_message(err: urllib.error.HTTPError) -> str:
    if err.code == 404:
        fallback = "not found: is the jupyter_gemini_live server extension enabled?"
    else:
        fallback = str(err.reason or "request failed")
    return server_message(err.code, err.read(), fallback)


def server_message(status: int, body: bytes | None, fallback: str) -> str:
    """The server's own words (its errors are JSON `{"message"}`), else `fallback`."""
    try:
        message = json.loads(body or b"").get("message")
    except (ValueError, AttributeError):
        message = None
    if isinstance(message, str) and message:
        return message
    if status in (401, 403):
        return "the Jupyter server refused the token: pass connect(token=...)"
    return fallback

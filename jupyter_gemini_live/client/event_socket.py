"""Opening and closing the session's stream websocket (websocket-client, blocking)."""

from __future__ import annotations

import contextlib
import json
import threading
from typing import Any

import websocket

from .rest import LiveError, Rest, server_message

CONNECT_TIMEOUT = 15.0


def open_stream(rest: Rest, session_id: str, **params: str) -> tuple[websocket.WebSocket, Any]:
    """A connected socket and its first event, `ready` (the session as JSON)."""
    url = rest.url("sessions", session_id, "stream")
    url = "ws" + url[len("http") :]  # http → ws, https → wss
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    try:
        ws = websocket.create_connection(
            url,
            timeout=CONNECT_TIMEOUT,
            header=[f"{k}: {v}" for k, v in rest.headers().items()],
            # No Origin: a token-authenticated client is not a web page.
            suppress_origin=True,
            enable_multithread=True,  # tool threads send while the reader reads
        )
    except websocket.WebSocketBadStatusException as err:
        raise LiveError(_refusal(err, session_id), err.status_code) from None
    except (OSError, websocket.WebSocketException) as err:
        raise LiveError(f"cannot open the stream of session {session_id}: {err}") from None
    try:
        first = json.loads(ws.recv())
    except (OSError, ValueError, websocket.WebSocketException) as err:
        _cut(ws)
        raise LiveError(f"the stream of session {session_id} closed at once: {err}") from None
    ws.settimeout(None)  # the reader blocks; closing is done by close_stream
    if first.get("type") != "ready":
        _cut(ws)
        raise LiveError(f"expected 'ready' first, got {first!r}")
    return ws, first["session"]


def close_stream(ws: websocket.WebSocket, reader: threading.Thread | None, wait: float) -> None:
    """Close politely; the reader sees the close reply. Cut the socket if it never comes."""
    with contextlib.suppress(OSError, websocket.WebSocketException):
        ws.send_close()
    if reader is not None and reader is not threading.current_thread():
        reader.join(wait)
    _cut(ws)
    if reader is not None and reader is not threading.current_thread():
        reader.join(wait)


def close_reason(data: bytes) -> tuple[int | None, str]:
    """The code and reason of a close frame's payload."""
    if len(data) < 2:
        return None, ""
    return int.from_bytes(data[:2], "big"), data[2:].decode("utf-8", "replace")


def _refusal(err: websocket.WebSocketBadStatusException, session_id: str) -> str:
    fallback = f"the server refused the stream of session {session_id}: HTTP {err.status_code}"
    return server_message(err.status_code, err.resp_body, fallback)


def _cut(ws: websocket.WebSocket) -> None:
    ws.shutdown()  # type: ignore[no-untyped-call]  # websocket-client leaves it unannotated

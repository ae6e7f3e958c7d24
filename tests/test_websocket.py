"""The stream websocket under hostile input: a bad frame is answered, never a dropped
socket; every refusal of the upgrade is JSON; what one client can make the server hold is
bounded by bytes; invalid UTF-8 is closed with 1007 as RFC 6455 says."""

from __future__ import annotations

import asyncio
import json
import math
import os
import ssl
import struct
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest
from scripted import ScriptedBackend, ScriptedUpstream
from stream_client import Stream
from test_auth import login_cookie
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.httpserver import HTTPServer
from tornado.platform.asyncio import BaseAsyncIOLoop
from tornado.testing import bind_unused_port
from tornado.web import Application
from tornado.websocket import WebSocketHandler, WebSocketProtocol, websocket_connect
from waiting import until_true

from jupyter_gemini_live import outbox, session, transcript
from jupyter_gemini_live.protocol import INVALID_UTF8, MAX_JSON_DEPTH, MAX_TEXT_CHARS
from jupyter_gemini_live.simulator.tls import server_context, write_self_signed
from jupyter_gemini_live.websocket import stream_protocol

FRAME = b"\x00\x01" * 320  # 20 ms at 16 kHz


async def new_session(api: Any, **body: Any) -> str:
    code, created = await api("POST", "sessions", body=body)
    assert code == 201, created
    return str(created["id"])


async def still_up(stream: Stream, t: float = 7.0) -> None:
    """The connection still answers: a ping comes back as a pong."""
    await stream.send_json({"type": "ping", "t": t})
    assert await stream.until("pong", t=t)
    assert not stream.closed


# ---- bad frames ------------------------------------------------------------------------

BAD_FRAMES = {
    "nested": ("[" * 5000 + "]" * 5000, "bad_json"),
    "nested_object": ('{"type": "ping", "t": ' + "[" * 100 + "]" * 100 + "}", "bad_json"),
    "huge_int": ('{"type": "playback", "played_ms": 1' + "0" * 400 + "}", "bad_field"),
    "too_many_digits": ('{"type": "playback", "played_ms": 1' + "0" * 5000 + "}", "bad_json"),
    "overflow_float": ('{"type": "playback", "played_ms": 1e999}', "bad_json"),
    "infinity": ('{"type": "playback", "played_ms": Infinity}', "bad_json"),
    "nan": ('{"type": "ping", "t": NaN}', "bad_json"),
    "minus_infinity": ('{"type": "ping", "t": -Infinity}', "bad_json"),
    "lone_surrogate": ('{"type": "text", "text": "\\ud800"}', None),
    "not_an_object": ("[1, 2]", "bad_json"),
    "bool_played": ('{"type": "playback", "played_ms": true}', "bad_field"),
}


@pytest.mark.parametrize("name", sorted(BAD_FRAMES))
async def test_a_bad_frame_is_answered_and_the_socket_stays(
    api: Any, open_stream: Any, name: str
) -> None:
    frame, code = BAD_FRAMES[name]
    session_id = await new_session(api)
    stream = await open_stream(session_id)
    await stream.until("ready")
    await stream.ws.write_message(frame)
    if code is not None:
        error = await stream.until("error")
        assert error["code"] == code, error
        assert error["fatal"] is False
    await still_up(stream)
    status, listed = await api("GET", "sessions")
    assert status == 200
    assert all(math.isfinite(s["stats"]["played_ms"]) for s in listed)


async def test_the_server_never_writes_infinity(api: Any, open_stream: Any) -> None:
    """Once refused a non-finite `played_ms`, ready and the session list are plain JSON."""
    session_id = await new_session(api)
    stream = await open_stream(session_id)
    await stream.until("ready")
    for frame in ('{"type":"playback","played_ms":1e999}', '{"type":"playback","played_ms":1e308}'):
        await stream.ws.write_message(frame)
    await still_up(stream)
    response = await api("GET", "sessions", session_id)
    assert response[1]["stats"]["played_ms"] == 1e308
    again = await open_stream(session_id, mode="observe")
    ready = await again.ws.read_message()

    def no_constants(name: str) -> Any:
        raise AssertionError(f"{name} on the wire")

    json.loads(ready, parse_constant=no_constants)


async def test_a_deep_frame_is_refused_at_the_limit(api: Any, open_stream: Any) -> None:
    session_id = await new_session(api)
    stream = await open_stream(session_id)
    await stream.until("ready")
    ok = '{"type": "ping", "t": ' + "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1) + "}"
    await stream.ws.write_message(ok)
    assert (await stream.until("pong"))["type"] == "pong"
    deep = '{"type": "ping", "t": ' + "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH + "}"
    await stream.ws.write_message(deep)
    assert "nested deeper" in (await stream.until("error"))["message"]


async def test_invalid_utf8_is_closed_with_1007_and_a_reason(api: Any, open_stream: Any) -> None:
    session_id = await new_session(api)
    stream = await open_stream(session_id)
    await stream.until("ready")
    # a text frame whose payload is not UTF-8 (tornado's client would encode a str)
    await stream.ws.protocol._write_frame(True, 0x1, b'{"type": "\xff\xfe"}')
    while await stream.ws.read_message() is not None:
        pass
    assert stream.ws.close_code == INVALID_UTF8
    assert "UTF-8" in stream.ws.close_reason
    # the session is not hurt: the device may come back
    again = await open_stream(session_id)
    await again.until("ready")
    await still_up(again)


# ---- reading frames --------------------------------------------------------------------


def client_frame(opcode: int, payload: bytes, final: bool = True) -> bytes:
    """One frame, masked as a browser sends it (RFC 6455 5.2); `final` False: a fragment
    that more of its message follows (RFC 6455 5.4)."""
    mask = os.urandom(4)
    size = len(payload)
    first = 0x80 * final | opcode
    if size < 126:
        head = struct.pack("!BB", first, 0x80 | size)
    else:
        head = struct.pack("!BBH", first, 0x80 | 126, size)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


@pytest.mark.parametrize("piece", [1, 7, 300, None])
async def test_frames_split_or_joined_anyhow_on_the_wire_are_read_whole(
    api: Any, open_stream: Any, jp_serverapp: Any, piece: int | None
) -> None:
    """The stream handles frames as their bytes come: a frame cut anywhere, or several
    in one read, is still each frame, whole and in order."""
    session_id = await new_session(api)
    stream = await open_stream(session_id)
    await stream.until("ready")
    wire = b"".join(
        [
            client_frame(0x1, b'{"type": "ping", "t": 1}'),
            client_frame(0x2, FRAME),
            client_frame(0x1, b'{"type": "ping", "t": 2}'),
        ]
    )
    step = piece or len(wire)
    for start in range(0, len(wire), step):
        await stream.ws.protocol.stream.write(wire[start : start + step])
        await asyncio.sleep(0.002)  # each piece a read of its own
    assert (await stream.until("pong"))["t"] == 1
    assert (await stream.until("pong"))["t"] == 2
    assert not stream.of("error")
    live = jp_serverapp.web_app.settings["gemini_live_sessions"].get(session_id)
    assert live.stats.audio_in_ms == 20.0


async def test_the_socket_stays_watched_from_frame_to_frame(
    api: Any, open_stream: Any, jp_serverapp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tornado alone stops watching a socket after the first part of each frame and
    watches it again for the next: two `epoll_ctl` and their Python per microphone frame,
    11 % of the server's CPU at 50 sessions. One read pending for the life of the
    connection keeps it watched."""
    session_id = await new_session(api)
    stream = await open_stream(session_id)
    await stream.until("ready")
    live = jp_serverapp.web_app.settings["gemini_live_sessions"].get(session_id)
    (client,) = live.clients()
    server_end = client.ws_connection.stream.socket
    updates = 0
    update_handler = BaseAsyncIOLoop.update_handler

    def counted(self: BaseAsyncIOLoop, fd: Any, events: int) -> None:
        nonlocal updates
        updates += fd is server_end or fd == server_end.fileno()
        update_handler(self, fd, events)

    monkeypatch.setattr(BaseAsyncIOLoop, "update_handler", counted)
    frames = 40
    for _ in range(frames):
        await stream.send_audio(b"\x00" * len(FRAME))  # silence: no reply to write
        await asyncio.sleep(0.005)  # each frame a read of its own
    await until_true(lambda: live.stats.audio_in_ms == frames * 20.0, "every frame counted")
    assert updates < frames // 4, f"the socket's watch changed {updates} times in {frames} frames"


async def test_a_message_in_fragments_with_a_ping_between_is_read_whole(
    api: Any, open_stream: Any
) -> None:
    """RFC 6455 5.4: a message may come in fragments, and control frames may come between
    them; the ping is answered at once, the message read once whole."""
    session_id = await new_session(api)
    stream = await open_stream(session_id)
    await stream.until("ready")
    pongs: list[bytes] = []
    stream.ws.on_pong = pongs.append
    text = b'{"type": "ping", "t": 3}'
    wire = b"".join(
        [
            client_frame(0x1, text[:5], final=False),
            client_frame(0x9, b"between"),
            client_frame(0x0, text[5:12], final=False),
            client_frame(0x0, text[12:]),
        ]
    )
    await stream.ws.protocol.stream.write(wire)
    assert (await stream.until("pong"))["t"] == 3
    assert pongs == [b"between"]
    assert not stream.of("error")
    await still_up(stream)


async def test_a_frame_over_the_size_limit_is_refused_before_its_payload(
    api: Any, open_stream: Any
) -> None:
    """A header announcing 1 TiB is answered with 1009 at once: the server does not
    wait for (or keep) a payload larger than tornado's max_message_size."""
    session_id = await new_session(api)
    stream = await open_stream(session_id)
    await stream.until("ready")
    await stream.ws.protocol.stream.write(struct.pack("!BBQ", 0x82, 0x80 | 127, 1 << 40) + b"mask")
    while await asyncio.wait_for(stream.ws.read_message(), 10) is not None:
        pass
    assert stream.ws.close_code == 1009
    again = await open_stream(session_id)
    await again.until("ready")
    await still_up(again)


async def test_compressed_frames_are_read_when_the_server_offers_deflate(
    api: Any, jp_serverapp: Any, jp_ws_fetch: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `websocket_compression_options` set, frames come deflated (RSV1): text and
    audio are still read whole, and text that is not UTF-8 once inflated is closed with
    1007."""
    settings = jp_serverapp.web_app.settings
    monkeypatch.setitem(settings, "websocket_compression_options", {})
    session_id = await new_session(api)
    path = ("gemini-live", "api", "sessions", session_id, "stream")
    stream = Stream(await jp_ws_fetch(*path, compression_options={}))
    await stream.until("ready")
    assert stream.ws.protocol._compressor is not None, "deflate was not negotiated"
    await stream.send_json({"type": "ping", "t": 9})
    assert (await stream.until("pong"))["t"] == 9
    await stream.send_audio(FRAME * 2)
    live = settings["gemini_live_sessions"].get(session_id)
    await until_true(lambda: live.stats.audio_in_ms == 40.0, "the deflated audio counted")
    deflated = stream.ws.protocol._compressor.compress(b'{"type": "\xff"}')
    await stream.ws.protocol._write_frame(True, 0x1, deflated, flags=0x40)  # RSV1: deflated
    while await asyncio.wait_for(stream.ws.read_message(), 10) is not None:
        pass
    assert stream.ws.close_code == INVALID_UTF8


class _EchoOverTls(WebSocketHandler):
    """The stream's protocol under a bare handler, served over TLS as a jupyter-server
    with a certificate serves it (tornado's SSLIOStream)."""

    streams: ClassVar[list[type[Any]]] = []

    def get_websocket_protocol(self) -> WebSocketProtocol | None:
        return stream_protocol(super().get_websocket_protocol())

    def on_message(self, message: str | bytes) -> None:
        assert self.ws_connection is not None
        self.streams.append(type(self.ws_connection.stream))
        self.write_message(message, binary=isinstance(message, bytes))


async def test_frames_are_read_whole_over_tls(tmp_path: Path) -> None:
    """Over TLS each frame comes in records of its own, which the pending read takes as
    they come: every frame is answered, none waits for a next one to be read."""
    files = write_self_signed(tmp_path)
    sock, port = bind_unused_port()
    server = HTTPServer(
        Application([("/", _EchoOverTls)]), ssl_options=server_context(files.cert, files.key)
    )
    server.add_sockets([sock])
    request = HTTPRequest(
        f"wss://127.0.0.1:{port}/", ssl_options=ssl.create_default_context(cafile=files.ca)
    )
    client = await websocket_connect(request)
    try:
        sent = [bytes([n]) * (1 + 97 * n) for n in range(30)]
        for payload in sent:  # written back to back, a TLS record each, not awaited
            client.protocol.stream.write(client_frame(0x2, payload))
        received = [await asyncio.wait_for(client.read_message(), 10) for _ in sent]
        assert received == sent
        assert {stream.__name__ for stream in _EchoOverTls.streams} == {"_FeedingSSLIOStream"}
    finally:
        client.close()
        server.stop()


# ---- refusals of the upgrade are JSON ----------------------------------------------------


async def upgrade(url: str, headers: dict[str, str]) -> tuple[int, str, Any]:
    """Ask for a websocket upgrade and return the refusal: (status, content type, body)."""
    request = HTTPRequest(
        url.replace("ws://", "http://"),
        headers={
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            **headers,
        },
        request_timeout=10,
    )
    response = await AsyncHTTPClient().fetch(request, raise_error=False)
    assert response.code != 101
    kind = response.headers.get("Content-Type", "")
    return response.code, kind, json.loads(response.body) if "json" in kind else response.body


@pytest.fixture
def stream_url(jp_http_port: int, jp_base_url: str) -> Any:
    def url(session_id: str, query: str = "") -> str:
        host = f"127.0.0.1:{jp_http_port}"
        return f"ws://{host}{jp_base_url}gemini-live/api/sessions/{session_id}/stream{query}"

    return url


@pytest.mark.parametrize("token", [None, "not-the-token"])
async def test_unauthenticated_upgrade_is_refused_in_json(
    api: Any, stream_url: Any, token: str | None
) -> None:
    session_id = await new_session(api)
    headers = {} if token is None else {"Authorization": f"token {token}"}
    code, kind, body = await upgrade(stream_url(session_id), headers)
    assert code == 403
    assert kind.startswith("application/json"), (kind, body)
    assert set(body) == {"message", "reason"}
    assert "not authenticated" in body["message"]


async def test_foreign_origin_with_cookie_is_refused_in_json(
    api: Any, jp_fetch: Any, jp_serverapp: Any, jp_http_port: int, stream_url: Any
) -> None:
    session_id = await new_session(api)
    cookie = await login_cookie(jp_fetch, jp_serverapp.identity_provider.token)
    headers = {"Cookie": cookie, "Origin": "https://evil.example"}
    code, kind, body = await upgrade(stream_url(session_id), headers)
    assert code == 403
    assert kind.startswith("application/json"), (kind, body)
    assert "https://evil.example" in body["message"]
    assert set(body) == {"message", "reason"}


async def test_other_refusals_are_json(api: Any, stream_url: Any, jp_serverapp: Any) -> None:
    token = jp_serverapp.identity_provider.token
    auth = {"Authorization": f"token {token}"}
    code, kind, body = await upgrade(stream_url("no-such-session"), auth)
    assert (code, kind.split(";")[0]) == (404, "application/json")
    assert "no-such-session" in body["message"]
    session_id = await new_session(api)
    code, kind, body = await upgrade(stream_url(session_id, "?mode=watch"), auth)
    assert (code, body["message"].split(":")[0]) == (400, "mode")


async def test_observers_per_session_are_capped(
    api: Any, open_stream: Any, stream_url: Any, jp_serverapp: Any
) -> None:
    session_id = await new_session(api)
    cap = session.MAX_OBSERVERS
    observers = [await open_stream(session_id, mode="observe") for _ in range(cap)]
    for observer in observers:
        await observer.until("ready")
    auth = {"Authorization": f"token {jp_serverapp.identity_provider.token}"}
    code, kind, body = await upgrade(stream_url(session_id, "?mode=observe"), auth)
    assert (code, kind.split(";")[0]) == (429, "application/json")
    assert f"{session.MAX_OBSERVERS} observers" in body["message"]
    observers[0].ws.close()
    await observers[0].ws.read_message()
    manager = jp_serverapp.web_app.settings["gemini_live_sessions"]
    live = manager.get(session_id)
    await until_true(lambda: live.observer_count() < cap, "the closed observer left")
    (await open_stream(session_id, mode="observe")).ws.close()


# ---- input faster than real time -----------------------------------------------------------


async def test_audio_faster_than_real_time_is_dropped_and_counted(
    api: Any, open_stream: Any
) -> None:
    session_id = await new_session(api)
    stream = await open_stream(session_id)
    await stream.until("ready")
    sent_ms = 10_000
    started = time.monotonic()
    for _ in range(sent_ms // 20):  # 10 s of audio as fast as the socket takes it
        await stream.send_audio(FRAME)
    error = await stream.until("error", code="input_too_fast")
    assert "dropped_in_ms" in error["message"]
    await still_up(stream)
    elapsed_ms = (time.monotonic() - started) * 1000
    _, info = await api("GET", "sessions", session_id)
    stats = info["stats"]
    assert stats["audio_in_ms"] == sent_ms
    allowed = session.INPUT_BURST_MS + session.INPUT_PACE * elapsed_ms
    assert stats["dropped_in_ms"] >= sent_ms - allowed - 20
    assert len(stream.of("error")) == 1  # said once


# ---- typed text flood against a slow upstream ------------------------------------------------


class StuckUpstream(ScriptedUpstream):
    """An upstream that never takes typed text (a slow service)."""

    async def send_text(self, text: str) -> None:
        await asyncio.Event().wait()


class StuckBackend(ScriptedBackend):
    async def connect(self, options: Any) -> Any:
        upstream = StuckUpstream()
        self.upstreams.append(upstream)
        return upstream


async def test_a_text_flood_is_bounded_by_bytes(
    api: Any, open_stream: Any, jp_serverapp: Any
) -> None:
    manager = jp_serverapp.web_app.settings["gemini_live_sessions"]
    manager.backends["echo"] = StuckBackend()
    session_id = await new_session(api)
    live = manager.get(session_id)
    stream = await open_stream(session_id)
    await stream.until("ready")
    text = "x" * MAX_TEXT_CHARS
    for n in range(60):
        await stream.send_json({"type": "text", "text": text, "id": str(n)})
    await stream.send_json({"type": "ping", "t": 1})
    await stream.until("pong")
    accepted = stream.of("text_accepted")
    busy = [e for e in stream.of("error") if e["code"] == "busy"]
    assert len(accepted) + len(busy) == 60
    assert 0 < len(accepted) <= session.INBOX_TEXT_CHARS // MAX_TEXT_CHARS + 1
    assert {e["turn"] for e in accepted} == {1}
    cut = [e for e in stream.of("error") if e["code"] == "transcript_too_long"]
    assert len(cut) == 1
    longest = max(len(e["text"]) for e in stream.of("transcript"))
    assert longest <= transcript.MAX_ENTRY_CHARS
    assert stream.of("transcript")[-1]["text"].endswith(transcript.CUT_MARKER)
    # what the server holds for this session stays under the caps
    assert live.transcript.chars <= transcript.MAX_TOTAL_CHARS
    assert live.transcript.chars <= transcript.MAX_ENTRY_CHARS
    (device,) = live.clients()
    assert device.outbox.queued_bytes <= outbox.MAX_EVENT_BYTES + outbox.Outbox().max_audio_bytes
    code, _ = await api("DELETE", "sessions", session_id)
    assert code == 204
    while await stream.next() is not None:
        pass
    assert all(s.id != session_id for s in manager.list())
    await until_true(lambda: device.outbox.queued_bytes == 0, "the closed client's queue freed")

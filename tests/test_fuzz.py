"""Fuzzing (hypothesis) of the stream's frames and of every REST route's body and headers.

Whatever comes in: no unhandled exception in the server's log, every bad input answered
(an `error` event, a 1007 close for text that is not UTF-8, a 4xx JSON naming what was
wrong), and another session keeps its ping/pong round trip. Examples are drawn by
hypothesis up front, then played against one server, so the runtime stays bounded.
"""

from __future__ import annotations

import json
import logging
from typing import Any, TypeVar
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stream_client import Stream

from jupyter_gemini_live.protocol import INVALID_UTF8, JSON_COMMANDS

T = TypeVar("T")

#: where a 20 ms, 64 KiB or odd-length frame sits, and around it
AWKWARD_SIZES = [0, 1, 2, 3, 639, 640, 641, 1279, 1280, 65535, 65536, 65537, 100_000]


def draw(strategy: st.SearchStrategy[T], count: int) -> list[T]:
    """`count` examples of `strategy` (hypothesis's generation, without its runner)."""
    examples: list[T] = []

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(example: T) -> None:
        examples.append(example)

    collect()
    return examples


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**320)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=50)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
commands = st.builds(
    lambda kind, fields: json.dumps({"type": kind, **fields}),
    st.sampled_from([*JSON_COMMANDS, "", "nope", "audio"]) | st.text(max_size=5),
    st.dictionaries(
        st.sampled_from(["text", "id", "played_ms", "t", "name", "response", "mime_type", "data"]),
        json_values,
        max_size=4,
    ),
)
deep = st.builds(
    lambda n, opener: opener * n, st.integers(1, 20_000), st.sampled_from(["[", '{"a":'])
)
text_frames = (
    commands
    | json_values.map(json.dumps)
    | deep
    | st.text(max_size=200)
    | st.sampled_from(["NaN", "Infinity", "-Infinity", '{"type":"ping","t":1e999}', "", " "])
)
binary_frames = st.sampled_from(AWKWARD_SIZES).map(
    lambda n: bytes(range(256)) * (n // 256) + bytes(n % 256)
) | st.binary(max_size=2000)
invalid_utf8 = st.binary(min_size=1, max_size=100).filter(lambda b: not _is_utf8(b))


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@pytest.fixture
def server_errors(caplog: pytest.LogCaptureFixture) -> Any:
    """Records of the server's log at ERROR or with a traceback (tornado, asyncio, the app)."""
    caplog.set_level(logging.WARNING)

    def errors() -> list[str]:
        return [
            f"{r.name}: {r.getMessage()}"
            for r in caplog.records
            if r.levelno >= logging.ERROR or r.exc_info
        ]

    return errors


async def still_up(stream: Stream, t: float) -> None:
    await stream.send_json({"type": "ping", "t": t})
    await stream.until("pong", t=t)


async def new_session(api: Any) -> str:
    code, created = await api("POST", "sessions")
    assert code == 201, created
    return str(created["id"])


async def test_fuzzed_frames(api: Any, open_stream: Any, server_errors: Any) -> None:
    canary = await open_stream(await new_session(api))
    await canary.until("ready")
    session_id = await new_session(api)
    target = await open_stream(session_id)
    await target.until("ready")
    frames: list[str | bytes] = [*draw(text_frames, 200), *draw(binary_frames, 80)]
    for n, frame in enumerate(frames):
        await target.ws.write_message(frame, binary=isinstance(frame, bytes))
        if n % 25 == 0:
            await still_up(target, n)  # everything before it was answered, in order
            await still_up(canary, n)
    await still_up(target, -1)
    errors = target.of("error")
    assert all(e["fatal"] is False for e in errors)
    assert {e["code"] for e in errors} <= {
        "bad_json",
        "bad_field",
        "unknown_type",
        "odd_length",
        "frame_too_large",
        "busy",
        "unknown_tool_call",
        "input_too_fast",
        "transcript_too_long",
        "device_cannot_send",  # a command of the relay source (`clear`) from a device
    }, errors
    code, info = await api("GET", "sessions", session_id)
    assert code == 200
    assert info["state"] == "live"
    assert server_errors() == []


async def test_fuzzed_invalid_utf8_is_closed_with_1007(
    api: Any, open_stream: Any, server_errors: Any
) -> None:
    canary = await open_stream(await new_session(api))
    await canary.until("ready")
    session_id = await new_session(api)
    for n, payload in enumerate(draw(invalid_utf8, 8)):
        stream = await open_stream(session_id)
        await stream.until("ready")
        await stream.ws.protocol._write_frame(True, 0x1, payload)
        while await stream.next() is not None:
            pass
        assert stream.ws.close_code == INVALID_UTF8, payload
        await still_up(canary, n)
    assert server_errors() == []


CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=latin-1",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/octet-stream",
        "",
        "\u00e9t\u00e9/json",
    ]
)
BODIES = (
    st.binary(max_size=300)
    | json_values.map(lambda v: json.dumps(v).encode())
    | commands.map(str.encode)
    | deep.map(str.encode)
    | st.sampled_from([b"", b"{}", b"null", b'{"text": 1e999}', b"\xff\xfe", b"{" * 100_000])
    | st.integers(1_000_000, 1_100_000).map(lambda n: b" " * n + b"{}")
    | st.dictionaries(
        st.sampled_from(["backend", "model", "voice", "vad", "tools", "record", "text"]),
        json_values,
        max_size=3,
    ).map(lambda v: json.dumps(v).encode())
)
ROUTES = [
    ("GET", "status"),
    ("GET", "sessions"),
    ("POST", "sessions"),
    ("GET", "sessions/{id}"),
    ("POST", "sessions/{id}/text"),
    ("GET", "sessions/{id}/transcript"),
    ("DELETE", "sessions/{other}"),
    ("GET", "sessions/{other}/recording.wav"),
    ("POST", "sessions/{other}/text"),
]
KNOWN_FIELDS = {
    "body",
    "text",
    "backend",
    "model",
    "voice",
    "vad",
    "tools",
    "record",
    "system_instruction",
    "language",
    "transcription",
    "activity_detection",
}


def _keys(body: bytes) -> set[str]:
    """The top-level keys of a JSON object body (an unknown one is named by its key)."""
    try:
        value = json.loads(body)
    except ValueError:
        return set()
    return set(value) if isinstance(value, dict) else set()


requests = st.tuples(
    st.sampled_from(ROUTES), BODIES, CONTENT_TYPES, st.text(min_size=1, max_size=40)
)


async def test_fuzzed_rest(
    api: Any, open_stream: Any, jp_serverapp: Any, server_errors: Any
) -> None:
    canary_id = await new_session(api)
    canary = await open_stream(canary_id)
    await canary.until("ready")
    manager = jp_serverapp.web_app.settings["gemini_live_sessions"]
    target = await new_session(api)
    for n, ((method, path), body, kind, other) in enumerate(draw(requests, 100)):
        route = path.format(id=target, other=quote(other, safe=""))
        headers = {"Content-Type": kind} if kind else {}
        code, answer = await api(
            method,
            *route.split("/"),
            body=body if method != "GET" else None,
            headers=headers,
            allow_nonstandard_methods=True,
        )
        assert code < 500, (method, route, body[:200], code, answer)
        if code >= 400:
            assert isinstance(answer, dict), (method, route, code, answer)
            assert answer["message"], answer
            if code == 400:  # names the field (or the body) first
                field = answer["message"].split(": ")[0].split("[")[0].split(".")[0]
                assert field in KNOWN_FIELDS or field in _keys(body), answer
        for created in manager.list():  # keep the slots free for the rest
            if created.id not in (canary_id, target):
                await manager.delete(created.id)
        if n % 25 == 0:
            await still_up(canary, n)
    await still_up(canary, -1)
    assert server_errors() == []

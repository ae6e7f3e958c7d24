"""The REST contract: every route, with and without a token, bad bodies, unknown ids."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

ROUTES = [
    ("GET", ("status",)),
    ("GET", ("sessions",)),
    ("POST", ("sessions",)),
    ("GET", ("sessions", "ID")),
    ("DELETE", ("sessions", "ID")),
    ("POST", ("sessions", "ID", "text")),
    ("GET", ("sessions", "ID", "transcript")),
    ("GET", ("sessions", "ID", "recording.wav")),
]


async def test_status_says_echo_is_the_default_without_a_key(api: Any) -> None:
    code, status = await api("GET", "status")
    assert code == 200
    assert status["default_backend"] == "echo"
    assert status["backends"]["echo"] == {"available": True, "reason": None}
    gemini = status["backends"]["gemini"]
    assert gemini["available"] is False
    assert "key" in gemini["reason"].lower()
    assert status["audio"] == {
        "input_rate": 16000,
        "frame_ms": 40,
        "output_rate": 24000,
        "format": "s16le",
        "channels": 1,
    }
    assert status["default_voice"] in status["voices"]
    assert status["default_model"] in status["models"]


@pytest.mark.parametrize("gemini_live_config", [{"api_key": "sk-very-secret-value"}])
async def test_status_never_contains_the_key(api: Any, gemini_live_config: Any) -> None:
    code, status = await api("GET", "status")
    assert code == 200
    assert status["default_backend"] == "gemini"
    assert "sk-very-secret-value" not in json.dumps(status)


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_refuses_requests_without_a_token(
    jp_fetch: Any, method: str, path: tuple[str, ...]
) -> None:
    parts = [str(uuid.uuid4()) if p == "ID" else p for p in path]
    body = "{}" if method == "POST" else None
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch(
            "gemini-live", "api", *parts, method=method, body=body, headers={"Authorization": ""}
        )
    assert err.value.code in (401, 403)


async def test_session_life_cycle(api: Any) -> None:
    code, session = await api("POST", "sessions", body={})
    assert code == 201
    assert session["backend"] == "echo"
    assert session["state"] == "live"
    assert uuid.UUID(session["id"]).version == 4
    assert set(session["stats"]) >= {
        "audio_in_ms", "audio_out_ms", "played_ms", "turns", "interruptions", "reconnects",
        "dropped_in_ms",
    }  # fmt: skip

    code, listed = await api("GET", "sessions")
    assert [s["id"] for s in listed] == [session["id"]]
    code, fetched = await api("GET", "sessions", session["id"])
    assert code == 200
    assert fetched["id"] == session["id"]

    code, _ = await api("DELETE", "sessions", session["id"])
    assert code == 204
    code, error = await api("GET", "sessions", session["id"])
    assert code == 404
    assert session["id"] in error["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"backend": "nonesuch"}, "backend"),
        ({"voice": "Robot"}, "voice"),
        ({"model": 42}, "model"),
        ({"model": "x" * 500}, "model"),
        ({"transcription": "yes"}, "transcription"),
        ({"activity_detection": "sometimes"}, "activity_detection"),
        ({"system_instruction": "x" * 30_000}, "system_instruction"),
        ({"vad": {"silence_ms": 5}}, "vad.silence_ms"),
        ({"vad": {"loudness": 1}}, "vad.loudness"),
        ({"tools": [{"name": "not a name"}]}, "tools[0].name"),
        ({"tools": "get_weather"}, "tools"),
        ({"colour": "blue"}, "colour"),
        (["not", "an", "object"], "body"),
    ],
)
async def test_bad_session_bodies_name_the_field(api: Any, body: Any, field: str) -> None:
    code, error = await api("POST", "sessions", body=body)
    assert code == 400
    assert error["message"].startswith(field)


async def test_bad_json_body_is_a_400(api: Any) -> None:
    code, error = await api("POST", "sessions", body="{not json")
    assert code == 400
    assert "json" in error["message"].lower()


async def test_gemini_without_a_key_is_503_with_the_reason(api: Any) -> None:
    code, error = await api("POST", "sessions", body={"backend": "gemini"})
    assert code == 503
    assert "key" in error["message"].lower()


@pytest.mark.parametrize("gemini_live_config", [{"max_sessions": 2}])
async def test_too_many_sessions_is_429(api: Any, gemini_live_config: Any) -> None:
    for _ in range(2):
        assert (await api("POST", "sessions"))[0] == 201
    code, error = await api("POST", "sessions")
    assert code == 429
    assert "max_sessions" in error["message"]


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", ()), ("DELETE", ()), ("POST", ("text",)), ("GET", ("transcript",))],
)
async def test_unknown_session_is_404(api: Any, method: str, suffix: tuple[str, ...]) -> None:
    body = {"text": "hello"} if method == "POST" else None
    code, error = await api(method, "sessions", str(uuid.uuid4()), *suffix, body=body)
    assert code == 404
    assert "unknown session" in error["message"]


async def test_text_turn_lands_in_the_transcript(api: Any) -> None:
    _, session = await api("POST", "sessions")
    code, accepted = await api("POST", "sessions", session["id"], "text", body={"text": "hi"})
    assert code == 202
    assert accepted == {"turn": 1}
    _, transcript = await api("GET", "sessions", session["id"], "transcript")
    assert transcript[0]["role"] == "user"
    assert transcript[0]["text"] == "hi"
    assert transcript[0]["turn"] == 1


async def test_transcript_as_markdown(api: Any) -> None:
    _, session = await api("POST", "sessions")
    sid = session["id"]
    await api("POST", "sessions", sid, "text", body={"text": "Will it rain in Paris?"})
    code, body = await api("GET", "sessions", sid, "transcript", params={"format": "md"})
    assert code == 200
    text = body.decode()
    assert text.startswith(f"# Gemini Live conversation {sid}\n")
    assert "## Turn 1\n\n**You:** Will it rain in Paris?\n" in text
    code, body = await api("GET", "sessions", sid, "transcript", params={"format": "json"})
    assert body[0]["text"] == "Will it rain in Paris?"
    code, error = await api("GET", "sessions", sid, "transcript", params={"format": "pdf"})
    assert code == 400
    assert error["message"].startswith("format")


async def test_the_probe_websocket_answers_pong_and_closes(jp_ws_fetch: Any) -> None:
    ws = await jp_ws_fetch("gemini-live", "api", "probe")
    assert json.loads(await ws.read_message()) == {"type": "pong", "t": None}
    assert await ws.read_message() is None


@pytest.mark.parametrize("body", [{}, {"text": ""}, {"text": 3}, {"text": "x" * 30_000}])
async def test_bad_text_bodies_are_400(api: Any, body: Any) -> None:
    _, session = await api("POST", "sessions")
    code, error = await api("POST", "sessions", session["id"], "text", body=body)
    assert code == 400
    assert error["message"].startswith("text")


async def test_recording_is_404_unless_requested(api: Any) -> None:
    _, session = await api("POST", "sessions")
    code, error = await api("GET", "sessions", session["id"], "recording.wav")
    assert code == 404
    assert "record=true" in error["message"]


@pytest.mark.parametrize("raw", [b"\xff\xfe{}", b"[" * 5000 + b"]" * 5000, b'{"text": NaN}'])
async def test_a_bad_body_is_a_400_about_the_body_on_every_post(api: Any, raw: bytes) -> None:
    """Regression: a body that is not UTF-8 (or too deep for json) answered 500."""
    code, body = await api("POST", "sessions", body=raw)
    assert code == 400
    assert body["message"].startswith("body:")
    code, session = await api("POST", "sessions", body={})
    assert code == 201
    code, body = await api("POST", "sessions", session["id"], "text", body=raw)
    assert code == 400
    assert body["message"].startswith("body:")

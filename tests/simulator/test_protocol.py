"""Reading the Live wire format the way clients really write it."""

from __future__ import annotations

import base64

import pytest

from jupyter_gemini_live.simulator import protocol as wire

# every byte value, so the alphabets differ; a length that needs padding
PCM = bytes(range(256)) * 3 + b"x"


@pytest.mark.parametrize(
    "encode",
    [
        base64.b64encode,
        base64.urlsafe_b64encode,
        lambda b: base64.urlsafe_b64encode(b).rstrip(b"="),
    ],
    ids=["standard", "url-safe", "unpadded"],
)
def test_bytes_in_either_alphabet(encode):
    assert wire.decode_bytes(encode(PCM).decode()) == PCM


def test_bad_base64_is_a_protocol_error():
    with pytest.raises(wire.ProtocolError):
        wire.decode_bytes("not*base64")
    with pytest.raises(wire.ProtocolError):
        wire.decode_bytes(b"bytes are not JSON")


def test_fields_in_either_casing():
    assert wire.field({"mimeType": "a"}, "mime_type") == "a"
    assert wire.field({"mime_type": "b"}, "mime_type") == "b"
    assert wire.field({"other": 1}, "mime_type", "none") == "none"
    assert wire.field("not a mapping", "x") is None


def test_message_kind():
    assert wire.message_kind({"realtimeInput": {}}) == "realtime_input"
    assert wire.message_kind({"tool_response": {}}) == "tool_response"
    with pytest.raises(wire.ProtocolError):
        wire.message_kind({"realtimeInput": {}, "clientContent": {}})


def test_user_texts_of_turns():
    turns = [
        {"role": "user", "parts": [{"text": "a"}, {"inlineData": {}}]},
        {"role": "model", "parts": [{"text": "not the user"}]},
        {"parts": [{"text": "b"}]},
    ]
    assert wire.texts_of_turns(turns) == ["a", "b"]
    assert wire.texts_of_turns({"role": "user", "parts": [{"text": "c"}]}) == ["c"]


def test_api_path():
    path = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
    assert wire.API_PATH.match(path)["version"] == "v1beta"
    assert wire.API_PATH.match("/ws/other") is None


def test_fields_under_either_casing_and_keys_of_any_length():
    assert wire.field({"mimeType": "audio/pcm"}, "mime_type") == "audio/pcm"
    assert wire.field({"mime_type": "audio/pcm"}, "mime_type") == "audio/pcm"
    wire._cached_snake.cache_clear()
    long_key = "A" + "b" * 10_000  # a client's key: read, but not kept by the name cache
    assert wire.field({long_key: 1}, "mime_type", "absent") == "absent"
    assert wire.snake(long_key) == "a" + "b" * 10_000
    assert wire._cached_snake.cache_info().currsize == 0
    assert wire.snake("turnComplete") == "turn_complete"
    assert wire._cached_snake.cache_info().currsize == 1

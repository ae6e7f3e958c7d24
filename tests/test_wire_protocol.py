"""The wire protocol module: frames → commands, events → JSON, and the generated schema."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import jsonschema
import pytest

from jupyter_gemini_live import protocol
from jupyter_gemini_live.protocol import (
    MAX_TEXT_ID_CHARS,
    MAX_TOOL_IMAGE_BYTES,
    MAX_TOOL_IMAGES,
    AudioFrame,
    Clear,
    DeviceStatus,
    FrameError,
    Ping,
    SourceAudio,
    Text,
    ToolImage,
    ToolResponse,
    parse_frame,
)
from jupyter_gemini_live.usage import Tokens, Usage

SCHEMA_FILE = Path(__file__).parents[1] / "labextension/src/__tests__/protocol-schema.json"


def test_the_checked_in_schema_is_what_the_module_prints() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "jupyter_gemini_live.protocol"],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[1],
    ).stdout
    assert printed == protocol.schema_text()
    assert SCHEMA_FILE.read_text() == printed, (
        "labextension/src/__tests__/protocol-schema.json is stale: run "
        "`python -m jupyter_gemini_live.protocol > labextension/src/__tests__/protocol-schema.json`"
    )


def test_the_schema_is_draft_07_and_strict() -> None:
    schema = protocol.schema()
    jsonschema.Draft7Validator.check_schema(schema)
    definitions = schema["definitions"]
    assert set(definitions) >= {event.type for event in protocol.SERVER_EVENTS}
    assert set(definitions) >= {"Session", "SessionStats", "TranscriptEntry", "text_accepted"}
    for name, definition in definitions.items():
        assert definition["additionalProperties"] is False, name
        assert definition["required"] == list(definition["properties"]), name


USAGE = cast(protocol.UsageTotals, Usage(Tokens(prompt_audio=5, total=5), 0.0001).to_json())


def sample_events() -> list[protocol.ServerEvent]:
    stats: protocol.SessionStats = {
        "audio_in_ms": 1.5, "audio_out_ms": 0.0, "played_ms": 0.0, "turns": 1,
        "interruptions": 0, "reconnects": 0, "dropped_in_ms": 0.0, "dropped_out_ms": 0.0,
        "uplink_ms": {"count": 1, "p50": 0.4, "p99": 0.4, "max": 0.4},
        "downlink_ms": {"count": 0, "p50": None, "p99": None, "max": None}, "usage": USAGE,
    }  # fmt: skip
    session: protocol.Session = {
        "id": "x", "backend": "echo", "model": "m", "voice": "Puck",
        "activity_detection": "auto", "transcription": True, "record": False, "notebook": False,
        "state": "live", "created": "2025-01-01T00:00:00+00:00", "clients": 1,
        "device_connected": True, "turn": 2, "error": None, "stats": stats,
    }  # fmt: skip
    return [
        protocol.Ready(session, "device"),
        protocol.State("reconnecting"),
        protocol.Transcript("user", "hello", 1, False, False),
        protocol.TextAccepted("t-1", 1),
        protocol.TextAccepted(None, 2),
        protocol.Interrupted(1),
        protocol.TurnComplete(1),
        protocol.ToolCall("c1", "get_time", {"zone": "UTC"}, 1),
        protocol.ToolCallCancelled(("c1",), 1),
        protocol.Usage({"total_token_count": 12}, 1, USAGE["tokens"], USAGE, USAGE),
        protocol.Error("busy", "try again"),
        protocol.Pong(12.5),
        protocol.Pong(None),
        protocol.Ready(session, "source"),
        protocol.Device("connected"),
        protocol.Device("failed", "Permission denied: allow the microphone"),
        protocol.PlaybackProgress(1234.5),
    ]


@pytest.mark.parametrize("event", sample_events(), ids=lambda e: type(e).__name__)
def test_every_event_is_valid_json_of_its_schema(event: protocol.ServerEvent) -> None:
    body = json.loads(json.dumps(event.to_json()))
    assert body["type"] == event.type
    jsonschema.validate(body, protocol.schema())


def test_an_event_with_a_field_too_many_or_missing_is_refused() -> None:
    schema = protocol.schema()
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"type": "turn_complete", "turn": 1, "extra": 1}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"type": "interrupted"}, schema)


def test_frames_become_typed_commands() -> None:
    assert parse_frame(b"\x00\x01") == AudioFrame(b"\x00\x01")
    assert parse_frame('{"type": "text", "text": "hi", "id": "a1"}') == Text("hi", "a1")
    assert parse_frame('{"type": "text", "text": "hi"}') == Text("hi", None)
    assert parse_frame('{"type": "ping"}') == Ping(None)
    response = parse_frame('{"type": "tool_response", "id": "c", "name": "f", "response": {}}')
    assert response == ToolResponse("c", "f", {})
    assert response.scheduling is None
    silent = parse_frame(
        '{"type": "tool_response", "id": "c", "name": "f", "response": {}, "scheduling": "SILENT"}'
    )
    assert silent == ToolResponse("c", "f", {}, "SILENT")


def test_a_tool_response_carries_its_images() -> None:
    png = base64.b64encode(b"\x89PNG data").decode()
    frame = {"type": "tool_response", "id": "c", "name": "run_cell", "response": {}}
    parsed = parse_frame(json.dumps({**frame, "images": [{"mime_type": "image/png", "data": png}]}))
    assert isinstance(parsed, ToolResponse)
    assert parsed.images == (ToolImage("image/png", b"\x89PNG data"),)
    assert parse_frame(json.dumps(frame)).images == ()  # type: ignore[attr-defined]


PNG = {"mime_type": "image/png", "data": base64.b64encode(b"x").decode()}
BAD_IMAGES: list[Any] = [
    {"mime_type": "image/png"},
    [PNG, PNG, PNG],
    [{"mime_type": "image/gif", "data": PNG["data"]}],
    [{"mime_type": "image/png", "data": "not base64!"}],
    [{"mime_type": "image/png", "data": ""}],
    [{"mime_type": "image/png", "data": 7}],
    [{**PNG, "extra": 1}],
    ["x"],
    [
        {
            "mime_type": "image/png",
            "data": base64.b64encode(b"x" * (MAX_TOOL_IMAGE_BYTES + 1)).decode(),
        }
    ],
]


@pytest.mark.parametrize("images", BAD_IMAGES, ids=lambda v: repr(v)[:40])
def test_bad_tool_response_images_are_a_bad_field_naming_them(images: Any) -> None:
    frame = {"type": "tool_response", "id": "c", "name": "f", "response": {}, "images": images}
    with pytest.raises(FrameError) as err:
        parse_frame(json.dumps(frame))
    assert err.value.code == "bad_field"
    assert "tool_response.images" in err.value.message


def test_a_tool_image_of_exactly_the_limit_is_taken() -> None:
    data = base64.b64encode(b"x" * MAX_TOOL_IMAGE_BYTES).decode()
    frame = {"type": "tool_response", "id": "c", "name": "f", "response": {}}
    parsed = parse_frame(
        json.dumps(
            {**frame, "images": [{"mime_type": "image/webp", "data": data}] * MAX_TOOL_IMAGES}
        )
    )
    assert len(parsed.images) == MAX_TOOL_IMAGES  # type: ignore[attr-defined]


@pytest.mark.parametrize("scheduling", ["silent", "LATER", 1, ["SILENT"]], ids=repr)
def test_a_bad_scheduling_is_a_bad_field(scheduling: Any) -> None:
    frame = {"type": "tool_response", "id": "c", "name": "f", "response": {}}
    with pytest.raises(FrameError) as err:
        parse_frame(json.dumps({**frame, "scheduling": scheduling}))
    assert err.value.code == "bad_field"
    assert "INTERRUPT, WHEN_IDLE, SILENT" in err.value.message


@pytest.mark.parametrize("text_id", ["", "x" * (MAX_TEXT_ID_CHARS + 1), 5, True, ["a"]], ids=repr)
def test_a_bad_text_id_is_a_bad_field(text_id: Any) -> None:
    with pytest.raises(FrameError) as err:
        parse_frame(json.dumps({"type": "text", "text": "hi", "id": text_id}))
    assert err.value.code == "bad_field"
    assert err.value.message.startswith("text.id:")


def test_who_may_send_what_is_a_property_of_the_command() -> None:
    def may(mode: protocol.Mode) -> set[str]:
        return {cls.type for cls in protocol.JSON_COMMANDS.values() if mode in cls.senders}

    assert may("observe") == {"text", "tool_response", "ping"}
    assert may("source") == {"clear", "ping"}
    assert "device_status" in may("device")
    assert "clear" not in may("device")
    assert AudioFrame.senders == {"device"}
    assert SourceAudio.senders == {"source"}


def test_relay_frames() -> None:
    """A source's binary frames are audio for the device; a device's are the microphone."""
    assert parse_frame(b"\x00\x01", "source") == SourceAudio(b"\x00\x01")
    assert parse_frame('{"type": "clear"}', "source") == Clear()
    status = '{"type": "device_status", "status": "failed", "reason": "denied"}'
    assert parse_frame(status) == DeviceStatus("failed", "denied")
    assert parse_frame('{"type": "device_status", "status": "started"}') == DeviceStatus(
        "started", None
    )
    with pytest.raises(FrameError) as err:
        parse_frame('{"type": "device_status", "status": "on"}')
    assert err.value.code == "bad_field"
    with pytest.raises(FrameError) as err:
        parse_frame(b"\x00", "source")
    assert err.value.code == "odd_length"


@pytest.mark.parametrize(
    ("frame", "mode", "code"),
    [
        ('{"type": "clear"}', "device", "device_cannot_send"),
        ('{"type": "clear"}', "observe", "observer_cannot_send"),
        ('{"type": "device_status", "status": "started"}', "source", "source_cannot_send"),
        ('{"type": "text", "text": "hi"}', "source", "source_cannot_send"),
        (b"\x00\x00", "observe", "observer_cannot_send"),
    ],
)
def test_a_command_from_the_wrong_mode_is_refused(
    frame: str | bytes, mode: protocol.Mode, code: str
) -> None:
    with pytest.raises(FrameError) as err:
        parse_frame(frame, mode)
    assert err.value.code == code


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ('{"type": "ping", "t": NaN}', "NaN is not a JSON number"),
        ('{"type": "ping", "t": Infinity}', "Infinity is not a JSON number"),
        ('{"type": "playback", "played_ms": 1e999}', "out of range"),
        ("[" * 100_000 + "]" * 100_000, "nested deeper"),
        ('{"type": "ping", "t": ' + "{" * 40 + "}" * 40 + "}", "not valid JSON"),
        ('{"type": "ping", "t": ' + "9" * 5000 + "}", "not valid JSON"),
        (b'{"type": "ping", "t": "\xff"}', "not valid JSON"),
    ],
)
def test_json_frames_are_finite_and_shallow(frame: str | bytes, expected: str) -> None:
    if isinstance(frame, bytes):
        with pytest.raises(protocol.FrameError, match=expected) as caught:
            protocol.loads(frame)
    else:
        with pytest.raises(protocol.FrameError, match=expected) as caught:
            parse_frame(frame)
    assert caught.value.code == "bad_json"


@pytest.mark.parametrize("played", ["1" + "0" * 400, "-1", "true", '"5"'])
def test_played_ms_is_a_finite_number(played: str) -> None:
    with pytest.raises(protocol.FrameError, match=r"playback\.played_ms") as caught:
        parse_frame('{"type": "playback", "played_ms": ' + played + "}")
    assert caught.value.code == "bad_field"


def test_the_server_writes_no_nan() -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        protocol.dumps({"t": float("inf")})
    assert protocol.dumps({"t": 1.5}) == '{"t": 1.5}'

"""Parsing and validation of what a client sends on the stream websocket.

Every bad frame becomes a `FrameError` whose `code` the client gets in an `error` event;
the connection and the session stay up.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_AUDIO_FRAME = 64 * 1024
MAX_TEXT_CHARS = 20_000
MAX_IMAGE_BYTES = 4 * 1024 * 1024
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
#: what an observer (e.g. the kernel) may send; the rest belongs to the device
OBSERVER_TYPES = frozenset({"text", "tool_response", "ping"})


class FrameError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Control:
    """A validated JSON frame; `fields` holds only the fields of its type, typed."""

    type: str
    fields: Mapping[str, Any]


def check_audio(frame: bytes) -> bytes:
    if len(frame) > MAX_AUDIO_FRAME:
        raise FrameError(
            "frame_too_large",
            f"audio frame of {len(frame)} bytes; send at most {MAX_AUDIO_FRAME} bytes "
            "(20 ms frames of 640 bytes are best)",
        )
    if len(frame) % 2:
        raise FrameError(
            "odd_length",
            f"audio frame of {len(frame)} bytes is not whole 16-bit samples (PCM s16le mono)",
        )
    return frame


def parse_control(text: str) -> Control:
    try:
        message = json.loads(text)
    except ValueError as err:
        raise FrameError("bad_json", f"not valid JSON: {err}") from None
    if not isinstance(message, dict):
        raise FrameError("bad_json", "expected a JSON object with a 'type'")
    kind = message.get("type")
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        known = ", ".join(sorted(_PARSERS))
        raise FrameError("unknown_type", f"unknown message type {kind!r}; known: {known}")
    return Control(str(kind), parser(message))


def _field(message: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = message.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        label = " or ".join(k.__name__ for k in _as_tuple(kind))
        raise FrameError("bad_field", f"{message['type']}.{name}: expected {label}")
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _text(message: Mapping[str, Any]) -> dict[str, Any]:
    text = _field(message, "text", str)
    if not text.strip():
        raise FrameError("bad_field", "text.text: empty")
    if len(text) > MAX_TEXT_CHARS:
        raise FrameError("bad_field", f"text.text: longer than {MAX_TEXT_CHARS} characters")
    return {"text": text}


def _empty(message: Mapping[str, Any]) -> dict[str, Any]:
    return {}


def _tool_response(message: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": _field(message, "id", str),
        "name": _field(message, "name", str),
        "response": _field(message, "response", dict),
    }


def _image(message: Mapping[str, Any]) -> dict[str, Any]:
    mime = _field(message, "mime_type", str)
    if mime not in IMAGE_TYPES:
        raise FrameError("bad_field", f"image.mime_type: expected one of {sorted(IMAGE_TYPES)}")
    encoded = _field(message, "data", str)
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise FrameError("bad_field", "image.data: not valid base64") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise FrameError("frame_too_large", f"image larger than {MAX_IMAGE_BYTES} bytes")
    return {"mime_type": mime, "data": data}


def _playback(message: Mapping[str, Any]) -> dict[str, Any]:
    played = _field(message, "played_ms", (int, float))
    if played < 0:
        raise FrameError("bad_field", "playback.played_ms: must not be negative")
    return {"played_ms": float(played)}


def _ping(message: Mapping[str, Any]) -> dict[str, Any]:
    return {"t": message.get("t")}


_PARSERS = {
    "text": _text,
    "activity_start": _empty,
    "activity_end": _empty,
    "audio_stream_end": _empty,
    "tool_response": _tool_response,
    "image": _image,
    "playback": _playback,
    "ping": _ping,
}

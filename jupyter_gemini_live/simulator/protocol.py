"""The Live API wire format, as the simulator reads and writes it.

Clients (the SDK above all) mix snake_case and camelCase keys, and send bytes in either
base64 alphabet, so everything read goes through `field()` and `decode_bytes()`. What the
simulator writes is camelCase JSON that `google.genai.types.LiveServerMessage` parses.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..protocol import OUTPUT_RATE

API_PATH = re.compile(
    r"^/ws/google\.ai\.generativelanguage\.(?P<version>[A-Za-z0-9]+)\."
    r"GenerativeService\.BidiGenerateContent(?:Constrained)?$"
)
OUTPUT_MIME = f"audio/pcm;rate={OUTPUT_RATE}"

Message = dict[str, Any]


class ProtocolError(ValueError):
    """A client message the simulator cannot make sense of (closes with 1007)."""


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def field(obj: Any, name: str, default: Any = None) -> Any:
    """`obj[name]` under either casing; `name` is given in snake_case."""
    if not isinstance(obj, Mapping):
        return default
    if name in obj:
        return obj[name]
    for key, value in obj.items():
        if snake(str(key)) == name:
            return value
    return default


def decode_bytes(data: Any) -> bytes:
    """Base64 in the standard or the URL-safe alphabet, padded or not."""
    if not isinstance(data, str):
        raise ProtocolError("binary data must be a base64 string")
    text = data.replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ProtocolError(f"bad base64 data: {error}") from None


def encode_bytes(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def message_kind(message: Mapping[str, Any]) -> str:
    """Which top-level client message this is, in snake_case."""
    kinds = [snake(str(key)) for key in message]
    if len(kinds) != 1:
        raise ProtocolError(f"a client message has exactly one field, got {sorted(kinds)}")
    return kinds[0]


def texts_of_turns(turns: Any) -> list[str]:
    """The user text parts of `clientContent.turns`."""
    if isinstance(turns, Mapping):
        turns = [turns]
    texts: list[str] = []
    for turn in turns if isinstance(turns, Sequence) else []:
        if field(turn, "role", "user") != "user":
            continue
        for part in field(turn, "parts", []) or []:
            text = field(part, "text")
            if isinstance(text, str) and text:
                texts.append(text)
    return texts


# ---- server messages -----------------------------------------------------------------


def setup_complete() -> Message:
    return {"setupComplete": {}}


def audio_chunk(pcm: bytes) -> Message:
    part = {"inlineData": {"mimeType": OUTPUT_MIME, "data": encode_bytes(pcm)}}
    return {"serverContent": {"modelTurn": {"role": "model", "parts": [part]}}}


def input_transcription(text: str, *, finished: bool = False) -> Message:
    body: dict[str, Any] = {"text": text}
    if finished:
        body["finished"] = True
    return {"serverContent": {"inputTranscription": body}}


def output_transcription(text: str) -> Message:
    return {"serverContent": {"outputTranscription": {"text": text}}}


def generation_complete() -> Message:
    return {"serverContent": {"generationComplete": True}}


def turn_complete() -> Message:
    return {"serverContent": {"turnComplete": True}}


def interrupted() -> Message:
    return {"serverContent": {"interrupted": True}}


def tool_call(call_id: str, name: str, args: Mapping[str, Any]) -> Message:
    return {"toolCall": {"functionCalls": [{"id": call_id, "name": name, "args": dict(args)}]}}


def tool_call_cancellation(ids: Sequence[str]) -> Message:
    return {"toolCallCancellation": {"ids": list(ids)}}


def go_away(time_left_s: float) -> Message:
    return {"goAway": {"timeLeft": f"{time_left_s:g}s"}}


def resumption_update(handle: str, *, resumable: bool) -> Message:
    return {"sessionResumptionUpdate": {"newHandle": handle, "resumable": resumable}}


def usage(prompt_tokens: int, response_tokens: int, total_tokens: int) -> Message:
    return {
        "usageMetadata": {
            "promptTokenCount": prompt_tokens,
            "responseTokenCount": response_tokens,
            "totalTokenCount": total_tokens,
        }
    }

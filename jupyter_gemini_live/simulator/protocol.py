"""The Live API wire format, as the simulator reads and writes it.

Clients (the SDK above all) mix snake_case and camelCase keys, and send bytes in either
base64 alphabet, so everything read goes through `field()` and `decode_bytes()`. What the
simulator writes is camelCase JSON that `google.genai.types.LiveServerMessage` parses.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..protocol import OUTPUT_RATE

API_PATH = re.compile(
    r"^/ws/google\.ai\.generativelanguage\.(?P<version>[A-Za-z0-9]+)\."
    r"GenerativeService\.BidiGenerateContent(?:Constrained)?$"
)
#: the Live path of Vertex AI (Gemini Enterprise Agent Platform): a bearer token, no key
VERTEX_PATH = re.compile(
    r"^/ws/google\.cloud\.aiplatform\.(?P<version>[A-Za-z0-9]+)\."
    r"LlmBidiService/BidiGenerateContent$"
)
OUTPUT_MIME = f"audio/pcm;rate={OUTPUT_RATE}"

Message = dict[str, Any]


class ProtocolError(ValueError):
    """A client message the simulator cannot make sense of (closes with 1007)."""


_CAMEL_HUMP = re.compile(r"(?<!^)(?=[A-Z])")
_CACHED_NAME_CHARS = 64  # field names are short; a long key from a client is not kept


def snake(name: str) -> str:
    if len(name) > _CACHED_NAME_CHARS:
        return _snake(name)
    return _cached_snake(name)


def _snake(name: str) -> str:
    return _CAMEL_HUMP.sub("_", name).lower()


# Every client message asks for a dozen fields by name; a regex per name and message was
# about 6 % of the simulator's time at 50 sessions. Bounded: 512 names of ≤ 64 chars.
_cached_snake = functools.lru_cache(maxsize=512)(_snake)


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


def turns_of(turns: Any) -> list[tuple[str, str]]:
    """(role, text) of every text part of `clientContent.turns`, in order."""
    if isinstance(turns, Mapping):
        turns = [turns]
    found: list[tuple[str, str]] = []
    for turn in turns if isinstance(turns, Sequence) else []:
        role = str(field(turn, "role", "user"))
        for part in field(turn, "parts", []) or []:
            text = field(part, "text")
            if isinstance(text, str) and text:
                found.append((role, text))
    return found


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


def interim_input_transcription(text: str) -> Message:
    """The user's words so far, while they speak (models with interim transcription)."""
    return {"serverContent": {"interimInputTranscription": {"text": text}}}


def interaction_status(status: str) -> Message:
    """IN_PROGRESS while the model works in the background, IDLE when it is done."""
    return {"serverContent": {"interactionStatus": status}}


def grounding(sources: Sequence[tuple[str, str]], queries: Sequence[str]) -> Message:
    """Google Search grounding metadata: (title, uri) web sources and the queries."""
    chunks = [{"web": {"title": title, "uri": uri}} for title, uri in sources]
    body = {"groundingChunks": chunks, "webSearchQueries": list(queries)}
    return {"serverContent": {"groundingMetadata": body}}


def output_transcription(text: str) -> Message:
    return {"serverContent": {"outputTranscription": {"text": text}}}


def generation_complete() -> Message:
    return {"serverContent": {"generationComplete": True}}


def turn_complete(reason: str | None = None) -> Message:
    """The turn's end; `reason` (a TurnCompleteReason) when it ended abnormally."""
    body: dict[str, Any] = {"turnComplete": True}
    if reason is not None:
        body["turnCompleteReason"] = reason
    return {"serverContent": body}


def interrupted() -> Message:
    return {"serverContent": {"interrupted": True}}


def tool_call(call_id: str, name: str, args: Mapping[str, Any]) -> Message:
    return {"toolCall": {"functionCalls": [{"id": call_id, "name": name, "args": dict(args)}]}}


def tool_call_cancellation(ids: Sequence[str]) -> Message:
    return {"toolCallCancellation": {"ids": list(ids)}}


def go_away(time_left_s: float) -> Message:
    return {"goAway": {"timeLeft": f"{time_left_s:g}s"}}


def resumption_update(handle: str, *, resumable: bool, last_consumed: int | None = None) -> Message:
    """A new handle; `last_consumed`: the index of the last client message its state
    includes, counted on the connection from 0 (the `setup` message)."""
    body: dict[str, Any] = {"newHandle": handle if resumable else "", "resumable": resumable}
    if resumable and last_consumed is not None:
        body["lastConsumedClientMessageIndex"] = str(last_consumed)
    return {"sessionResumptionUpdate": body}


def usage(
    prompt: Mapping[str, int],
    response: Mapping[str, int],
    thoughts: int = 0,
    *,
    vertex: bool = False,
) -> Message:
    """`usageMetadata` as the service sends it: cumulative counts of the connection,
    split by modality (`prompt`/`response`: modality name → tokens). Vertex calls the
    response "candidates"."""
    answer = "candidates" if vertex else "response"
    body: dict[str, Any] = {
        "promptTokenCount": sum(prompt.values()),
        f"{answer}TokenCount": sum(response.values()),
        "totalTokenCount": sum(prompt.values()) + sum(response.values()) + thoughts,
        "promptTokensDetails": _details(prompt),
        f"{answer}TokensDetails": _details(response),
    }
    if thoughts:
        body["thoughtsTokenCount"] = thoughts
    return {"usageMetadata": body}


def _details(counts: Mapping[str, int]) -> list[dict[str, Any]]:
    return [{"modality": name, "tokenCount": n} for name, n in counts.items() if n]

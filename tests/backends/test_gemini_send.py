"""The uplink's audio fast path: the message it builds is the SDK's, and the simulator
(which reads either casing, as the service does) takes it like the SDK's."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from google import genai
from google.genai import live, types

from jupyter_gemini_live.backends.gemini import INPUT_MIME, audio_sender, realtime_audio_message
from jupyter_gemini_live.simulator import protocol as wire


class Socket:
    """What the SDK's session writes on its websocket."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, message: str) -> None:
        self.sent.append(message)


def sdk_message(client: genai.Client, pcm: bytes) -> str:
    socket = Socket()
    session = live.AsyncSession(api_client=client._api_client, websocket=socket)  # type: ignore[arg-type]
    asyncio.run(session.send_realtime_input(audio=types.Blob(data=pcm, mime_type=INPUT_MIME)))
    return socket.sent[0]


CLIENTS = {
    "developer": lambda: genai.Client(api_key="key"),
    "vertex": lambda: genai.Client(vertexai=True, project="p", location="us-central1"),
}


@pytest.mark.parametrize("api", sorted(CLIENTS))
@pytest.mark.parametrize(
    "pcm",
    [b"", b"\x00\x01", bytes(range(256)) * 5, b"\xff" * 1280],
    ids=["empty", "one-sample", "every-byte", "all-ones"],
)
def test_the_audio_message_is_the_sdks(api: str, pcm: bytes) -> None:
    assert json.loads(realtime_audio_message(pcm)) == json.loads(sdk_message(CLIENTS[api](), pcm))


def camel(value: Any) -> Any:
    """The same message with the service's documented camelCase keys."""
    if isinstance(value, dict):
        return {
            "".join(w.capitalize() if i else w for i, w in enumerate(k.split("_"))): camel(v)
            for k, v in value.items()
        }
    return value


@pytest.mark.parametrize("casing", ["snake", "camel"])
def test_the_simulator_reads_it_like_the_sdks(casing: str) -> None:
    pcm = bytes(range(256)) * 5
    message = json.loads(realtime_audio_message(pcm))
    if casing == "camel":
        message = camel(message)
        assert "realtimeInput" in message
    assert wire.message_kind(message) == "realtime_input"
    blob = wire.field(next(iter(message.values())), "audio")
    assert wire.field(blob, "mime_type") == INPUT_MIME
    assert wire.decode_bytes(wire.field(blob, "data")) == pcm


class Session:
    """An SDK session with (`_ws`) or without the socket attribute the fast path uses."""

    def __init__(self, with_socket: bool) -> None:
        self.calls: list[types.Blob] = []
        if with_socket:
            self._ws = Socket()

    async def send_realtime_input(self, *, audio: types.Blob) -> None:
        self.calls.append(audio)


def test_audio_goes_on_the_sdks_socket_or_through_the_sdk() -> None:
    pcm = b"\x01\x02" * 320
    fast = Session(with_socket=True)
    asyncio.run(audio_sender(pcm)(fast))  # type: ignore[arg-type]
    assert fast._ws.sent == [realtime_audio_message(pcm)]
    assert fast.calls == []
    plain = Session(with_socket=False)
    asyncio.run(audio_sender(pcm)(plain))  # type: ignore[arg-type]
    assert [(b.data, b.mime_type) for b in plain.calls] == [(pcm, INPUT_MIME)]

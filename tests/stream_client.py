"""A test client of the stream websocket (what `open_stream` in conftest.py returns)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from speech import frames


class Stream:
    """A test client of the stream websocket: JSON events in order, model audio gathered."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self.audio = bytearray()
        self.audio_messages = 0
        self.closed = False

    async def send_json(self, message: dict[str, Any]) -> None:
        await self.ws.write_message(json.dumps(message))

    async def send_audio(self, pcm: bytes) -> None:
        await self.ws.write_message(pcm, binary=True)

    async def talk(self, pcm: bytes, realtime: bool = True) -> None:
        """Send PCM as 20 ms frames, at real-time pace unless told otherwise."""
        for frame in frames(pcm):
            await self.send_audio(frame)
            await asyncio.sleep(0.02 if realtime else 0)

    async def next(self, timeout: float = 10.0) -> dict[str, Any] | None:
        """The next JSON event (None when the socket closed); audio is gathered on the way."""
        while True:
            message = await asyncio.wait_for(self.ws.read_message(), timeout)
            if message is None:
                self.closed = True
                return None
            if isinstance(message, bytes):
                self.audio += message
                self.audio_messages += 1
                continue
            event: dict[str, Any] = json.loads(message)
            self.events.append(event)
            return event

    async def until(self, kind: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        """Read until an event of `kind` (with the given field values) arrives."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            event = await self.next(max(0.01, left))
            if event is None:
                raise AssertionError(f"socket closed before {kind}; events: {self.events}")
            if event["type"] == kind and all(event.get(k) == v for k, v in match.items()):
                return event

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["type"] == kind]

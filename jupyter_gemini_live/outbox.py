"""A bounded queue of what the server still has to write to one websocket client.

Model audio comes in bursts faster than real time; a slow client must not grow the
server's memory. Audio beyond `max_audio_bytes` is dropped (and counted); events (JSON
text, already encoded) are never dropped, but a client that lets `max_events` or
`max_event_bytes` of them pile up is too slow to keep.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import NamedTuple

from .protocol import OUTPUT_RATE, SAMPLE_WIDTH

#: model audio a client may have queued: 10 s
MAX_AUDIO_S = 10
#: events a client may have queued, by count and by bytes of JSON
MAX_EVENTS = 2000
MAX_EVENT_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Close:
    """Close the connection once everything before this has been written."""

    code: int
    reason: str


class Audio(NamedTuple):
    """Model audio to write, and when the upstream had it (`time.monotonic()`)."""

    pcm: bytes
    received: float | None = None


Item = Audio | str | Close


class OutboxOverflow(Exception):
    """The client has not read its events for too long."""


class Outbox:
    def __init__(
        self,
        max_audio_bytes: int = OUTPUT_RATE * SAMPLE_WIDTH * MAX_AUDIO_S,
        max_events: int = MAX_EVENTS,
        max_event_bytes: int = MAX_EVENT_BYTES,
    ) -> None:
        self.max_audio_bytes = max_audio_bytes
        self.max_events = max_events
        self.max_event_bytes = max_event_bytes
        self.dropped_audio_bytes = 0
        self._items: deque[Item] = deque()
        self._audio_bytes = 0
        self._events = 0
        self._event_bytes = 0
        self._ready = asyncio.Event()

    def put_audio(self, pcm: bytes, received: float | None = None) -> bool:
        if self._audio_bytes + len(pcm) > self.max_audio_bytes:
            self.dropped_audio_bytes += len(pcm)
            return False
        self._items.append(Audio(pcm, received))
        self._audio_bytes += len(pcm)
        self._ready.set()
        return True

    def put_event(self, event: str) -> None:
        """Queue one event's JSON text."""
        if self._events >= self.max_events:
            raise OutboxOverflow(f"{self._events} events not yet read")
        if self._event_bytes + len(event) > self.max_event_bytes:
            raise OutboxOverflow(f"{self._event_bytes + len(event)} bytes of events not yet read")
        self._items.append(event)
        self._events += 1
        self._event_bytes += len(event)
        self._ready.set()

    def empty(self) -> bool:
        return not self._items

    @property
    def queued_bytes(self) -> int:
        """Bytes of audio and (characters of) events waiting to be written."""
        return self._audio_bytes + self._event_bytes

    def clear(self) -> None:
        """Forget everything queued (the connection is gone)."""
        self._items.clear()
        self._audio_bytes = self._events = self._event_bytes = 0

    def put_close(self, code: int, reason: str) -> None:
        self._items.append(Close(code, reason))
        self._ready.set()

    def discard_audio(self) -> int:
        """Forget queued audio (after an interruption); returns the bytes forgotten."""
        kept: deque[Item] = deque(i for i in self._items if not isinstance(i, Audio))
        dropped = self._audio_bytes
        self._items, self._audio_bytes = kept, 0
        return dropped

    async def get(self) -> Item:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        item = self._items.popleft()
        if isinstance(item, Audio):
            self._audio_bytes -= len(item.pcm)
        elif isinstance(item, str):
            self._events -= 1
            self._event_bytes -= len(item)
        return item

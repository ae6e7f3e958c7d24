"""A scripted backend for session tests: the test says what the upstream yields, when,
and reads what the session forwarded to it. (Registered as the backend "scripted" by the
`scripted` fixture of tests/conftest.py.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from jupyter_gemini_live.backends.base import (
    Backend,
    Event,
    SessionOptions,
    ToolImage,
    Upstream,
    UpstreamClosed,
)

#: `until_sent(kind)` without a payload: the first of that kind, whatever it carries
ANY = object()


class ScriptedUpstream(Upstream):
    """Yields the bursts the test `say`s; remembers what the session sent it.

    The events of one burst reach the session back to back, without the event loop
    running anything else in between (as model messages that arrive in one network read).
    A test that clears `gate` holds every send, once recorded, until it sets it again: an
    upstream write that hangs. With `writes_at_once`, `send_audio_now` takes audio at
    once (counted in `written_at_once`) while nothing is in the way: the gate open and no
    other send under way, as the gemini upstream does.
    """

    writes_at_once = False

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []
        self.closed = False
        self.gate = asyncio.Event()
        self.gate.set()
        #: a send was recorded (and, with the gate closed, waits on it)
        self.entered = asyncio.Event()
        self.written_at_once = 0
        self._sending = 0  # sends recorded and not returned yet
        self._script: asyncio.Queue[tuple[Event, ...] | None] = asyncio.Queue()
        self._sent_changed = asyncio.Event()

    def say(self, *events: Event) -> None:
        self._script.put_nowait(events)

    def end(self) -> None:
        self._script.put_nowait(None)

    async def until_sent(self, kind: str, payload: Any = ANY, timeout: float = 10.0) -> Any:
        """The first payload of `kind` the session delivered (equal to `payload` if given);
        waits for it."""

        async def wait() -> Any:
            while True:
                for sent_kind, sent in self.sent:
                    if sent_kind == kind and (payload is ANY or sent == payload):
                        return sent
                self._sent_changed.clear()
                await self._sent_changed.wait()

        return await asyncio.wait_for(wait(), timeout)

    async def _record(self, kind: str, payload: Any = None) -> None:
        if self.closed:
            raise UpstreamClosed("the scripted conversation is closed")
        self.sent.append((kind, payload))
        self._sent_changed.set()
        self.entered.set()
        self._sending += 1
        try:
            await self.gate.wait()
        finally:
            self._sending -= 1

    async def send_audio(self, pcm: bytes) -> None:
        await self._record("audio", pcm)

    def send_audio_now(self, pcm: bytes) -> bool:
        if not self.writes_at_once or self.closed or self._sending or not self.gate.is_set():
            return False
        self.sent.append(("audio", pcm))
        self._sent_changed.set()
        self.written_at_once += 1
        return True

    async def send_text(self, text: str) -> None:
        await self._record("text", text)

    async def activity_start(self) -> None:
        await self._record("activity_start")

    async def activity_end(self) -> None:
        await self._record("activity_end")

    async def audio_stream_end(self) -> None:
        await self._record("audio_stream_end")

    async def send_image(self, mime_type: str, data: bytes) -> None:
        await self._record("image", (mime_type, data))

    async def send_tool_response(
        self,
        call_id: str,
        name: str,
        response: Mapping[str, Any],
        scheduling: str | None = None,
        images: Sequence[ToolImage] = (),
    ) -> None:
        answer = (call_id, name, dict(response))
        if images:
            await self._record("tool_images", tuple(images))
        await self._record("tool_response", (*answer, scheduling) if scheduling else answer)

    async def events(self) -> AsyncIterator[Event]:
        while (burst := await self._script.get()) is not None:
            for event in burst:
                yield event

    async def close(self) -> None:
        self.closed = True
        self.end()


class ScriptedBackend(Backend):
    name = "scripted"

    def __init__(self) -> None:
        self.upstreams: list[ScriptedUpstream] = []

    async def connect(self, options: SessionOptions) -> Upstream:
        upstream = ScriptedUpstream()
        self.upstreams.append(upstream)
        return upstream

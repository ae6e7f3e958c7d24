"""The per-client queue: bounded by count and by bytes of events, by bytes of audio."""

from __future__ import annotations

import pytest

from jupyter_gemini_live.outbox import Outbox, OutboxOverflow


async def test_events_are_bounded_by_bytes() -> None:
    outbox = Outbox(max_events=100, max_event_bytes=1000)
    outbox.put_event("x" * 600)
    with pytest.raises(OutboxOverflow, match="bytes"):
        outbox.put_event("y" * 600)
    assert await outbox.get() == "x" * 600
    outbox.put_event("y" * 600)  # read: room again
    assert outbox.queued_bytes == 600


async def test_events_are_bounded_by_count() -> None:
    outbox = Outbox(max_events=2)
    outbox.put_event("{}")
    outbox.put_event("{}")
    with pytest.raises(OutboxOverflow, match="events"):
        outbox.put_event("{}")


def test_clear_frees_everything() -> None:
    outbox = Outbox()
    outbox.put_event("x" * 100)
    assert outbox.put_audio(b"\x00" * 480)
    assert outbox.queued_bytes == 580
    outbox.clear()
    assert outbox.queued_bytes == 0

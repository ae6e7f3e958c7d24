"""The session's forwarder: audio that queued up behind a slow upstream write goes out in
fewer, larger messages (byte-exact and in order); a frame alone is never held back."""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scripted import ScriptedBackend, ScriptedUpstream
from waiting import until_true

from jupyter_gemini_live.backends.base import SessionOptions
from jupyter_gemini_live.protocol import AudioFrame, Mode, Text, UpstreamCommand
from jupyter_gemini_live.session import COALESCE_BYTES, LATE_INPUT_MS, LiveSession, RecentDelays

FRAME = 640  # 20 ms at 16 kHz


class Client:
    mode: Mode = "device"
    wants_audio = True

    def __init__(self) -> None:
        self.events: list[Any] = []

    def send_audio(self, pcm: bytes, received: float | None = None) -> bool:
        return True

    def send_event(self, event: Any) -> None:
        self.events.append(event)

    def discard_audio(self) -> None: ...
    def disconnect(self, code: int, reason: str) -> None: ...


async def open_session(
    *, writes_at_once: bool = False
) -> tuple[LiveSession, ScriptedUpstream, Client]:
    """A session on a scripted upstream; `writes_at_once`: one that takes audio at once,
    returned once the session's forwarder waits for input."""
    backend = ScriptedBackend()
    session = LiveSession(
        SessionOptions(backend="scripted", model="m", voice="v"),
        backend,
        log=logging.getLogger("test"),
    )
    await session.open()
    client = Client()
    session.attach(client)
    upstream = backend.upstreams[0]
    if writes_at_once:
        upstream.writes_at_once = True
        await until_true(lambda: session._forward_idle, "the forwarder waits for input")
    return session, upstream, client


def frame(n: int, size: int = FRAME) -> bytes:
    return bytes([n % 256]) * size


async def test_a_lone_frame_goes_before_the_next_one_arrives() -> None:
    session, upstream, client = await open_session()
    try:
        for n in range(5):
            session.feed(AudioFrame(frame(n)), client)
            # sent on its own before the next frame exists, not held to fill 40 ms
            await until_true(lambda: len(upstream.sent) == n + 1, f"frame {n} sent")  # noqa: B023
            assert upstream.sent[-1] == ("audio", frame(n))
        assert session.stats.coalesced_frames == 0
    finally:
        await session.close()


async def test_audio_goes_upstream_in_the_turn_it_came_when_nothing_is_before_it() -> None:
    session, upstream, client = await open_session(writes_at_once=True)
    try:
        session.feed(AudioFrame(frame(1)), client)
        # written before this test awaits anything: no turn of the loop in between
        assert upstream.sent == [("audio", frame(1))]
        assert upstream.written_at_once == 1
        assert session.stats.uplink.as_json()["count"] == 1
    finally:
        await session.close()


async def test_audio_behind_a_command_queued_or_under_way_waits_its_turn() -> None:
    session, upstream, client = await open_session(writes_at_once=True)
    try:
        session.feed(Text("first"), client)
        session.feed(AudioFrame(frame(0)), client)  # the text is still in the inbox
        await until_true(lambda: len(upstream.sent) == 2, "both sent")
        assert upstream.sent == [("text", "first"), ("audio", frame(0))]
        upstream.sent.clear()
        upstream.entered.clear()

        upstream.gate.clear()  # the text's write hangs
        session.feed(Text("look at this"), client)
        await until_true(upstream.entered.is_set, "the text's send started")
        session.feed(AudioFrame(frame(1)), client)
        session.feed(AudioFrame(frame(2)), client)
        assert upstream.sent == [("text", "look at this")]  # not past the text
        upstream.gate.set()
        await until_true(lambda: audio_sent(upstream) == frame(1) + frame(2), "audio sent")
        assert upstream.sent[0] == ("text", "look at this")
        assert upstream.written_at_once == 0
        # the forwarder has caught up: the next frame goes at once again
        await until_true(lambda: session._forward_idle, "the forwarder waits for input")
        session.feed(AudioFrame(frame(3)), client)
        assert upstream.sent[-1] == ("audio", frame(3))
        assert upstream.written_at_once == 1
    finally:
        await session.close()


async def stuck_write(session: LiveSession, upstream: ScriptedUpstream, client: Client) -> None:
    """Frame 0 goes upstream and its write hangs until `upstream.gate` is set."""
    upstream.gate.clear()
    session.feed(AudioFrame(frame(0)), client)
    await until_true(upstream.entered.is_set, "the first send started")


def audio_sent(upstream: ScriptedUpstream) -> bytes:
    return b"".join(p for k, p in upstream.sent if k == "audio")


async def test_queued_frames_are_joined_up_to_40_ms_byte_exact_and_in_order() -> None:
    session, upstream, client = await open_session()
    try:
        await stuck_write(session, upstream, client)
        # behind the slow write: 5 frames, a text, 3 frames, one big frame, one frame
        fed: list[UpstreamCommand] = [AudioFrame(frame(n)) for n in range(1, 6)]
        fed += [Text("hello")]
        fed += [AudioFrame(frame(n)) for n in range(6, 9)]
        fed += [AudioFrame(frame(9, 3 * FRAME)), AudioFrame(frame(10, 320))]
        for command in fed:
            session.feed(command, client)
        upstream.gate.set()
        await until_true(lambda: len(upstream.sent) == 9, "everything sent")
        kinds = [kind for kind, _ in upstream.sent]
        assert kinds == ["audio"] * 4 + ["text"] + ["audio"] * 4
        audio = [payload for kind, payload in upstream.sent if kind == "audio"]
        assert [len(pcm) for pcm in audio] == [640, 1280, 1280, 640, 1280, 640, 1920, 320]
        assert COALESCE_BYTES == 1280
        # byte-exact, nothing lost, nothing reordered (the text stays between frames 5 and 6)
        expected = [frame(0)] + [c.pcm for c in fed if isinstance(c, AudioFrame)]
        assert b"".join(audio) == b"".join(expected)
        assert b"".join(audio[:4]) == b"".join(frame(n) for n in range(6))
        assert upstream.sent[4] == ("text", "hello")
        assert session.stats.coalesced_frames == 3
        assert session.stats.audio_in_ms == 9 * 20 + 60 + 10
    finally:
        await session.close()


async def test_audio_too_late_to_matter_is_dropped_and_counted() -> None:
    session, upstream, client = await open_session()
    try:
        await stuck_write(session, upstream, client)
        # 1 s of audio and a text queue up behind the stuck write, and wait there too long
        for n in range(1, 51):
            session.feed(AudioFrame(frame(n)), client)
            if n == 30:
                session.feed(Text("keep me"), client)
        await asyncio.sleep(LATE_INPUT_MS / 1000 + 0.2)
        # then another second comes, fresh
        for n in range(51, 101):
            session.feed(AudioFrame(frame(n)), client)
        upstream.gate.set()
        await until_true(lambda: ("text", "keep me") in upstream.sent, "the text sent")
        newest = b"".join(frame(n) for n in range(51, 101))
        await until_true(
            lambda: audio_sent(upstream) == frame(0) + newest, "the fresh second of audio sent"
        )
        # the second that waited too long (frames 1-50) went; the text kept its place
        assert session.stats.dropped_in_ms == pytest.approx(1000)
        assert session.stats.late_dropped_frames == 50
        assert session.as_json()["stats"]["dropped_in_ms"] == pytest.approx(1000)
        assert [k for k, _ in upstream.sent].index("text") == 1
    finally:
        await session.close()


async def test_a_burst_faster_than_real_time_is_not_late() -> None:
    # A file sent at once (`send_audio_file(realtime=False)`): 2 s of audio arrives in a
    # moment, more than LATE_INPUT_MS of it waits behind a write, and all of it is sent.
    session, upstream, client = await open_session()
    try:
        await stuck_write(session, upstream, client)
        for n in range(1, 101):
            session.feed(AudioFrame(frame(n)), client)
        upstream.gate.set()
        everything = b"".join(frame(n) for n in range(101))
        await until_true(lambda: audio_sent(upstream) == everything, "the whole burst sent")
        assert session.stats.dropped_in_ms == 0
        assert session.stats.late_dropped_frames == 0
    finally:
        await session.close()


async def test_the_stats_say_how_long_audio_was_in_the_server() -> None:
    session, upstream, client = await open_session()
    try:
        empty = {"count": 0, "p50": None, "p99": None, "max": None}
        assert session.as_json()["stats"]["uplink_ms"] == empty
        await stuck_write(session, upstream, client)
        session.feed(AudioFrame(frame(1)), client)
        await asyncio.sleep(0.3)  # both frames wait: one in its write, one behind it
        upstream.gate.set()
        await until_true(lambda: len(upstream.sent) == 2, "both frames sent")
        uplink = session.as_json()["stats"]["uplink_ms"]
        assert uplink["count"] == 2
        assert uplink["p50"] is not None
        assert uplink["p50"] >= 300
        assert uplink["max"] == uplink["p99"]
    finally:
        await session.close()


@given(st.lists(st.floats(min_value=0, max_value=60), max_size=40), st.integers(1, 12))
def test_the_recent_delays_are_the_last_ones_by_nearest_rank(
    delays: list[float], size: int
) -> None:
    recent = RecentDelays(size)
    for seconds in delays:
        recent.add(seconds)
    kept = sorted(delays[-size:])

    def rank(q: float) -> float | None:  # the delay at the nearest rank, in ms
        return round(1000 * kept[max(0, math.ceil(q * len(kept)) - 1)], 2) if kept else None

    expected = {"count": len(kept), "p50": rank(0.5), "p99": rank(0.99), "max": rank(1.0)}
    assert recent.as_json() == expected

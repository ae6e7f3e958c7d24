"""Fault tests of the gemini backend over long sessions, in fast simulated time.

The simulator recycles connections (goAway), drops them (1011), reads slowly and
refuses handles; the conversation must lose no input (the bytes the service's state
holds are the bytes sent), cut no reply on a goAway, and keep its transcript complete
and in order. Resuming restores the handle's state in the simulator (what the old
connection took later is forgotten), so only an exact replay passes.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest
from speech import frames, silence, speech
from test_gemini import OPTIONS, TIMEOUT, Listener, _until, audio, gate_reconnects, other

from jupyter_gemini_live.backends.base import (
    AudioEvent,
    ErrorEvent,
    Event,
    InterruptedEvent,
    StateEvent,
    TranscriptEvent,
    TurnCompleteEvent,
)
from jupyter_gemini_live.backends.gemini import (
    GeminiUpstream,
    ReconnectPolicy,
    ReplayBuffer,
    TranscriptHistory,
    TurnState,
    audio_input,
)
from jupyter_gemini_live.simulator import Faults
from jupyter_gemini_live.simulator.protocol import field

#: quick backoff; a planned reconnect on a busy test machine still says nothing
POLICY = ReconnectPolicy(
    attempts=6, first_delay_s=0.02, max_delay_s=0.2, connect_timeout_s=5, notice_s=5.0
)
FRAME = 640  # 20 ms at 16 kHz
PACE = 0.005  # 20 ms frames every 5 ms: four times real time


class Speaker:
    """A user who speaks, waits for the answer while the microphone stays open."""

    def __init__(self, upstream: GeminiUpstream, listener: Listener) -> None:
        self.upstream = upstream
        self.listener = listener
        self.sent = 0

    async def send(self, pcm: bytes) -> None:
        for frame in frames(pcm):
            await self.upstream.send_audio(frame)
            self.sent += len(frame)
            await asyncio.sleep(PACE)

    async def answered(self, count: int) -> None:
        """Keep the microphone open (silence) until `count` turns were answered in full."""

        async def wait() -> None:
            while len(answered_turns(self.listener.events)) < count:
                await self.send(silence(0.02))

        await asyncio.wait_for(wait(), TIMEOUT * 2)


def answered_turns(events: list[Event]) -> list[tuple[str, str]]:
    """(user text, model text) of every turn that completed without interruption."""
    turns: list[tuple[str, str]] = []
    texts = {"user": "", "model": ""}
    interrupted = False
    for event in events:
        if isinstance(event, TranscriptEvent):
            texts[event.role] += event.text
        elif isinstance(event, InterruptedEvent):
            interrupted = True
        elif isinstance(event, TurnCompleteEvent):
            if not interrupted:
                turns.append((texts["user"], texts["model"]))
            texts = {"user": "", "model": ""}
            interrupted = False
    return turns


def expected_turns(lengths: list[float]) -> list[tuple[str, str]]:
    return [
        (f"({s + 0.1:.1f} s of speech)", f"Turn {n}: you spoke for {s + 0.1:.1f} seconds.")
        for n, s in enumerate(lengths, 1)
    ]


async def converse(upstream: GeminiUpstream, listener: Listener, lengths: list[float]) -> Speaker:
    speaker = Speaker(upstream, listener)
    await speaker.send(silence(0.2))
    for count, seconds in enumerate(lengths, 1):
        await speaker.send(speech(seconds) + silence(0.3))
        await speaker.answered(count)
    return speaker


async def settled(conversation: Any, sent: int) -> int:
    """Wait until the service's state holds as many bytes as were sent (or more); how many
    it held at that moment. Later the storm goes on: a drop restores the state of the last
    handle, and the input after it is still being replayed when the test closes."""
    held = [0]

    def enough() -> bool:
        held[0] = conversation.audio_in_bytes
        return held[0] >= sent

    await asyncio.wait_for(_until(enough), TIMEOUT)
    return held[0]


LENGTHS = [0.6, 0.9, 0.5, 1.1, 0.7, 0.8, 0.6, 1.0, 0.5, 0.9, 0.7, 0.6]


async def test_repeated_go_aways_cut_nothing_and_lose_nothing(make_simulator, make_backend):
    # time_left leaves room for a starved machine to reach the turn boundary
    faults = Faults(go_away_after=0.5, go_away_time_left=4.0, repeat=True)
    async with make_simulator(faults=faults, playback_speed=8.0, reply_lead_s=0.1) as sim:
        upstream = await make_backend(sim, policy=POLICY).connect(OPTIONS)
        assert isinstance(upstream, GeminiUpstream)
        listener = Listener(upstream)
        speaker = await converse(upstream, listener, LENGTHS)
        [conversation] = sim.conversations
        heard = await settled(conversation, speaker.sent)
        await upstream.close()

    assert conversation.connections >= 6  # many goAways, at every moment of a turn
    assert answered_turns(listener.events) == expected_turns(LENGTHS)
    assert not listener.of(InterruptedEvent)  # nobody barged in: no reply was cut
    assert not listener.of(StateEvent)  # every move was planned and quick
    assert not listener.of(ErrorEvent)
    assert heard == speaker.sent  # byte-exact, no replay twice
    assert conversation.turns == len(LENGTHS)
    assert upstream.dropped_ms == 0


async def test_internal_error_storm_loses_no_input(make_simulator, make_backend):
    faults = Faults(close_after=0.5, repeat=True)  # 6-7 connections, busy machine or not
    async with make_simulator(faults=faults, playback_speed=8.0, reply_lead_s=0.1) as sim:
        upstream = await make_backend(sim, policy=POLICY).connect(OPTIONS)
        assert isinstance(upstream, GeminiUpstream)
        listener = Listener(upstream)
        speaker = await converse(upstream, listener, LENGTHS[:8])
        [conversation] = sim.conversations
        heard = await settled(conversation, speaker.sent)
        await upstream.close()

    assert conversation.connections >= 5
    # a reply cut by a drop was given again in full on the next connection: the turns
    # answered in full are every turn, once each and in order
    assert answered_turns(listener.events) == expected_turns(LENGTHS[:8])
    assert heard == speaker.sent
    assert upstream.dropped_ms == 0
    assert not [e for e in listener.of(ErrorEvent) if e.fatal]
    # each drop is said (a last one may come as the test closes the upstream)
    states = [e.state for e in listener.of(StateEvent)]
    assert states[:2] == ["reconnecting", "live"]
    assert states == ["reconnecting", "live"] * (len(states) // 2) + ["reconnecting"] * (
        len(states) % 2
    )


async def test_backlog_of_the_old_connection_is_replayed_not_interleaved(
    make_simulator, make_backend
):
    # The service reads slowly: when the connection drops, frames it has not taken
    # in yet are still queued there. Resuming must give them to the new connection,
    # in order, once: the utterance is heard whole (this cut "5.0 s" to "4.5 s").
    faults = Faults(read_delay=0.004)
    async with make_simulator(faults=faults, playback_speed=8.0) as sim:
        upstream = await make_backend(sim, policy=POLICY).connect(OPTIONS)
        assert isinstance(upstream, GeminiUpstream)
        listener = Listener(upstream)
        speaker = Speaker(upstream, listener)
        pcm = silence(0.2) + speech(1.5) + silence(0.4)
        for index, frame in enumerate(frames(pcm)):
            if index == 60:
                await sim.drop(1011)
            await upstream.send_audio(frame)
            speaker.sent += len(frame)
            await asyncio.sleep(0.001)
        await speaker.answered(1)
        conversation = sim.conversations[0]
        heard = await settled(conversation, speaker.sent)
        await upstream.close()

    assert answered_turns(listener.events) == expected_turns([1.5])
    assert heard == speaker.sent


async def test_slow_upstream_keeps_memory_bounded_and_counts_what_it_lost(
    make_simulator, make_backend
):
    policy = ReconnectPolicy(first_delay_s=0.02, replay_items=40, replay_bytes=1_000_000)
    # no handle after the first: nothing the client sends is ever confirmed
    async with make_simulator(faults=Faults(read_delay=0.003), update_every=0) as sim:
        upstream = await make_backend(sim, policy=policy).connect(OPTIONS)
        assert isinstance(upstream, GeminiUpstream)
        listener = Listener(upstream)
        sent = 0
        largest = 0
        for frame in frames(silence(2.0)):
            await upstream.send_audio(frame)  # waits when the socket is full
            sent += len(frame)
            largest = max(largest, len(upstream.replay))
        assert upstream.replay.evicted == 100 - 40
        await sim.drop(1011)
        await listener.until(lambda e: e == StateEvent("live"))
        conversation = sim.conversations[0]
        await settled(conversation, 40 * FRAME)
        await upstream.close()

    assert largest <= 40
    # the resumed state is the first handle's plus the 40 frames kept for replay
    assert conversation.audio_in_bytes == 40 * FRAME
    assert upstream.dropped_ms == pytest.approx((sent - 40 * FRAME) / 32)
    [dropped] = [e for e in listener.of(ErrorEvent)]
    assert (dropped.code, dropped.fatal) == ("input_dropped", False)
    assert dropped.message.startswith("1200 ms of microphone audio")


@pytest.mark.parametrize(
    "faults",
    [Faults(refuse_resumption=True), Faults(handle_lifetime=0.0)],
    ids=["refused", "expired"],
)
async def test_refused_handle_starts_a_new_session_seeded_with_history(
    make_simulator, make_backend, faults
):
    async with make_simulator(faults=faults, playback_speed=8.0) as sim:
        upstream = await make_backend(sim, policy=POLICY).connect(OPTIONS)
        listener = Listener(upstream)
        await upstream.send_text("hello")
        await listener.turns(1)
        await upstream.send_text("how are you")
        await listener.turns(2)
        await sim.drop(1011)
        restarted = await listener.until(lambda e: isinstance(e, ErrorEvent))
        await listener.until(lambda e: e == StateEvent("live"))
        await upstream.send_text("still there?")
        await listener.turns(3)
        await upstream.close()

    assert isinstance(restarted, ErrorEvent)
    assert (restarted.code, restarted.fatal) == ("session_restarted", False)
    assert "restored from the transcript" in restarted.message
    first, second = sim.conversations
    assert first.refused_handles == 1
    assert second.history == [
        ("user", "hello"),
        ("model", "Turn 1: you said: hello"),
        ("user", "how are you"),
        ("model", "Turn 2: you said: how are you"),
    ]
    history_config = field(second.setups[0], "history_config")
    assert field(history_config, "initial_history_in_client_content") is True
    assert listener.text("model").endswith("Turn 1: you said: still there?")
    assert not [e for e in listener.of(ErrorEvent) if e.fatal]


async def test_without_initial_history_a_summary_turn_seeds_the_new_session(
    make_simulator, make_backend
):
    async with make_simulator(faults=Faults(refuse_resumption=True), playback_speed=8.0) as sim:
        upstream = await make_backend(sim, policy=POLICY).connect(OPTIONS)
        assert isinstance(upstream, GeminiUpstream)
        upstream.history_in_client_content = False
        listener = Listener(upstream)
        await upstream.send_text("remember 42")
        await listener.turns(1)
        await sim.drop(1011)
        await listener.until(lambda e: e == StateEvent("live"))
        await upstream.close()

    second = sim.conversations[1]
    [(role, summary)] = second.history
    assert role == "user"
    assert "User: remember 42" in summary
    assert "You: Turn 1: you said: remember 42" in summary
    assert field(second.setups[0], "history_config") is None


async def test_a_slow_planned_reconnect_says_so_late(make_simulator, make_backend, monkeypatch):
    policy = ReconnectPolicy(first_delay_s=0.02, notice_s=0.2)
    async with make_simulator(playback_speed=8.0) as sim:
        upstream = await make_backend(sim, policy=policy).connect(OPTIONS)
        assert isinstance(upstream, GeminiUpstream)
        listener = Listener(upstream)
        gate = gate_reconnects(upstream, monkeypatch)
        await sim.go_away(time_left_s=5.0)
        await listener.until(lambda e: e == StateEvent("reconnecting"))
        gate.set()
        await listener.until(lambda e: e == StateEvent("live"))
        await upstream.send_text("after")
        await listener.turns(1)
        await upstream.close()

    assert [e.state for e in listener.of(StateEvent)] == ["reconnecting", "live"]
    assert sim.conversations[0].connections == 2


# ---- the pieces, one by one ------------------------------------------------------------------


def test_replay_buffer_keeps_what_no_handle_confirmed_in_order():
    replay = ReplayBuffer(max_items=10, max_bytes=100_000)
    items = [audio(20), other(5), audio(20), audio(20)]
    for index, item in enumerate(items, 1):
        replay.sent(index, item)
    replay.confirm(2)  # the handle's state includes messages 1 and 2
    assert (len(replay), replay.nbytes) == (2, 1280)
    assert replay.take() == (items[2:], 0.0, 0)
    assert (len(replay), replay.nbytes) == (0, 0)


def test_replay_buffer_bounds_and_counts_what_a_resumption_cannot_replay():
    replay = ReplayBuffer(max_items=3, max_bytes=100_000)
    for index in range(1, 6):
        replay.sent(index, audio(20))
    replay.sent(6, other(5))
    assert (len(replay), replay.evicted) == (3, 3)
    replay.confirm(1)  # covers one evicted frame: that one is not lost
    replay.put_back([other(7)])  # undelivered on a connection that died: goes first
    pending, lost_ms, lost_items = replay.take()
    assert [item.nbytes for item in pending] == [7, 640, 640, 5]
    assert (lost_ms, lost_items) == (40.0, 0)

    by_bytes = ReplayBuffer(max_items=100, max_bytes=1000)
    by_bytes.sent(1, other(900))
    by_bytes.sent(2, audio(5))
    assert (len(by_bytes), by_bytes.nbytes, by_bytes.take()[2]) == (1, 160, 1)


def test_audio_awaiting_a_handle_adds_no_work_for_the_garbage_collector():
    """About 2 s of every session's frames wait for a handle: objects the collector tracks
    would make its full passes (which hold the event loop) longer and more frequent."""
    replay = ReplayBuffer(max_items=10_000, max_bytes=10_000_000)
    pcm = [bytes([n % 256]) * 1280 for n in range(1000)]
    gc.collect()
    before = len(gc.get_objects())
    for index, frame in enumerate(pcm, 1):
        replay.sent(index, audio_input(frame) if index % 2 else frame)
    gc.collect()
    assert len(gc.get_objects()) - before < 100
    pending, _, _ = replay.take()  # and it replays as the audio it was
    assert [item.pcm for item in pending] == pcm
    assert all(item.audio and item.nbytes == 1280 for item in pending)


def test_transcript_history_is_bounded_by_bytes_oldest_turns_first():
    history = TranscriptHistory(max_bytes=35)
    history.typed("hello")
    for event in [TranscriptEvent("model", "Hi "), TranscriptEvent("model", "there")]:
        history.observe(event)
    history.observe(TurnCompleteEvent())
    assert history.turns() == [("user", "hello"), ("model", "Hi there")]
    history.observe(TranscriptEvent("user", "a much longer question, really"))
    history.observe(TurnCompleteEvent())
    assert history.turns() == [("user", "a much longer question, really")]
    assert history.nbytes <= 35
    history.observe(TranscriptEvent("model", "half"))  # a turn under way counts too
    assert history.turns()[-1] == ("model", "half")
    assert "User: a much longer question, really\nYou: half" in history.summary()


def test_a_turn_left_after_its_generation_completed_is_not_interrupted():
    turn = TurnState()
    turn.observe(AudioEvent(b"\x00\x00"))
    turn.generation_complete()  # all audio arrived; only its playback is left
    assert turn.cut() == [TurnCompleteEvent()]
    turn.generation_complete()  # no turn open: nothing to remember
    turn.observe(AudioEvent(b"\x00\x00"))
    assert turn.cut() == [InterruptedEvent(), TurnCompleteEvent()]

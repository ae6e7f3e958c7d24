"""The gemini backend through the real google-genai SDK, against the local simulator."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from speech import frames, silence, speech

from jupyter_gemini_live.backends.base import (
    AudioEvent,
    BackendError,
    BackendUnavailable,
    ErrorEvent,
    Event,
    InterruptedEvent,
    SessionOptions,
    StateEvent,
    ToolCallEvent,
    TranscriptEvent,
    TurnCompleteEvent,
    Upstream,
    UpstreamClosed,
    UsageEvent,
    VadOptions,
)
from jupyter_gemini_live.backends.gemini import GeminiBackend, GeminiUpstream, ReconnectPolicy
from jupyter_gemini_live.simulator import Faults
from jupyter_gemini_live.simulator.protocol import field

MODEL = "gemini-test-live"
TIMEOUT = 15.0
OPTIONS = SessionOptions(
    backend="gemini", model=MODEL, voice="Kore", vad=VadOptions(silence_ms=200)
)


class Listener:
    """Reads an upstream's events in the background, so tests can wait for them."""

    def __init__(self, upstream: Upstream) -> None:
        self.events: list[Event] = []
        self.ended = False
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._read(upstream))

    async def _read(self, upstream: Upstream) -> None:
        async for event in upstream.events():
            self.events.append(event)
            self._changed.set()
        self.ended = True
        self._changed.set()

    async def until(self, predicate: Callable[[Event], bool], count: int = 1) -> Event:
        """Wait until `count` events match; return the last of them."""

        async def wait() -> Event:
            while True:
                matched = [event for event in self.events if predicate(event)]
                if len(matched) >= count:
                    return matched[count - 1]
                if self.ended:
                    raise AssertionError(f"events ended first: {self.events}")
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(wait(), TIMEOUT)

    async def turns(self, count: int) -> None:
        await self.until(lambda e: isinstance(e, TurnCompleteEvent), count)

    async def end(self) -> None:
        await asyncio.wait_for(self._task, TIMEOUT)

    def of(self, kind: type) -> list[Any]:
        return [event for event in self.events if isinstance(event, kind)]

    def text(self, role: str) -> str:
        return "".join(e.text for e in self.of(TranscriptEvent) if e.role == role)

    def audio_seconds(self, events: Iterable[Event] | None = None) -> float:
        chosen = self.events if events is None else events
        return sum(len(e.pcm) for e in chosen if isinstance(e, AudioEvent)) / 2 / 24000


def dig(message: Any, *names: str) -> Any:
    """A nested field of a client message, whatever the casing the SDK used."""
    for name in names:
        message = field(message, name)
    return message


async def talk(upstream: Upstream, pcm: bytes, pace: float = 0.005) -> None:
    """Send 20 ms frames, faster than real time: the simulator's VAD counts samples."""
    for frame in frames(pcm):
        await upstream.send_audio(frame)
        await asyncio.sleep(pace)


async def test_audio_round_trip_with_transcripts_in_order(make_simulator, make_backend):
    async with make_simulator(playback_speed=4.0) as sim:
        upstream = await make_backend(sim).connect(OPTIONS)
        listener = Listener(upstream)
        await talk(upstream, speech(1.0) + silence(0.4))
        await listener.turns(1)
        await upstream.close()
        await listener.end()

    assert listener.audio_seconds() == pytest.approx(1.0, abs=0.25)
    assert sim.conversations[0].audio_in_ms == pytest.approx(1400)
    assert listener.text("user") == "(1.0 s of speech)"
    assert listener.text("model") == "Turn 1: you spoke for 1.0 seconds."
    kinds = [type(e).__name__ for e in listener.events if not isinstance(e, AudioEvent)]
    # the user's words come first and are final at once (the service said "finished");
    # the backend invents no other final: the session settles the model's text at
    # turn_complete (tests/backends/test_gemini_session.py), and the turn completes last
    transcripts = listener.of(TranscriptEvent)
    assert transcripts[0].role == "user"
    assert [(t.role, t.text) for t in transcripts if t.final] == [("user", "(1.0 s of speech)")]
    assert kinds.index("TurnCompleteEvent") > max(
        i for i, k in enumerate(kinds) if k == "TranscriptEvent"
    )
    assert listener.of(UsageEvent)[0].usage["total_token_count"] > 0


async def test_text_turn_and_options_reach_the_service(make_simulator, make_backend):
    options = SessionOptions(
        backend="gemini",
        model=MODEL,
        voice="Kore",
        language="de-DE",
        system_instruction="Be brief.",
        vad=VadOptions(silence_ms=300, prefix_padding_ms=40, start_sensitivity="high"),
    )
    async with make_simulator(playback_speed=8.0) as sim:
        upstream = await make_backend(sim).connect(options)
        listener = Listener(upstream)
        await upstream.send_text("hello there")
        await listener.turns(1)
        await upstream.send_text("again")
        await listener.turns(2)
        await upstream.close()

    assert listener.text("model") == "Turn 1: you said: hello thereTurn 2: you said: again"
    assert listener.audio_seconds() > 0.5
    setup = sim.conversations[0].setups[0]
    assert setup["model"] == f"models/{MODEL}"
    speech_config = dig(setup, "generation_config", "speech_config")
    assert dig(speech_config, "voice_config", "prebuilt_voice_config", "voice_name") == "Kore"
    assert dig(speech_config, "language_code") == "de-DE"
    assert dig(setup, "context_window_compression", "sliding_window") == {}
    assert dig(setup, "session_resumption") == {}
    detection = dig(setup, "realtime_input_config", "automatic_activity_detection")
    assert dig(detection, "silence_duration_ms") == 300
    assert dig(detection, "start_of_speech_sensitivity") == "START_SENSITIVITY_HIGH"
    assert dig(setup, "system_instruction", "parts") == [{"text": "Be brief."}]


async def test_interruption_drops_the_rest_of_the_turn(make_simulator, make_backend):
    async with make_simulator(reply_lead_s=0.2) as sim:
        upstream = await make_backend(sim).connect(OPTIONS)
        listener = Listener(upstream)
        await talk(upstream, speech(2.0) + silence(0.3), pace=0.002)
        await listener.until(lambda e: isinstance(e, AudioEvent))
        await talk(upstream, speech(0.5) + silence(0.3), pace=0.002)
        await listener.turns(2)
        await upstream.close()

    interrupted = listener.events.index(listener.of(InterruptedEvent)[0])
    first_end = listener.events.index(listener.of(TurnCompleteEvent)[0])
    assert interrupted < first_end
    assert not [e for e in listener.events[interrupted:first_end] if isinstance(e, AudioEvent)]
    assert listener.audio_seconds(listener.events[:interrupted]) < 1.5
    assert sim.conversations[0].interruptions == 1


async def test_tool_call_answered(make_simulator, make_backend):
    tool = {
        "name": "get_time",
        "description": "The time in a zone.",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}},
    }
    options = SessionOptions(backend="gemini", model=MODEL, voice="Puck", tools=(tool,))
    async with make_simulator(playback_speed=8.0) as sim:
        upstream = await make_backend(sim).connect(options)
        listener = Listener(upstream)
        await upstream.send_text('call get_time {"zone": "UTC"}')
        call = await listener.until(lambda e: isinstance(e, ToolCallEvent))
        assert isinstance(call, ToolCallEvent)
        assert (call.name, dict(call.args)) == ("get_time", {"zone": "UTC"})
        await upstream.send_tool_response(call.id, call.name, {"time": "noon"})
        await listener.turns(1)
        await upstream.close()

    assert 'get_time returned {"time": "noon"}' in listener.text("model")
    conversation = sim.conversations[0]
    assert conversation.tool_responses == [
        {"id": call.id, "name": "get_time", "response": {"time": "noon"}}
    ]
    declared = dig(conversation.setups[0], "tools")[0]
    assert dig(declared, "function_declarations")[0]["name"] == "get_time"


async def test_go_away_mid_utterance_loses_no_input(make_simulator, make_backend):
    utterance = frames(speech(1.5) + silence(0.4))
    async with make_simulator(playback_speed=4.0) as sim:
        upstream = await make_backend(sim).connect(OPTIONS)
        listener = Listener(upstream)
        for index, frame in enumerate(utterance):
            if index == 25:  # half a second into the utterance
                await sim.go_away(time_left_s=5.0)
            await upstream.send_audio(frame)
            await asyncio.sleep(0.005)
        await listener.turns(1)
        await upstream.close()

    assert isinstance(upstream, GeminiUpstream)
    states = [e.state for e in listener.of(StateEvent)]
    assert states == ["reconnecting", "live"]
    conversation = sim.conversations[0]
    assert len(sim.conversations) == 1
    assert conversation.connections == 2
    assert conversation.overlapping_connections == 0  # the old socket closed first
    assert conversation.audio_in_bytes == sum(len(f) for f in utterance)
    assert upstream.dropped_ms == 0
    # the resumed connection heard the whole utterance: the reply echoes all of it
    assert listener.text("user") == "(1.5 s of speech)"
    assert listener.audio_seconds() == pytest.approx(1.5, abs=0.25)


async def test_internal_error_resumes_the_conversation(make_simulator, make_backend):
    async with make_simulator(playback_speed=8.0) as sim:
        upstream = await make_backend(sim).connect(OPTIONS)
        listener = Listener(upstream)
        await upstream.send_text("one")
        await listener.turns(1)
        await sim.drop(1011)
        await listener.until(lambda e: e == StateEvent("live"))
        await upstream.send_text("two")
        await listener.turns(2)
        await upstream.close()

    assert [e.state for e in listener.of(StateEvent)] == ["reconnecting", "live"]
    assert listener.text("model").endswith("Turn 2: you said: two")
    assert sim.conversations[0].connections == 2
    assert not listener.of(ErrorEvent)


async def test_slow_reconnect_holds_a_bounded_amount_of_audio(make_simulator, make_backend):
    policy = ReconnectPolicy(first_delay_s=0.05, hold_ms=200)
    async with make_simulator() as sim:
        upstream = await make_backend(sim, policy=policy).connect(OPTIONS)
        listener = Listener(upstream)
        sim.faults.message_delay = 0.5  # the next setupComplete comes late
        await sim.drop(1011)
        await listener.until(lambda e: e == StateEvent("reconnecting"))
        await talk(upstream, silence(0.4), pace=0)
        await listener.until(lambda e: e == StateEvent("live"))
        conversation = sim.conversations[0]
        await asyncio.wait_for(_until(lambda: conversation.audio_in_ms >= 200), TIMEOUT)
        await upstream.close()

    assert isinstance(upstream, GeminiUpstream)
    assert upstream.dropped_ms == pytest.approx(200)
    assert upstream.dropped_input_ms() == upstream.dropped_ms  # what session stats add
    assert sim.conversations[0].audio_in_ms == pytest.approx(200)
    dropped = listener.of(ErrorEvent)
    assert [(e.code, e.fatal) for e in dropped] == [("input_dropped", False)]


async def test_refused_model_fails_connect_with_its_name(make_simulator, make_backend):
    async with make_simulator(faults=Faults(refuse_models={MODEL})) as sim:
        with pytest.raises(BackendError) as caught:
            await make_backend(sim).connect(OPTIONS)
    assert caught.value.code == "model_refused"
    assert MODEL in caught.value.message
    assert "c.GeminiLive.model" in caught.value.message
    assert sim.close_codes == [1008]


async def test_refused_model_on_reconnect_is_fatal(make_simulator, make_backend):
    async with make_simulator() as sim:
        upstream = await make_backend(sim).connect(OPTIONS)
        listener = Listener(upstream)
        sim.faults.refuse_models.add(MODEL)
        await sim.drop(1011)
        await listener.end()
        with pytest.raises(UpstreamClosed):
            await upstream.send_text("anyone?")
        await upstream.close()

    error = listener.events[-1]
    assert isinstance(error, ErrorEvent)
    assert (error.code, error.fatal) == ("model_refused", True)
    assert MODEL in error.message


async def test_bad_key_is_refused_clearly(make_simulator, make_backend):
    async with make_simulator() as sim:
        with pytest.raises(BackendError) as caught:
            await make_backend(sim, api_key="wrong-key").connect(OPTIONS)
    assert caught.value.code == "bad_api_key"
    assert "API key not valid" in caught.value.message
    assert "GOOGLE_API_KEY" in caught.value.message
    assert sim.close_codes == [1007]


async def test_reconnect_gives_up_with_a_fatal_error(make_simulator, make_backend):
    async with make_simulator() as sim:
        upstream = await make_backend(sim).connect(OPTIONS)
        listener = Listener(upstream)
        await sim.stop()  # nobody answers any more
        await sim.drop(1011)
        await listener.end()
        await upstream.close()

    error = listener.events[-1]
    assert isinstance(error, ErrorEvent)
    assert (error.code, error.fatal) == ("reconnect_failed", True)
    assert listener.events[0] == StateEvent("reconnecting")


async def test_manual_activity_detection(make_simulator, make_backend):
    options = SessionOptions(
        backend="gemini", model=MODEL, voice="Puck", activity_detection="manual"
    )
    async with make_simulator(playback_speed=8.0) as sim:
        upstream = await make_backend(sim).connect(options)
        listener = Listener(upstream)
        await upstream.activity_start()
        await talk(upstream, speech(0.6) + silence(1.0))  # silence alone ends nothing
        await upstream.activity_end()
        await listener.turns(1)
        await upstream.send_text("typed")
        await listener.turns(2)
        await upstream.close()

    assert listener.text("user") == "(1.6 s of speech)"
    assert listener.text("model").endswith("Turn 2: you said: typed")
    setup = sim.conversations[0].setups[0]
    assert dig(setup, "realtime_input_config", "automatic_activity_detection") == {"disabled": True}


async def test_stream_end_flushes_pending_speech_and_images_pass(make_simulator, make_backend):
    async with make_simulator(playback_speed=8.0) as sim:
        upstream = await make_backend(sim).connect(OPTIONS)
        listener = Listener(upstream)
        await upstream.send_image("image/jpeg", b"\xff\xd8\xff\xe0fake")
        await talk(upstream, speech(0.5))
        await upstream.audio_stream_end()
        await listener.turns(1)
        await upstream.close()
    assert listener.text("user") == "(0.5 s of speech)"
    assert sim.conversations[0].images == 1


async def test_close_is_idempotent_and_ends_everything(make_simulator, make_backend):
    async with make_simulator() as sim:
        upstream = await make_backend(sim).connect(OPTIONS)
        listener = Listener(upstream)
        await asyncio.gather(upstream.close(), upstream.close())
        await upstream.close()
        await listener.end()
        with pytest.raises(UpstreamClosed):
            await upstream.send_audio(bytes(640))
        await asyncio.wait_for(_until(lambda: sim.open_connections == 0), TIMEOUT)
    assert listener.events == []


async def _until(condition: Callable[[], bool]) -> None:
    # The simulator's records have no change notification; a short poll is enough here.
    while not condition():  # noqa: ASYNC110
        await asyncio.sleep(0.01)


async def test_unavailable_without_a_key():
    backend = GeminiBackend(api_key=None)
    reason = backend.unavailable_reason()
    assert reason is not None
    assert "GOOGLE_API_KEY" in reason
    with pytest.raises(BackendUnavailable):
        await backend.connect(OPTIONS)


def test_available_with_a_key():
    assert GeminiBackend(api_key="k").unavailable_reason() is None

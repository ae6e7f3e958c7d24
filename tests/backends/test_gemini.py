"""The gemini backend through the real google-genai SDK, against the local simulator."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from google.genai import types
from speech import frames, silence, speech

from jupyter_gemini_live.backends.base import (
    INPUT_RATE,
    AudioEvent,
    BackendError,
    BackendUnavailable,
    ErrorEvent,
    Event,
    GenerationCompleteEvent,
    InterruptedEvent,
    NewConnectionEvent,
    SessionOptions,
    StateEvent,
    ToolCallCancelledEvent,
    ToolCallEvent,
    TranscriptEvent,
    TurnCompleteEvent,
    Upstream,
    UpstreamClosed,
    UsageEvent,
    VadOptions,
)
from jupyter_gemini_live.backends.gemini import (
    GeminiBackend,
    GeminiUpstream,
    HeldInput,
    HoldBuffer,
    Mapped,
    ReconnectPolicy,
    TurnState,
    live_config,
    lost_input,
    map_json,
    map_message,
)
from jupyter_gemini_live.models import MODELS, capabilities
from jupyter_gemini_live.simulator import Faults
from jupyter_gemini_live.simulator import protocol as wire
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


#: events the order checks leave out
NOT_COUNTED = (AudioEvent, TranscriptEvent, GenerationCompleteEvent, NewConnectionEvent)


def gate_reconnects(upstream: Any, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Hold the upstream's next connection until the returned event is set: input sent
    meanwhile can only reach the service through the hold buffer."""
    gate = asyncio.Event()
    open_connection = upstream._open

    async def gated_open(**kwargs: Any) -> Any:
        await gate.wait()
        return await open_connection(**kwargs)

    monkeypatch.setattr(upstream, "_open", gated_open)
    return gate


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


async def typed_turn(backend: Any, options: SessionOptions, text: str) -> Listener:
    """Connect, type `text`, wait for the whole turn, close; the listener heard it all."""
    upstream = await backend.connect(options)
    listener = Listener(upstream)
    await upstream.send_text(text)
    await listener.turns(1)
    await upstream.close()
    return listener


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


async def test_scheduling_goes_where_the_model_takes_it(make_simulator, make_backend):
    tool = {"name": "lamp", "description": "A lamp.", "behavior": "NON_BLOCKING"}
    options = SessionOptions(backend="gemini", model="gemini-3.8-live", voice="Puck", tools=(tool,))
    async with make_simulator(playback_speed=8.0) as sim:
        upstream = await make_backend(sim).connect(options)
        listener = Listener(upstream)
        await upstream.send_text("call lamp {}")
        call = await listener.until(lambda e: isinstance(e, ToolCallEvent))
        assert isinstance(call, ToolCallEvent)
        await upstream.send_tool_response(call.id, call.name, {"ok": True}, "SILENT")
        await listener.turns(1)
        await upstream.close()

    assert sim.conversations[0].tool_responses == [
        {"id": call.id, "name": "lamp", "response": {"ok": True}, "scheduling": "SILENT"}
    ]
    assert not listener.of(AudioEvent)  # a silent answer says nothing
    assert not listener.of(ErrorEvent)


async def test_scheduling_is_dropped_where_the_model_has_none(make_simulator, make_backend):
    options = SessionOptions(backend="gemini", model="gemini-3.1-flash-live-preview", voice="Puck")
    async with make_simulator(playback_speed=8.0) as sim:
        upstream = await make_backend(sim).connect(options)
        listener = Listener(upstream)
        for turn in (1, 2):
            await upstream.send_text("call lamp {}")
            call = await listener.until(lambda e: isinstance(e, ToolCallEvent), turn)
            assert isinstance(call, ToolCallEvent)
            await upstream.send_tool_response(call.id, call.name, {"n": turn}, "WHEN_IDLE")
            await listener.turns(turn)
        await upstream.close()

    # the answers went (without the field the model would refuse), told once
    assert [r.get("scheduling") for r in sim.conversations[0].tool_responses] == [None, None]
    assert sim.conversations[0].connections == 1
    errors = listener.of(ErrorEvent)
    assert [(e.code, e.fatal) for e in errors] == [("scheduling_unsupported", False)]
    assert "gemini-3.8-live" in errors[0].message


@pytest.mark.parametrize("way", ["queued", "at_once"])
async def test_drop_mid_utterance_loses_no_input(make_simulator, make_backend, monkeypatch, way):
    """`at_once` sends as the session does: `send_audio_now` (written in the caller's turn
    while the connection is free, refused while it is not), else `send_audio`."""
    utterance = frames(speech(1.5) + silence(0.4))
    async with make_simulator(playback_speed=4.0) as sim:
        upstream = await make_backend(sim).connect(OPTIONS)
        assert isinstance(upstream, GeminiUpstream)
        listener = Listener(upstream)
        if way == "at_once":
            async with upstream._send_lock:  # another send under way
                assert not upstream.send_audio_now(utterance[0])
        gate = gate_reconnects(upstream, monkeypatch)
        at_once = []
        for index, frame in enumerate(utterance):
            if index == 25:  # half a second into the utterance
                await sim.drop(1011)
                await listener.until(lambda e: e == StateEvent("reconnecting"))
            if index == 50:
                gate.set()
            at_once.append(way == "at_once" and upstream.send_audio_now(frame))
            if not at_once[-1]:
                await upstream.send_audio(frame)
            await asyncio.sleep(0.005)
        await listener.turns(1)
        await upstream.close()

    if way == "at_once":
        assert all(at_once[:25]), at_once  # a free connection: written at once
        assert not any(at_once[25:50]), at_once  # reconnecting: held by `send_audio`
    # frames 25 to 49 at least were sent while no connection was open
    assert upstream.held.held >= 25
    states = [e.state for e in listener.of(StateEvent)]
    assert states == ["reconnecting", "live"]
    conversation = sim.conversations[0]
    assert len(sim.conversations) == 1
    assert conversation.connections == 2
    assert conversation.overlapping_connections == 0  # the old socket closed first
    # what the resumed state holds is exactly what was sent: the frames the old
    # connection took after its last handle (written at once or not) were replayed, the
    # held ones sent
    assert conversation.audio_in_bytes == sum(len(f) for f in utterance)
    assert upstream.dropped_ms == 0
    # the resumed connection heard the whole utterance: the reply echoes all of it
    assert listener.text("user") == "(1.5 s of speech)"
    assert listener.audio_seconds() == pytest.approx(1.5, abs=0.25)


async def test_go_away_mid_utterance_waits_for_its_end(make_simulator, make_backend):
    utterance = frames(speech(1.5) + silence(0.4))
    async with make_simulator(playback_speed=4.0) as sim:
        upstream = await make_backend(sim).connect(OPTIONS)
        listener = Listener(upstream)
        for index, frame in enumerate(utterance):
            if index == 25:  # half a second into the utterance
                await sim.go_away(time_left_s=8.0)
            await upstream.send_audio(frame)
            await asyncio.sleep(0.005)
        await listener.turns(1)
        conversation = sim.conversations[0]
        await asyncio.wait_for(_until(lambda: conversation.connections == 2), TIMEOUT)
        await upstream.close()

    # the utterance and its reply both happened on the old connection, in full; the
    # move to the new one came after, and the user saw nothing of it
    assert listener.text("user") == "(1.5 s of speech)"
    assert listener.audio_seconds() == pytest.approx(1.5, abs=0.25)
    assert not listener.of(StateEvent)
    assert not listener.of(InterruptedEvent)
    assert conversation.turns == 1
    assert conversation.resumptions == 1
    assert conversation.audio_in_bytes == sum(len(f) for f in utterance)


async def test_reply_under_way_finishes_before_the_go_away_reconnect(make_simulator, make_backend):
    async with make_simulator(playback_speed=4.0) as sim:
        upstream = await make_backend(sim).connect(OPTIONS)
        listener = Listener(upstream)
        await upstream.send_text("a long enough question")
        await listener.until(lambda e: isinstance(e, AudioEvent))
        await sim.go_away(time_left_s=5.0)
        conversation = sim.conversations[0]
        await asyncio.wait_for(_until(lambda: conversation.connections == 2), TIMEOUT)
        await upstream.send_text("again")
        await listener.turns(2)
        await upstream.close()

    kinds = [type(e) for e in listener.events if not isinstance(e, NOT_COUNTED)]
    # the first reply played to its end on the old connection: no cut, no state change
    assert kinds == [UsageEvent, TurnCompleteEvent, UsageEvent, TurnCompleteEvent]
    assert listener.text("model") == (
        "Turn 1: you said: a long enough questionTurn 2: you said: again"
    )
    assert conversation.connections == 2


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


async def test_reply_cut_by_a_drop_ends_interrupted(make_simulator, make_backend):
    async with make_simulator() as sim:
        upstream = await make_backend(sim).connect(OPTIONS)
        listener = Listener(upstream)
        await upstream.send_text("tell me something")
        await listener.until(lambda e: isinstance(e, AudioEvent))
        await sim.drop(1011)
        await listener.until(lambda e: e == StateEvent("live"))
        await upstream.close()

    kinds = [type(e) for e in listener.events if not isinstance(e, NOT_COUNTED)]
    assert kinds == [InterruptedEvent, TurnCompleteEvent, StateEvent, StateEvent]


@pytest.mark.parametrize("compression", [False, True])
async def test_upstream_websocket_deflates_only_when_asked(
    make_simulator, make_backend, compression
):
    async with make_simulator() as sim:
        upstream = await make_backend(sim, compression=compression).connect(OPTIONS)
        [link] = sim.links()
        assert link.ws.request is not None
        assert link.ws.response is not None
        offered = link.ws.request.headers.get("Sec-WebSocket-Extensions")
        agreed = link.ws.response.headers.get("Sec-WebSocket-Extensions")
        await upstream.close()

    if compression:
        assert "permessage-deflate" in offered
        assert "permessage-deflate" in agreed
    else:
        assert (offered, agreed) == (None, None)


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


# ---- the mapper, message by message ------------------------------------------------------


def message(body: dict[str, Any]) -> types.LiveServerMessage:
    """A service message as the SDK parses it from the wire JSON."""
    return types.LiveServerMessage.model_validate(body)


def content(**fields: Any) -> types.LiveServerMessage:
    return message({"serverContent": fields})


def audio_part(pcm: bytes) -> dict[str, Any]:
    return {"inlineData": {"mimeType": wire.OUTPUT_MIME, "data": wire.encode_bytes(pcm)}}


FAST_MESSAGES = [
    {"modelTurn": {"role": "model", "parts": [audio_part(b"\x01\x00" * 300)]}},
    {"modelTurn": {"parts": [audio_part(b"\x01\x00"), audio_part(b"\xfb\xff")]}},
    {"modelTurn": {"parts": [{"inlineData": {"data": "-_-_", "mimeType": "audio/pcm"}}]}},
    {"modelTurn": {"parts": [{"inlineData": {"data": "", "mimeType": "audio/pcm"}}]}},
    {"inputTranscription": {"text": "hel"}},
    {"inputTranscription": {"text": "lo", "finished": True}},
    {"outputTranscription": {"text": ""}},
    {"outputTranscription": {"finished": True}},
    {"interrupted": True},
    {"interrupted": False, "turnComplete": True},
    {"generationComplete": True},
    {
        "inputTranscription": {"text": "a"},
        "modelTurn": {"parts": [audio_part(b"\x02\x00")]},
        "outputTranscription": {"text": "b", "finished": True},
        "interrupted": True,
        "generationComplete": True,
        "turnComplete": True,
    },
]
SDK_MESSAGES = [
    {"serverContent": {"modelTurn": {"parts": [{"text": "thought"}]}}},
    {"serverContent": {"turnComplete": True, "turnCompleteReason": "NEED_MORE_INPUT"}},
    {"serverContent": {"interimInputTranscription": {"text": "x"}}},
    {"serverContent": {"turnComplete": True}, "usageMetadata": {"totalTokenCount": 3}},
    {"serverContent": {"interrupted": "yes"}},
    {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"data": "!!"}}]}}},
    {"sessionResumptionUpdate": {"newHandle": "h", "resumable": "yes"}},
    {"sessionResumptionUpdate": {"newHandle": "h", "lastConsumedClientMessageIndex": "-1"}},
    {"sessionResumptionUpdate": {"newHandle": "h", "resumable": True, "other": 1}},
    {"sessionResumptionUpdate": ["h"]},
    {"sessionResumptionUpdate": {}, "usageMetadata": {"totalTokenCount": 3}},
    {"goAway": {"timeLeft": "5s"}},
    {"toolCall": {"functionCalls": [{"id": "1", "name": "f", "args": {}}]}},
    {},
]


FAST_UPDATES = [
    {"newHandle": "h", "resumable": True},
    {"newHandle": "h", "resumable": True, "lastConsumedClientMessageIndex": "52"},
    {"newHandle": "h", "resumable": True, "lastConsumedClientMessageIndex": 7},
    {"newHandle": "h", "resumable": False, "lastConsumedClientMessageIndex": "52"},
    {"newHandle": "", "resumable": True},
    {"resumable": False},
    {},
]


@pytest.mark.parametrize(
    "wire_json",
    [{"serverContent": body} for body in FAST_MESSAGES]
    + [{"sessionResumptionUpdate": body} for body in FAST_UPDATES],
)
def test_common_messages_map_from_their_json_as_from_the_sdk(wire_json: dict[str, Any]) -> None:
    """The downlink reads reply audio, transcriptions, turn ends and resumption handles
    from the JSON itself (issue 11): the same events as the SDK's parse."""
    assert map_json(wire_json) == map_message(message(wire_json))


@pytest.mark.parametrize("body", SDK_MESSAGES)
def test_other_messages_are_left_to_the_sdk(body: dict[str, Any]) -> None:
    assert map_json(body) is None


async def test_reply_audio_skips_the_sdk_conversion(
    make_simulator: Any, make_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    converted: list[Any] = []
    convert = types.LiveServerMessage._from_response

    def spy(*args: Any, **kwargs: Any) -> Any:
        converted.append(kwargs.get("response"))
        return convert(*args, **kwargs)

    monkeypatch.setattr(types.LiveServerMessage, "_from_response", spy)
    async with make_simulator(playback_speed=8.0) as sim:
        listener = await typed_turn(make_backend(sim), OPTIONS, "hello")
    assert listener.of(AudioEvent)
    assert listener.text("model") == "Turn 1: you said: hello"
    # the first is load_sdk's, which builds the schemas
    assert not any("modelTurn" in str(response) for response in converted[1:])


def test_audio_parts_become_audio_events_in_order():
    parts = [audio_part(b"\x01\x00"), {"text": "thought"}, audio_part(b"\x02\x00")]
    mapped = map_message(content(modelTurn={"role": "model", "parts": parts}))
    assert mapped.events == (AudioEvent(b"\x01\x00"), AudioEvent(b"\x02\x00"))
    assert mapped.progress


def test_transcription_deltas_and_finished():
    assert map_message(content(inputTranscription={"text": "hel"})).events == (
        TranscriptEvent("user", "hel"),
    )
    assert map_message(content(outputTranscription={"text": "lo"})).events == (
        TranscriptEvent("model", "lo"),
    )
    finished = content(inputTranscription={"text": "lo", "finished": True})
    assert map_message(finished).events == (TranscriptEvent("user", "lo", final=True),)
    # an empty "finished" is passed on: the session knows whether anything is open
    empty = content(outputTranscription={"finished": True})
    assert map_message(empty).events == (TranscriptEvent("model", "", final=True),)
    assert map_message(content(outputTranscription={"text": ""})).events == ()


def test_one_message_keeps_the_service_order():
    mixed = content(
        inputTranscription={"text": "you"},
        modelTurn={"parts": [audio_part(b"\x00\x00")]},
        outputTranscription={"text": "me"},
        interrupted=True,
        turnComplete=True,
    )
    assert map_message(mixed).events == (
        TranscriptEvent("user", "you"),
        AudioEvent(b"\x00\x00"),
        TranscriptEvent("model", "me"),
        InterruptedEvent(),
        TurnCompleteEvent(),
    )


def test_interrupted_and_turn_complete_report_only_what_happened():
    # no synthesized finals, and no muting: the session owns both rules
    assert map_message(content(interrupted=True)).events == (InterruptedEvent(),)
    assert map_message(content(turnComplete=True)).events == (TurnCompleteEvent(),)
    assert map_message(content(generationComplete=True)) == Mapped(
        events=(GenerationCompleteEvent(),), progress=True, generation_complete=True
    )


def test_tool_calls_and_cancellation():
    calls = message(
        {"toolCall": {"functionCalls": [
            {"id": "c1", "name": "get_time", "args": {"zone": "UTC"}},
            {"id": "c2", "name": "noop"},
        ]}}
    )  # fmt: skip
    mapped = map_message(calls)
    assert mapped.events == (
        ToolCallEvent("c1", "get_time", {"zone": "UTC"}),
        ToolCallEvent("c2", "noop", {}),
    )
    assert mapped.progress
    cancelled = map_message(message({"toolCallCancellation": {"ids": ["c1", "c2"]}}))
    assert cancelled.events == (ToolCallCancelledEvent(("c1", "c2")),)
    assert not cancelled.progress


def test_usage_is_reported_as_given_and_before_the_turn_it_closes():
    usage = wire.usage({"TEXT": 10}, {"AUDIO": 20})["usageMetadata"]
    mapped = map_message(message({"usageMetadata": usage, "serverContent": {"turnComplete": True}}))
    assert mapped.events == (
        UsageEvent(
            {
                "prompt_token_count": 10,
                "response_token_count": 20,
                "total_token_count": 30,
                "prompt_tokens_details": [{"modality": "TEXT", "token_count": 10}],
                "response_tokens_details": [{"modality": "AUDIO", "token_count": 20}],
            }
        ),
        TurnCompleteEvent(),
    )


def test_resumption_updates_give_only_resumable_handles():
    assert map_message(message(wire.resumption_update("h1", resumable=True))) == Mapped(handle="h1")
    assert map_message(message(wire.resumption_update("h2", resumable=False))) == Mapped()
    empty = message({"sessionResumptionUpdate": {"newHandle": "", "resumable": True}})
    assert map_message(empty) == Mapped()


def test_go_away_and_setup_complete():
    assert map_message(message(wire.go_away(50))) == Mapped(go_away_s=50.0)
    assert map_message(message(wire.go_away(1.5))).go_away_s == 1.5
    assert map_message(message(wire.setup_complete())) == Mapped()


# ---- which turn is open ----------------------------------------------------------------------


def test_turn_state_opens_on_what_belongs_to_a_turn():
    turn = TurnState()
    turn.observe(UsageEvent({}))
    turn.observe(TranscriptEvent("user", "", final=True))
    assert not turn.open
    assert turn.cut() == []
    turn.observe(TranscriptEvent("user", "hi"))
    assert turn.open
    turn.observe(TurnCompleteEvent())
    assert not turn.open


def test_a_cut_turn_ends_interrupted_only_if_the_model_spoke():
    turn = TurnState()
    turn.observe(TranscriptEvent("user", "hi", final=True))
    assert turn.cut() == [TurnCompleteEvent()]
    assert not turn.open
    turn.observe(AudioEvent(b"\x00\x00"))
    assert turn.cut() == [InterruptedEvent(), TurnCompleteEvent()]
    assert turn.cut() == []


def test_a_turn_interrupted_already_is_not_interrupted_twice():
    turn = TurnState()
    turn.observe(AudioEvent(b"\x00\x00"))
    turn.observe(InterruptedEvent())
    assert turn.open  # until the service's turn_complete
    assert turn.cut() == [TurnCompleteEvent()]


# ---- the hold buffer -------------------------------------------------------------------------


async def _nothing(session: Any) -> None:
    pass


def audio(ms: float) -> HeldInput:
    return HeldInput(_nothing, round(ms * INPUT_RATE * 2 / 1000), audio=True)


def other(nbytes: int = 10) -> HeldInput:
    return HeldInput(_nothing, nbytes)


def test_hold_buffer_keeps_order_and_counts_what_it_held():
    buffer = HoldBuffer(max_audio_ms=1000, max_items=10, max_bytes=10_000)
    items = [audio(20), other(5), audio(20)]
    for item in items:
        buffer.push(item)
    assert (len(buffer), buffer.held, buffer.audio_ms, buffer.nbytes) == (3, 3, 40, 1285)
    assert [buffer.pop_first() for _ in range(3)] == items
    assert (len(buffer), buffer.held, buffer.audio_ms, buffer.nbytes) == (0, 3, 0, 0)
    assert (buffer.dropped_ms, buffer.dropped_items) == (0, 0)


def test_hold_buffer_bounds_audio_by_duration_dropping_the_oldest_audio():
    buffer = HoldBuffer(max_audio_ms=100, max_items=100, max_bytes=1_000_000)
    text = other()
    buffer.push(text)
    frames = [audio(20) for _ in range(8)]
    for frame in frames:
        buffer.push(frame)
    assert buffer.audio_ms == 100
    assert buffer.dropped_ms == 60
    assert buffer.dropped_items == 0  # the text stays: only audio made room for audio
    assert buffer.first() is text
    assert [buffer.pop_first() for _ in range(len(buffer))] == [text, *frames[3:]]


def test_hold_buffer_bounds_items_and_bytes_dropping_the_oldest():
    by_count = HoldBuffer(max_audio_ms=10_000, max_items=3, max_bytes=1_000_000)
    for item in [other(), audio(20), other(), other()]:
        by_count.push(item)
    assert (len(by_count), by_count.dropped_items, by_count.dropped_ms) == (3, 1, 0)
    by_count.push(other())
    assert (len(by_count), by_count.dropped_items, by_count.dropped_ms) == (3, 1, 20)

    by_bytes = HoldBuffer(max_audio_ms=10_000, max_items=100, max_bytes=1000)
    image = other(900)
    by_bytes.push(image)
    by_bytes.push(audio(5))  # 160 bytes: the image goes
    assert (len(by_bytes), by_bytes.nbytes, by_bytes.dropped_items) == (1, 160, 1)
    by_bytes.push(other(5000))  # larger than the bound itself: nothing can stay
    assert (len(by_bytes), by_bytes.nbytes, by_bytes.dropped_items) == (0, 0, 2)
    assert by_bytes.dropped_ms == 5


def test_what_a_reconnect_lost_is_said_plainly():
    assert lost_input(0, 0) == ""
    assert lost_input(200, 0) == "200 ms of microphone audio were lost while reconnecting."
    assert (
        lost_input(0, 1)
        == "1 other input (text, images, tool results) was lost while reconnecting."
    )
    assert lost_input(20, 2) == (
        "20 ms of microphone audio and 2 other inputs (text, images, tool results) "
        "were lost while reconnecting."
    )


# ---- the setup follows the capability table (models.py) --------------------------------


def setup_of(options: SessionOptions) -> dict[str, Any]:
    """The `setup` the SDK would send for `options` (Developer API)."""
    from google import genai
    from google.genai import _common, _live_converters

    client = genai.Client(api_key="x")
    config = live_config(options, None)
    params = types.LiveConnectParameters(model=f"models/{options.model}", config=config)
    converted = _live_converters._LiveConnectParameters_to_mldev(
        api_client=client._api_client, from_object=params.model_dump(exclude_none=True)
    )
    setup: dict[str, Any] = _common.convert_to_dict(converted)["setup"]
    return setup


TOOLS = ({"name": "slow"}, {"name": "quick", "behavior": "BLOCKING"})


def behaviors(setup: dict[str, Any]) -> list[Any]:
    return [
        declaration.get("behavior")
        for tool in setup.get("tools", [])
        for declaration in tool.get("functionDeclarations", [])
    ]


def test_setup_of_gemini_3_8_live():
    setup = setup_of(
        SessionOptions(
            backend="gemini",
            model="gemini-3.8-live",
            voice="Puck",
            tools=TOOLS,
            google_search=True,
            media_resolution="low",
            proactive_audio=True,  # always on: nothing to send
        )
    )
    assert behaviors(setup) == ["NON_BLOCKING", "BLOCKING"]
    assert {"googleSearch": {}} in setup["tools"]
    generation = setup["generationConfig"]
    assert generation["mediaResolution"] == "MEDIA_RESOLUTION_LOW"
    assert "thinkingConfig" not in generation
    assert "enableAffectiveDialog" not in generation
    assert "proactivity" not in setup


def test_setup_of_the_extended_thinking_model():
    setup = setup_of(
        SessionOptions(
            backend="gemini",
            model="gemini-3.8-live-extended-thinking",
            voice="Puck",
            tools=({"name": "slow"},),
            thinking_level="high",
        )
    )
    assert behaviors(setup) == ["NON_BLOCKING"]
    assert dig(setup, "generation_config", "thinking_config", "thinking_level") == "HIGH"


def test_setup_of_the_legacy_3_1_model_sends_no_behavior():
    setup = setup_of(
        SessionOptions(
            backend="gemini",
            model="gemini-3.1-flash-live-preview",
            voice="Puck",
            tools=TOOLS,
            thinking_level="minimal",
        )
    )
    assert behaviors(setup) == [None, None]
    assert dig(setup, "generation_config", "thinking_config", "thinking_level") == "MINIMAL"


def test_setup_of_the_2_5_native_audio_model():
    setup = setup_of(
        SessionOptions(
            backend="gemini",
            model="gemini-2.5-flash-native-audio-preview-12-2025",
            voice="Puck",
            tools=({"name": "slow"}, {"name": "bg", "behavior": "NON_BLOCKING"}),
            proactive_audio=False,
            affective_dialog=True,
        )
    )
    assert behaviors(setup) == ["BLOCKING", "NON_BLOCKING"]
    assert dig(setup, "proactivity", "proactive_audio") is False
    assert setup["generationConfig"]["enableAffectiveDialog"] is True


def test_setup_of_an_unknown_model_is_conservative():
    # options a request could not even carry for this model are not sent either
    setup = setup_of(
        SessionOptions(
            backend="gemini",
            model="gemini-next-live",
            voice="Puck",
            tools=TOOLS,
            thinking_level="high",
            proactive_audio=False,
            affective_dialog=True,
        )
    )
    assert behaviors(setup) == [None, None]
    assert "thinkingConfig" not in setup["generationConfig"]
    assert "enableAffectiveDialog" not in setup["generationConfig"]
    assert "proactivity" not in setup


@pytest.mark.parametrize("model", [m.name for m in MODELS if m.api == "developer"])
async def test_each_model_with_all_it_supports_is_accepted(make_simulator, make_backend, model):
    """The simulator refuses (1007) what its profile of the model does not support."""
    capable = capabilities(model)
    options = SessionOptions(
        backend="gemini",
        model=model,
        voice="Puck",
        tools=({"name": "f"},),
        google_search=capable.google_search,
        media_resolution="medium",
        thinking_level=capable.thinking_levels[-1] if capable.thinking_levels else None,
        proactive_audio=True if capable.proactive_audio == "optional" else None,
        affective_dialog=True if capable.affective_dialog == "supported" else None,
    )
    async with make_simulator(playback_speed=8.0) as sim:
        listener = await typed_turn(make_backend(sim), options, "hi")
    assert sim.close_codes[0] != 1007
    usage = listener.of(UsageEvent)[-1].usage
    assert usage.get("thoughts_token_count", 0) > 0 or not capable.thinking_levels


async def test_the_first_connection_builds_the_client_off_the_event_loop(
    make_simulator: Any, make_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression (issue 11): building the SDK's client (and importing it) on the event
    loop stalled every other conversation for seconds at the first gemini session. It is
    built once, on a worker thread, and `on_loaded` runs once after it."""
    built_on: list[threading.Thread] = []
    build = GeminiBackend._make_client

    def spy(backend: GeminiBackend) -> Any:
        built_on.append(threading.current_thread())
        return build(backend)

    monkeypatch.setattr(GeminiBackend, "_make_client", spy)
    loaded: list[bool] = []
    async with make_simulator(playback_speed=8.0) as sim:
        backend = make_backend(sim, on_loaded=lambda: loaded.append(True))
        upstreams = await asyncio.gather(backend.connect(OPTIONS), backend.connect(OPTIONS))
        upstreams.append(await backend.connect(OPTIONS))
        for upstream in upstreams:
            await upstream.close()
    assert len(built_on) == 1
    assert built_on[0] is not threading.current_thread()
    assert loaded == [True]


# ---- Vertex AI -----------------------------------------------------------------------------

VERTEX_MODEL = "gemini-live-2.5-flash-native-audio"
TOKEN = "test-token"


def vertex_backend(sim: Any, ca_file: str, token: str = TOKEN, **kwargs: Any) -> GeminiBackend:
    from google.oauth2.credentials import Credentials

    return GeminiBackend(
        api_key=None,
        base_url=sim.url,
        ca_file=ca_file,
        policy=ReconnectPolicy(attempts=2, first_delay_s=0.05, connect_timeout_s=5),
        vertexai=True,
        project="test-project",
        location="us-central1",
        credentials=Credentials(token=token),
        **kwargs,
    )


async def test_vertex_ai_through_the_sdk_with_a_bearer_token(make_simulator, certificate_authority):
    async with make_simulator(playback_speed=8.0, bearer_token=TOKEN) as sim:
        backend = vertex_backend(sim, str(certificate_authority[1]))
        assert backend.unavailable_reason() is None
        assert backend.api == "vertex"
        options = SessionOptions(
            backend="gemini", model=VERTEX_MODEL, voice="Puck", tools=({"name": "f"},)
        )
        upstream = await backend.connect(options)
        listener = Listener(upstream)
        await upstream.send_text("hello vertex")
        await listener.turns(1)
        await upstream.audio_stream_end()  # Developer API only: not sent, no error
        await sim.drop(1011)  # a reconnect fetches the token again
        await listener.until(lambda e: e == StateEvent("live"))
        await upstream.send_text("again")
        await listener.turns(2)
        await upstream.close()

    assert listener.text("model") == "Turn 1: you said: hello vertexTurn 2: you said: again"
    setup = sim.conversations[0].setups[0]
    assert setup["model"] == (
        f"projects/test-project/locations/us-central1/publishers/google/models/{VERTEX_MODEL}"
    )
    assert behaviors(setup) == ["BLOCKING"]
    assert sim.sent_vertex
    assert not sim.sent
    # Vertex's candidatesTokenCount arrives as the SDK's response count
    usage = listener.of(UsageEvent)[0].usage
    assert usage["response_token_count"] > 0
    assert usage["response_tokens_details"][0]["modality"] == "AUDIO"


async def test_vertex_ai_refuses_a_wrong_token_clearly(make_simulator, certificate_authority):
    async with make_simulator(bearer_token=TOKEN) as sim:
        backend = vertex_backend(sim, str(certificate_authority[1]), token="stale")
        with pytest.raises(BackendError) as caught:
            await backend.connect(
                SessionOptions(backend="gemini", model=VERTEX_MODEL, voice="Puck")
            )
    assert caught.value.code == "bad_credentials"
    assert "Application Default Credentials" in caught.value.message


def test_vertex_ai_needs_a_project_and_a_location():
    backend = GeminiBackend(api_key=None, vertexai=True, location="us-central1")
    assert "c.GeminiLive.project" in (backend.unavailable_reason() or "")
    backend = GeminiBackend(api_key=None, vertexai=True, project="p")
    assert "c.GeminiLive.location" in (backend.unavailable_reason() or "")
    assert GeminiBackend(api_key=None, vertexai=True, project="p", location="l").api == "vertex"


async def test_vertex_ai_without_credentials_is_unavailable(monkeypatch, tmp_path):
    import google.auth

    def no_credentials(**kwargs: Any) -> Any:
        raise google.auth.exceptions.DefaultCredentialsError("nothing found")

    monkeypatch.setattr(google.auth, "default", no_credentials)
    backend = GeminiBackend(api_key=None, vertexai=True, project="p", location="l")
    with pytest.raises(BackendUnavailable) as caught:
        await backend.connect(SessionOptions(backend="gemini", model=VERTEX_MODEL, voice="Puck"))
    assert "gcloud auth application-default login" in caught.value.message

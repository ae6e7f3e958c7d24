"""The session owns the turn: it numbers turns, stamps them on events, tells a typed
text's sender its turn, and enforces the interrupted-turn and finals rules whatever the
backend does (a scripted upstream plays a backend that does none of it)."""

from __future__ import annotations

from typing import Any

from scripted import ScriptedBackend, ScriptedUpstream

from jupyter_gemini_live.backends.base import (
    AudioEvent,
    InterruptedEvent,
    ToolCallCancelledEvent,
    ToolCallEvent,
    TranscriptEvent,
    TurnCompleteEvent,
    UsageEvent,
)

HEARD = b"\x01\x00" * 2400  # 100 ms of model audio at 24 kHz
LATE = b"\x02\x00" * 2400  # what a careless backend sends after the interruption
NEXT = b"\x03\x00" * 2400


async def start(api: Any, scripted: ScriptedBackend) -> tuple[str, ScriptedUpstream]:
    code, session = await api("POST", "sessions", body={"backend": "scripted"})
    assert code == 201, session
    return str(session["id"]), scripted.upstreams[-1]


async def test_no_audio_of_an_interrupted_turn_reaches_any_client(
    api: Any, open_stream: Any, scripted: ScriptedBackend
) -> None:
    session_id, upstream = await start(api, scripted)
    device = await open_stream(session_id)
    listener = await open_stream(session_id, mode="observe", audio="1")
    for stream in (device, listener):
        await stream.until("ready")

    upstream.say(AudioEvent(HEARD), TranscriptEvent("model", "Sure, the"))
    for stream in (device, listener):
        await stream.until("transcript", role="model")
        assert bytes(stream.audio) == HEARD

    # The backend reports the interruption, then keeps talking about the old turn.
    upstream.say(
        InterruptedEvent(),
        AudioEvent(LATE),
        TranscriptEvent("model", " weather in Paris"),
        AudioEvent(LATE),
        TurnCompleteEvent(),
    )
    for stream in (device, listener):
        assert (await stream.until("interrupted")) == {"type": "interrupted", "turn": 1}
        await stream.until("turn_complete", turn=1)
        assert bytes(stream.audio) == HEARD, "audio of an interrupted turn reached a client"
        model = [e for e in stream.of("transcript") if e["role"] == "model"]
        assert model[-1]["text"] == "Sure, the"
        assert model[-1]["interrupted"] is True

    # The next turn is heard again.
    upstream.say(AudioEvent(NEXT), TurnCompleteEvent())
    for stream in (device, listener):
        await stream.until("turn_complete", turn=2)
        assert bytes(stream.audio) == HEARD + NEXT
    _, transcript = await api("GET", "sessions", session_id, "transcript")
    assert [(e["role"], e["text"]) for e in transcript] == [("model", "Sure, the")]
    _, session = await api("GET", "sessions", session_id)
    assert session["stats"]["interruptions"] == 1
    assert session["stats"]["audio_out_ms"] == 200


async def test_every_transcript_of_a_turn_is_final_before_its_turn_complete(
    api: Any, open_stream: Any, scripted: ScriptedBackend
) -> None:
    session_id, upstream = await start(api, scripted)
    device = await open_stream(session_id)
    await device.until("ready")
    # A backend that never says final.
    upstream.say(
        TranscriptEvent("user", "hello"),
        TranscriptEvent("model", "hi"),
        TranscriptEvent("model", " there"),
        TurnCompleteEvent(),
    )
    await device.until("turn_complete", turn=1)
    latest: dict[str, dict[str, Any]] = {}
    for event in device.events[: device.events.index(device.of("turn_complete")[0])]:
        if event["type"] == "transcript":
            latest[event["role"]] = event
    assert {role: (e["text"], e["final"]) for role, e in latest.items()} == {
        "user": ("hello", True),
        "model": ("hi there", True),
    }
    first_model = next(e for e in device.of("transcript") if e["role"] == "model")
    user_final = next(e for e in device.of("transcript") if e["role"] == "user" and e["final"])
    assert device.events.index(user_final) < device.events.index(first_model)


async def test_typed_text_before_the_reply_joins_the_users_turn_once(
    api: Any, open_stream: Any, scripted: ScriptedBackend
) -> None:
    """Speech, then typed text before the model answers: one turn, the text shown once."""
    session_id, upstream = await start(api, scripted)
    device = await open_stream(session_id)
    observer = await open_stream(session_id, mode="observe")
    for stream in (device, observer):
        await stream.until("ready")
    upstream.say(TranscriptEvent("user", "What time is it"))
    await device.until("transcript", role="user")

    await device.send_json({"type": "text", "text": "in Paris?", "id": "typed-1"})
    accepted = await device.until("text_accepted")
    assert accepted == {"type": "text_accepted", "id": "typed-1", "turn": 1}
    carrying = await device.until("transcript", role="user")
    assert "in Paris?" in carrying["text"]
    assert accepted["turn"] == carrying["turn"]
    assert device.events.index(accepted) < device.events.index(carrying)
    assert await upstream.until_sent("text") == "in Paris?"

    upstream.say(TranscriptEvent("model", "Noon."), TurnCompleteEvent())
    for stream in (device, observer):
        await stream.until("turn_complete", turn=1)
    assert observer.of("text_accepted") == []  # the sender's answer only
    _, transcript = await api("GET", "sessions", session_id, "transcript")
    assert [(e["role"], e["turn"], e["text"]) for e in transcript] == [
        ("user", 1, "What time is it in Paris?"),
        ("model", 1, "Noon."),
    ]
    assert sum(e["text"].count("in Paris?") for e in transcript) == 1


async def test_typed_text_after_the_model_spoke_opens_the_next_turn(
    api: Any, open_stream: Any, scripted: ScriptedBackend
) -> None:
    session_id, upstream = await start(api, scripted)
    device = await open_stream(session_id)
    await device.until("ready")
    upstream.say(TranscriptEvent("user", "Tell me a story"), TranscriptEvent("model", "Once"))
    await device.until("transcript", role="model")
    await device.send_json({"type": "text", "text": "stop"})
    assert await device.until("text_accepted") == {"type": "text_accepted", "id": None, "turn": 2}
    assert (await device.until("transcript", role="user", turn=2))["text"] == "stop"


async def test_tool_calls_and_usage_carry_their_turn(
    api: Any, open_stream: Any, scripted: ScriptedBackend
) -> None:
    session_id, upstream = await start(api, scripted)
    device = await open_stream(session_id)
    await device.until("ready")
    upstream.say(TurnCompleteEvent())  # turn 1 over
    upstream.say(
        ToolCallEvent("c1", "get_time", {"zone": "UTC"}),
        ToolCallCancelledEvent(("c1",)),
        UsageEvent({"total_token_count": 7}),
    )
    assert await device.until("tool_call") == {
        "type": "tool_call", "id": "c1", "name": "get_time", "args": {"zone": "UTC"}, "turn": 2,
    }  # fmt: skip
    assert await device.until("tool_call_cancelled") == {
        "type": "tool_call_cancelled", "ids": ["c1"], "turn": 2,
    }  # fmt: skip
    usage = await device.until("usage")
    assert (usage["usage"], usage["turn"]) == ({"total_token_count": 7}, 2)
    assert usage["delta"]["total"] == usage["session_usage"]["tokens"]["total"] == 7
    # The cancelled call is closed for answers.
    answer = {"type": "tool_response", "id": "c1", "name": "get_time", "response": {}}
    await device.send_json(answer)
    assert (await device.until("error"))["code"] == "unknown_tool_call"


async def test_the_rest_text_route_and_the_stream_agree_on_the_turn(
    api: Any, open_stream: Any, scripted: ScriptedBackend
) -> None:
    session_id, upstream = await start(api, scripted)
    device = await open_stream(session_id)
    await device.until("ready")
    upstream.say(TranscriptEvent("user", "Hi"))
    await device.until("transcript", role="user")
    code, answer = await api("POST", "sessions", session_id, "text", body={"text": "there"})
    assert (code, answer) == (202, {"turn": 1})
    assert (await device.until("transcript", role="user"))["text"] == "Hi there"
    assert device.of("text_accepted") == []  # REST text is answered by REST

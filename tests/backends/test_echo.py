"""The echo backend on its own: the contract of backends/base.py, event by event."""

from __future__ import annotations

import asyncio

from speech import silence, speech

from jupyter_gemini_live.backends.base import (
    AudioEvent,
    Event,
    InterruptedEvent,
    SessionOptions,
    ToolCallEvent,
    TranscriptEvent,
    TurnCompleteEvent,
)
from jupyter_gemini_live.backends.echo import EchoBackend


async def until_turn_complete(events: list[Event], stream: object) -> None:
    async for event in stream:  # type: ignore[attr-defined]
        events.append(event)
        if isinstance(event, TurnCompleteEvent):
            return


async def test_text_turn_gets_a_tone_and_the_text_back() -> None:
    upstream = await EchoBackend().connect(SessionOptions("echo", "m", "Puck"))
    await upstream.send_text("hello there")
    events: list[Event] = []
    await asyncio.wait_for(until_turn_complete(events, upstream.events()), 5)
    audio = b"".join(e.pcm for e in events if isinstance(e, AudioEvent))
    assert 0.25 < len(audio) / 2 / 24000 < 0.35
    text = "".join(e.text for e in events if isinstance(e, TranscriptEvent))
    assert text == "You said: hello there"
    await upstream.close()


async def test_tool_call_then_response_is_spoken_about() -> None:
    upstream = await EchoBackend().connect(SessionOptions("echo", "m", "Puck"))
    await upstream.send_text('call get_weather {"city": "Paris"}')
    events = upstream.events()
    call = await asyncio.wait_for(events.__anext__(), 5)
    assert call == ToolCallEvent("echo-call-1", "get_weather", {"city": "Paris"})
    await upstream.send_tool_response("echo-call-1", "get_weather", {"temp_c": 21})
    seen: list[Event] = []
    await asyncio.wait_for(until_turn_complete(seen, events), 5)
    text = "".join(e.text for e in seen if isinstance(e, TranscriptEvent))
    assert text == 'get_weather returned {"temp_c": 21}'
    await upstream.close()


async def test_interruption_stops_the_reply_and_closes_the_turn() -> None:
    upstream = await EchoBackend().connect(SessionOptions("echo", "m", "Puck"))
    await upstream.send_audio(speech(2.0) + silence(0.7))
    events = upstream.events()
    first_audio = None
    while first_audio is None:
        event = await asyncio.wait_for(events.__anext__(), 5)
        first_audio = event if isinstance(event, AudioEvent) else None
    await upstream.send_audio(speech(0.2))
    rest: list[Event] = []
    await asyncio.wait_for(until_turn_complete(rest, events), 5)
    kinds = [type(e) for e in rest]
    assert InterruptedEvent in kinds
    assert AudioEvent not in kinds[kinds.index(InterruptedEvent) :]
    await upstream.close()


async def test_close_ends_the_event_stream() -> None:
    upstream = await EchoBackend().connect(SessionOptions("echo", "m", "Puck"))
    await upstream.close()
    await upstream.close()  # idempotent
    assert [e async for e in upstream.events()] == []


async def test_a_tool_answer_during_a_reply_plays_after_it() -> None:
    upstream = await EchoBackend().connect(SessionOptions("echo", "m", "Puck"))
    await upstream.send_text("call get_time {}")
    events = upstream.events()
    call = await asyncio.wait_for(events.__anext__(), 5)
    assert isinstance(call, ToolCallEvent)
    await upstream.send_audio(speech(1.0) + silence(0.7))  # a spoken turn starts a reply
    first: list[Event] = []
    while not any(isinstance(e, AudioEvent) for e in first):
        first.append(await asyncio.wait_for(events.__anext__(), 5))
    await upstream.send_tool_response(call.id, "get_time", {"time": "noon"})
    rest: list[Event] = []
    await asyncio.wait_for(until_turn_complete(rest, events), 5)  # the spoken reply
    await asyncio.wait_for(until_turn_complete(rest, events), 5)  # then the tool's
    texts = [e.text for e in first + rest if isinstance(e, TranscriptEvent) and e.text]
    assert texts[-2:] == ["Echo of 1.0 s of speech", 'get_time returned {"time": "noon"}']
    spoken_done = next(i for i, e in enumerate(rest) if isinstance(e, TurnCompleteEvent))
    tool_text = next(i for i, e in enumerate(rest) if getattr(e, "text", "").startswith("get_"))
    assert spoken_done < tool_text, "the tool's answer talked over the reply still playing"
    await upstream.close()
    replies = [t for t in asyncio.all_tasks() if t.get_name() == "gemini-live-echo-reply"]
    assert [t for t in replies if not t.done()] == []  # nothing left running after close


async def test_a_dotted_call_is_a_call_and_bad_json_is_text() -> None:
    upstream = await EchoBackend().connect(SessionOptions("echo", "m", "Puck"))
    await upstream.send_text("call weather.today-v2")
    events = upstream.events()
    call = await asyncio.wait_for(events.__anext__(), 5)
    assert call == ToolCallEvent("echo-call-1", "weather.today-v2", {})
    await upstream.send_text("call lamp {on: yes}")
    seen: list[Event] = []
    await asyncio.wait_for(until_turn_complete(seen, events), 5)
    text = "".join(e.text for e in seen if isinstance(e, TranscriptEvent))
    assert text == "You said: call lamp {on: yes}"
    await upstream.close()

"""Async function calling in the simulator: NON_BLOCKING calls and response scheduling."""

from __future__ import annotations

import json
import ssl
from typing import Any

import pytest
from test_server import closed_with, open_link, read_until, turn_complete
from websockets.asyncio.client import ClientConnection

LIVE = "models/gemini-3.8-live"


def setup(behavior: str | None = None, model: str = LIVE) -> dict[str, Any]:
    declaration: dict[str, Any] = {"name": "lamp"}
    if behavior is not None:
        declaration["behavior"] = behavior
    return {
        "model": model,
        "outputAudioTranscription": {},
        "tools": [{"functionDeclarations": [declaration]}],
    }


async def say(ws: ClientConnection, text: str) -> None:
    await ws.send(json.dumps({"realtimeInput": {"text": text}}))


async def answer(ws: ClientConnection, call: dict[str, Any], scheduling: str | None) -> None:
    response: dict[str, Any] = {"id": call["id"], "name": call["name"], "response": {"ok": 1}}
    if scheduling is not None:
        response["scheduling"] = scheduling
    await ws.send(json.dumps({"toolResponse": {"functionResponses": [response]}}))


async def call_lamp(ws: ClientConnection) -> dict[str, Any]:
    await say(ws, 'call lamp {"on": true}')
    messages = await read_until(ws, lambda m: "toolCall" in m)
    call: dict[str, Any] = messages[-1]["toolCall"]["functionCalls"][0]
    return call


def words(messages: list[dict[str, Any]]) -> str:
    return "".join(
        m["serverContent"]["outputTranscription"]["text"]
        for m in messages
        if "outputTranscription" in m.get("serverContent", {})
    )


def audio_chunk(message: dict[str, Any]) -> bool:
    return "modelTurn" in message.get("serverContent", {})


async def test_a_non_blocking_call_lets_the_conversation_go_on(
    make_simulator: Any, client_ssl: ssl.SSLContext
) -> None:
    async with make_simulator(playback_speed=8.0) as sim:
        ws = await open_link(sim, client_ssl, setup=setup("NON_BLOCKING"))
        call = await call_lamp(ws)
        await say(ws, "how are you")  # answered before the result, the call runs on
        before = await read_until(ws, turn_complete)
        assert not [m for m in before if "toolCallCancellation" in m]
        assert words(before) == "Turn 2: you said: how are you"
        await answer(ws, call, None)
        after = await read_until(ws, turn_complete)
        assert words(after) == 'Turn 2: lamp returned {"ok": 1}'
        await ws.close()


@pytest.mark.parametrize("behavior", ["BLOCKING", None])
async def test_a_blocking_call_is_cancelled_by_the_next_turn(
    make_simulator: Any, client_ssl: ssl.SSLContext, behavior: str | None
) -> None:
    # the declaration's behavior, or the model's default (2.5: BLOCKING)
    model = "models/gemini-2.5-flash-native-audio-preview-12-2025" if behavior is None else LIVE
    async with make_simulator(playback_speed=8.0) as sim:
        ws = await open_link(sim, client_ssl, setup=setup(behavior, model))
        call = await call_lamp(ws)
        await say(ws, "never mind")
        messages = await read_until(ws, turn_complete)
        assert [
            m["toolCallCancellation"]["ids"] for m in messages if "toolCallCancellation" in m
        ] == [[call["id"]]]
        await ws.close()


async def test_silent_takes_the_result_without_a_word(
    make_simulator: Any, client_ssl: ssl.SSLContext
) -> None:
    async with make_simulator(playback_speed=8.0) as sim:
        ws = await open_link(sim, client_ssl, setup=setup())
        call = await call_lamp(ws)
        await answer(ws, call, "SILENT")
        messages = await read_until(ws, turn_complete)
        assert not [m for m in messages if audio_chunk(m)]
        await ws.close()
    assert sim.conversations[0].tool_responses == [
        {"id": call["id"], "name": "lamp", "response": {"ok": 1}, "scheduling": "SILENT"}
    ]


async def test_when_idle_waits_for_the_reply_under_way(
    make_simulator: Any, client_ssl: ssl.SSLContext
) -> None:
    async with make_simulator() as sim:
        ws = await open_link(sim, client_ssl, setup=setup("NON_BLOCKING"))
        call = await call_lamp(ws)
        await say(ws, "tell me a long story please")
        await read_until(ws, audio_chunk)  # the reply is under way
        await answer(ws, call, "WHEN_IDLE")
        first = await read_until(ws, turn_complete)
        second = await read_until(ws, turn_complete)
        await ws.close()
    assert not [m for m in first + second if m.get("serverContent", {}).get("interrupted")]
    assert "lamp returned" not in words(first)
    assert words(second) == 'Turn 2: lamp returned {"ok": 1}'


async def test_interrupt_cuts_in_on_the_reply_under_way(
    make_simulator: Any, client_ssl: ssl.SSLContext
) -> None:
    async with make_simulator() as sim:
        ws = await open_link(sim, client_ssl, setup=setup("NON_BLOCKING"))
        call = await call_lamp(ws)
        await say(ws, "tell me a long story please")
        await read_until(ws, audio_chunk)
        await answer(ws, call, "INTERRUPT")
        cut = await read_until(ws, turn_complete)
        result = await read_until(ws, turn_complete)
        await ws.close()
    assert any(m.get("serverContent", {}).get("interrupted") for m in cut)
    assert words(result) == 'Turn 2: lamp returned {"ok": 1}'
    assert sim.conversations[0].interruptions == 1


async def test_a_model_without_scheduling_refuses_it(
    make_simulator: Any, client_ssl: ssl.SSLContext
) -> None:
    async with make_simulator(playback_speed=8.0) as sim:
        ws = await open_link(
            sim, client_ssl, setup=setup(model="models/gemini-3.1-flash-live-preview")
        )
        call = await call_lamp(ws)
        await answer(ws, call, "SILENT")
        code, reason = await closed_with(ws)
    assert code == 1007
    assert "scheduling is not supported" in str(reason)

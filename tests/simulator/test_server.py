"""The simulator on the wire, through a raw websocket client (no SDK in the way)."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from collections.abc import Callable
from typing import Any

import pytest
from simulated_service import API_KEY
from speech import frames, silence, speech
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from jupyter_gemini_live.simulator import Faults, Simulator
from jupyter_gemini_live.simulator.faults import (
    BAD_KEY_REASON,
    INVALID_HANDLE_CODE,
    INVALID_HANDLE_REASON,
)

TIMEOUT = 10.0
PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
CAMEL = {
    "realtime": "realtimeInput",
    "mime": "mimeType",
    "detection": {
        "realtimeInputConfig": {"automaticActivityDetection": {"silenceDurationMs": 200}}
    },
    "b64": base64.b64encode,
}
SNAKE = {
    "realtime": "realtime_input",
    "mime": "mime_type",
    "detection": {
        "realtime_input_config": {"automatic_activity_detection": {"silence_duration_ms": 200}}
    },
    "b64": base64.urlsafe_b64encode,
}


async def open_link(
    sim: Simulator,
    client_ssl: ssl.SSLContext,
    *,
    key: str | None = API_KEY,
    setup: dict[str, Any] | None = None,
) -> ClientConnection:
    headers = {"x-goog-api-key": key} if key else {}
    ws = await connect(
        f"wss://127.0.0.1:{sim.port}{PATH}", ssl=client_ssl, additional_headers=headers
    )
    body = {"model": "models/sim", **(setup or {})}
    await ws.send(json.dumps({"setup": body}))
    return ws


async def read_until(
    ws: ClientConnection, stop: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []

    async def read() -> None:
        while not messages or not stop(messages[-1]):
            messages.append(json.loads(await ws.recv()))

    await asyncio.wait_for(read(), TIMEOUT)
    return messages


def turn_complete(message: dict[str, Any]) -> bool:
    return bool(message.get("serverContent", {}).get("turnComplete"))


async def closed_with(ws: ClientConnection) -> tuple[int | None, str | None]:
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(read_until(ws, lambda m: False), TIMEOUT)
    return ws.close_code, ws.close_reason


@pytest.mark.parametrize("style", [CAMEL, SNAKE], ids=["camelCase", "snake_case"])
async def test_speech_turn_in_either_style(make_simulator, client_ssl, style):
    setup = {**style["detection"], "inputAudioTranscription": {}, "sessionResumption": {}}
    async with make_simulator(playback_speed=8.0) as sim:
        ws = await open_link(sim, client_ssl, setup=setup)
        for frame in frames(speech(0.72) + silence(0.3)):
            blob = {style["mime"]: "audio/pcm;rate=16000", "data": style["b64"](frame).decode()}
            await ws.send(json.dumps({style["realtime"]: {"audio": blob}}))
        messages = await read_until(ws, turn_complete)
        await ws.close()

    assert messages[0] == {"setupComplete": {}}
    audio = [
        base64.b64decode(part["inlineData"]["data"])
        for m in messages
        for part in m.get("serverContent", {}).get("modelTurn", {}).get("parts", [])
    ]
    assert sum(len(a) for a in audio) / 2 / 24000 == pytest.approx(0.72, abs=0.1)
    assert max(len(a) for a in audio) == 0.24 * 24000 * 2  # ~240 ms bursts
    heard = [
        m["serverContent"]["inputTranscription"]
        for m in messages
        if "inputTranscription" in m.get("serverContent", {})
    ]
    assert heard == [{"text": "(0.7 s of speech)", "finished": True}]
    kinds = [next(iter(m.get("serverContent", m))) for m in messages]
    assert kinds.index("generationComplete") < kinds.index("turnComplete")
    updates = [m["sessionResumptionUpdate"] for m in messages if "sessionResumptionUpdate" in m]
    assert [u["resumable"] for u in updates] == [True, False]  # after setup, mid-generation
    assert sim.conversations[0].audio_in_ms == pytest.approx(1020)


async def test_resume_keeps_the_conversation(make_simulator, client_ssl):
    async with make_simulator(playback_speed=8.0) as sim:
        ws = await open_link(sim, client_ssl, setup={"sessionResumption": {}})
        await ws.send(json.dumps({"realtimeInput": {"text": "first"}}))
        messages = await read_until(ws, turn_complete)
        messages += await read_until(ws, lambda m: "sessionResumptionUpdate" in m)
        handle = messages[-1]["sessionResumptionUpdate"]["newHandle"]
        await ws.close()
        ws = await open_link(sim, client_ssl, setup={"sessionResumption": {"handle": handle}})
        await ws.send(
            json.dumps(
                {
                    "clientContent": {
                        "turns": [{"role": "user", "parts": [{"text": "second"}]}],
                        "turnComplete": True,
                    }
                }
            )
        )
        resumed = await read_until(ws, turn_complete)
        await ws.close()

    assert len(sim.conversations) == 1
    assert sim.conversations[0].texts == ["first", "second"]
    said = [
        m["serverContent"]["outputTranscription"]["text"]
        for m in resumed
        if "outputTranscription" in m.get("serverContent", {})
    ]
    assert said == []  # no outputAudioTranscription was asked for
    assert sim.conversations[0].turns == 2


def update(message: dict[str, Any]) -> dict[str, Any] | None:
    body = message.get("sessionResumptionUpdate")
    return body if isinstance(body, dict) else None


def audio_message(pcm: bytes) -> str:
    data = base64.b64encode(pcm).decode()
    return json.dumps(
        {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": data}}}
    )


async def test_resumption_updates_say_what_they_include(make_simulator, client_ssl):
    async with make_simulator(update_every=5) as sim:
        ws = await open_link(sim, client_ssl, setup={"sessionResumption": {}})
        first = await read_until(ws, lambda m: update(m) is not None)
        for frame in frames(silence(0.2)):  # 10 messages: two updates
            await ws.send(audio_message(frame))
        updates = [
            update(m)
            for m in await read_until(
                ws, lambda m: (update(m) or {}).get("lastConsumedClientMessageIndex") == "10"
            )
        ]
        await ws.close()

    # counted on the connection from 0, the setup; int64 is a JSON string
    assert update(first[-1]) == {
        "newHandle": "sim-1-1",
        "resumable": True,
        "lastConsumedClientMessageIndex": "0",
    }
    assert [u["lastConsumedClientMessageIndex"] for u in updates if u] == ["5", "10"]


async def test_resuming_restores_the_state_of_the_handle(make_simulator, client_ssl):
    async with make_simulator(update_every=0) as sim:
        ws = await open_link(sim, client_ssl, setup={"sessionResumption": {}})
        [message] = (await read_until(ws, lambda m: update(m) is not None))[-1:]
        handle = message["sessionResumptionUpdate"]["newHandle"]
        for frame in frames(silence(0.2)):
            await ws.send(audio_message(frame))
        conversation = sim.conversations[0]
        while conversation.audio_in_bytes < 6400:  # noqa: ASYNC110 (no notification)
            await asyncio.sleep(0.01)
        await ws.close()
        ws = await open_link(sim, client_ssl, setup={"sessionResumption": {"handle": handle}})
        await read_until(ws, lambda m: update(m) is not None)
        await ws.close()

    # the handle came before any audio: what the old connection took later is
    # forgotten (a client replays it), but the records keep counting
    assert (conversation.audio_in_bytes, conversation.audio_received_bytes) == (0, 6400)
    assert (conversation.resumptions, conversation.connections) == (1, 2)


@pytest.mark.parametrize(
    "faults",
    [Faults(refuse_resumption=True), Faults(handle_lifetime=0.0)],
    ids=["refused", "expired"],
)
async def test_refused_or_expired_handle(make_simulator, client_ssl, faults):
    async with make_simulator(faults=faults) as sim:
        ws = await open_link(sim, client_ssl, setup={"sessionResumption": {}})
        [message] = (await read_until(ws, lambda m: update(m) is not None))[-1:]
        await ws.close()
        handle = message["sessionResumptionUpdate"]["newHandle"]
        ws = await open_link(sim, client_ssl, setup={"sessionResumption": {"handle": handle}})
        assert await closed_with(ws) == (INVALID_HANDLE_CODE, INVALID_HANDLE_REASON)
    assert INVALID_HANDLE_CODE == 1007
    assert "handle" in INVALID_HANDLE_REASON
    assert sim.conversations[0].refused_handles == 1


async def test_refusals(make_simulator, client_ssl):
    faults = Faults(refuse_models={"gone-model"})
    async with make_simulator(faults=faults) as sim:
        assert await closed_with(await open_link(sim, client_ssl, key="bad")) == (
            1007,
            BAD_KEY_REASON,
        )
        code, _ = await closed_with(await open_link(sim, client_ssl, key=None))
        assert code == 1008
        refused = await open_link(sim, client_ssl, setup={"model": "models/gone-model"})
        code, reason = await closed_with(refused)
        assert code == 1008
        assert "models/gone-model is not found" in reason
        stale = await open_link(sim, client_ssl, setup={"sessionResumption": {"handle": "nope"}})
        assert (await closed_with(stale))[0] == 1007
        with pytest.raises(InvalidStatus):
            await connect(f"wss://127.0.0.1:{sim.port}/ws/elsewhere", ssl=client_ssl)
    assert sim.conversations == []


async def test_bad_client_message_closes_with_1007(make_simulator, client_ssl):
    async with make_simulator() as sim:
        ws = await open_link(sim, client_ssl)
        await ws.send(json.dumps({"nonsense": {}}))
        code, reason = await closed_with(ws)
    assert code == 1007
    assert "nonsense" in reason


async def test_go_away_then_close_after_time_left(make_simulator, client_ssl):
    faults = Faults(go_away_after=0.05, go_away_time_left=0.2)
    async with make_simulator(faults=faults, playback_speed=8.0) as sim:
        ws = await open_link(sim, client_ssl)
        messages = await read_until(ws, lambda m: "goAway" in m)
        assert messages[-1] == {"goAway": {"timeLeft": "0.2s"}}
        assert (await closed_with(ws))[0] == 1000
        second = await open_link(sim, client_ssl)  # timed faults hit the first connection
        await second.send(json.dumps({"realtimeInput": {"text": "still here"}}))
        await read_until(second, turn_complete)
        await second.close()


async def test_scripted_close_code_and_delay(make_simulator, client_ssl):
    faults = Faults(close_after=0.05, close_code=1011, message_delay=0.01, repeat=True)
    async with make_simulator(faults=faults) as sim:
        for _ in range(2):
            ws = await open_link(sim, client_ssl)
            assert await closed_with(ws) == (1011, "Internal error encountered.")
    assert sim.close_codes == [1011, 1011]


async def test_tool_call_and_cancellation(make_simulator, client_ssl):
    async with make_simulator(playback_speed=8.0) as sim:
        ws = await open_link(sim, client_ssl, setup={"outputAudioTranscription": {}})
        await ws.send(json.dumps({"realtimeInput": {"text": 'call lamp {"on": true}'}}))
        call = (await read_until(ws, lambda m: "toolCall" in m))[-1]["toolCall"]["functionCalls"][0]
        assert (call["name"], call["args"]) == ("lamp", {"on": True})
        await ws.send(json.dumps({"realtimeInput": {"text": "never mind"}}))
        cancelled = await read_until(ws, lambda m: "toolCallCancellation" in m)
        assert cancelled[-1]["toolCallCancellation"]["ids"] == [call["id"]]
        await read_until(ws, turn_complete)
        await ws.send(
            json.dumps(
                {
                    "toolResponse": {
                        "functionResponses": [
                            {"id": call["id"], "name": "lamp", "response": {"ok": True}}
                        ]
                    }
                }
            )
        )
        await ws.close()
    await asyncio.sleep(0)
    assert sim.conversations[0].tool_responses[0]["response"] == {"ok": True}


async def test_a_call_with_bad_json_is_ordinary_text(make_simulator, client_ssl):
    async with make_simulator(playback_speed=8.0) as sim:
        ws = await open_link(sim, client_ssl, setup={"outputAudioTranscription": {}})
        await ws.send(json.dumps({"realtimeInput": {"text": "call lamp {on: yes}"}}))
        messages = await read_until(ws, turn_complete)
        await ws.close()

    assert not [m for m in messages if "toolCall" in m]
    said = "".join(
        m["serverContent"]["outputTranscription"]["text"]
        for m in messages
        if "outputTranscription" in m.get("serverContent", {})
    )
    assert said == "Turn 1: you said: call lamp {on: yes}"
    assert sim.conversations[0].tool_calls == []

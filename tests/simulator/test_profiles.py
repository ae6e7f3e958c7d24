"""The simulator's per-model profiles (models.py), its Vertex AI path and its usage."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_server import closed_with, open_link, read_until, turn_complete
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from jupyter_gemini_live.usage import Tokens, UsageMeter

VERTEX_PATH = "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent"
VERTEX_MODEL = "projects/p/locations/l/publishers/google/models/gemini-live-2.5-flash-native-audio"


def thinking(level: str) -> dict[str, Any]:
    return {"generationConfig": {"thinkingConfig": {"thinkingLevel": level}}}


def proactive(on: bool) -> dict[str, Any]:
    return {"proactivity": {"proactiveAudio": on}}


SNAKE_THINKING = {"generation_config": {"thinking_config": {"thinking_level": "MINIMAL"}}}
AFFECTIVE = {"generationConfig": {"enableAffectiveDialog": True}}
N25 = "gemini-2.5-flash-native-audio-preview-12-2025"


def declaration(behavior: str) -> dict[str, Any]:
    return {"tools": [{"functionDeclarations": [{"name": "f", "behavior": behavior}]}]}


@pytest.mark.parametrize(
    ("model", "setup", "refused"),
    [
        ("gemini-3.8-live", thinking("LOW"), "thinking_level"),
        ("gemini-3.8-live", proactive(False), "proactive_audio"),
        ("gemini-3.8-live", AFFECTIVE, "affective"),
        ("gemini-3.8-live-extended-thinking", declaration("BLOCKING"), "behavior BLOCKING"),
        ("gemini-3.8-live-extended-thinking", thinking("MINIMAL"), "thinking_level"),
        ("gemini-3.1-flash-live-preview", declaration("NON_BLOCKING"), "behavior"),
        ("gemini-3.1-flash-live-preview", proactive(True), "proactive_audio"),
        ("some-future-model", thinking("LOW"), "thinking_level"),
        ("some-future-model", declaration("NON_BLOCKING"), "behavior"),
        (N25, thinking("LOW"), "thinking_level"),
    ],
)  # fmt: skip
async def test_what_a_model_does_not_support_is_refused_with_1007(
    make_simulator, client_ssl, model, setup, refused
):
    async with make_simulator() as sim:
        ws = await open_link(sim, client_ssl, setup={"model": f"models/{model}", **setup})
        code, reason = await closed_with(ws)
    assert code == 1007
    assert refused in (reason or "")
    assert model in (reason or "")


@pytest.mark.parametrize(
    ("model", "setup"),
    [
        ("gemini-3.8-live", {**proactive(True), **declaration("BLOCKING")}),
        ("gemini-3.8-live-extended-thinking", thinking("HIGH")),
        ("gemini-3.1-flash-live-preview", SNAKE_THINKING),
        (N25, {"proactivity": {"proactive_audio": False}, **AFFECTIVE}),
        ("future", {"tools": [{"googleSearch": {}}], "generationConfig": {"mediaResolution": "X"}}),
    ],
)  # fmt: skip
async def test_what_a_model_supports_gets_setup_complete(make_simulator, client_ssl, model, setup):
    async with make_simulator() as sim:
        ws = await open_link(sim, client_ssl, setup={"model": f"models/{model}", **setup})
        first = json.loads(await ws.recv())
        await ws.close()
    assert first == {"setupComplete": {}}


async def test_the_vertex_path_takes_a_bearer_token_and_no_key(make_simulator, client_ssl):
    url = f"wss://127.0.0.1:{{}}{VERTEX_PATH}"
    async with make_simulator(bearer_token="good", playback_speed=8.0) as sim:
        for headers in ({}, {"Authorization": "Bearer bad"}, {"x-goog-api-key": "simulated-key"}):
            with pytest.raises(InvalidStatus) as caught:
                await connect(url.format(sim.port), ssl=client_ssl, additional_headers=headers)
            assert caught.value.response.status_code == 401
        ws = await connect(
            url.format(sim.port),
            ssl=client_ssl,
            additional_headers={"Authorization": "Bearer good"},
        )
        await ws.send(json.dumps({"setup": {"model": VERTEX_MODEL}}))
        await ws.send(json.dumps({"realtimeInput": {"text": "hello"}}))
        messages = await read_until(ws, turn_complete)
        await ws.close()
    assert messages[0] == {"setupComplete": {}}
    usage = next(m["usageMetadata"] for m in messages if "usageMetadata" in m)
    assert usage["candidatesTokenCount"] > 0  # Vertex's name of the response count
    assert "responseTokenCount" not in usage
    assert sim.sent_vertex
    assert not sim.sent


async def test_usage_is_cumulative_per_connection_and_by_modality(make_simulator, client_ssl):
    """Each report counts the whole connection; a resumed connection starts at zero."""
    async with make_simulator(playback_speed=8.0) as sim:
        ws = await open_link(sim, client_ssl, setup={"sessionResumption": {}})
        reports = []
        await ws.send(
            json.dumps({"realtimeInput": {"video": {"mimeType": "image/jpeg", "data": "AAAA"}}})
        )
        for text in ("first", "second"):
            await ws.send(json.dumps({"realtimeInput": {"text": text}}))
            messages = await read_until(ws, turn_complete)
            reports += [m["usageMetadata"] for m in messages if "usageMetadata" in m]
        messages = await read_until(ws, lambda m: "sessionResumptionUpdate" in m)
        handle = messages[-1]["sessionResumptionUpdate"]["newHandle"]
        await ws.close()
        ws = await open_link(sim, client_ssl, setup={"sessionResumption": {"handle": handle}})
        await ws.send(json.dumps({"realtimeInput": {"text": "third"}}))
        messages = await read_until(ws, turn_complete)
        reports += [m["usageMetadata"] for m in messages if "usageMetadata" in m]
        await ws.close()

    assert len(reports) == 3
    first, second, third = (Tokens.from_metadata(r) for r in reports)
    assert first.prompt_image == 258
    assert first.prompt_text > 0
    assert first.response_audio > 0
    assert second.total > first.total  # cumulative within a connection
    assert second.prompt_image == 258  # the image was counted once
    assert third.total < second.total  # the resumed connection counts from zero
    assert third.prompt_image == 0
    meter = UsageMeter("sim")
    for r in reports:
        meter.observe(r)
    assert meter.session.tokens == second + third

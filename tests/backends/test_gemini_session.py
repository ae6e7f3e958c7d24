"""The gemini backend as a user meets it: through the server's REST API and stream websocket,
configured only by `c.GeminiLive.*`, with the simulator standing in for Google."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest
from speech import frames, seconds_of, silence, speech
from waiting import until_true

from jupyter_gemini_live.simulator import Faults


@pytest.fixture
def gemini_live_config(simulated_config: dict[str, Any]) -> dict[str, Any]:
    return simulated_config


async def test_spoken_conversation_through_the_server(
    api: Any, open_stream: Any, make_simulator: Any, simulator_port: int
) -> None:
    async with make_simulator(port=simulator_port, playback_speed=4.0) as sim:
        code, status = await api("GET", "status")
        assert status["default_backend"] == "gemini"
        assert status["backends"]["gemini"]["available"] is True
        code, session = await api("POST", "sessions", body={"voice": "Kore"})
        assert code == 201, session
        assert session["backend"] == "gemini"
        stream = await open_stream(session["id"])
        await stream.until("ready")
        sent = speech(1.2) + silence(0.8)
        await stream.talk(sent)
        await stream.until("turn_complete", turn=1)

        assert seconds_of(stream.audio, 24000) == pytest.approx(1.2, abs=0.25)
        finals = [(e["role"], e["text"]) for e in stream.of("transcript") if e["final"]]
        assert [role for role, _ in finals] == ["user", "model"]
        assert finals[0][1] == "(1.2 s of speech)"
        _, transcript = await api("GET", "sessions", session["id"], "transcript")
        assert [(e["role"], e["turn"]) for e in transcript] == [("user", 1), ("model", 1)]
        setup = sim.conversations[0].setups[0]
        assert "Kore" in str(setup)
        assert sim.conversations[0].audio_in_bytes == len(sent)
        await api("DELETE", "sessions", session["id"])


async def test_go_away_is_invisible(
    api: Any, open_stream: Any, make_simulator: Any, simulator_port: int
) -> None:
    async with make_simulator(port=simulator_port, playback_speed=4.0) as sim:
        _, session = await api("POST", "sessions")
        stream = await open_stream(session["id"])
        await stream.until("ready")
        utterance = frames(speech(1.5) + silence(0.8))
        for index, frame in enumerate(utterance):
            if index == 25:
                await sim.go_away(time_left_s=5.0)
            await stream.talk(frame)
        await stream.until("turn_complete", turn=1)
        conversation = sim.conversations[0]
        while conversation.connections < 2:  # noqa: ASYNC110 (no change notification)
            await asyncio.sleep(0.01)

        # the utterance and its reply finished on the old connection; the move to the
        # new one, at the turn's end, was quick: no state change, nothing lost
        assert not stream.of("state")
        assert not stream.of("interrupted")
        assert conversation.audio_in_bytes == sum(len(f) for f in utterance)
        assert seconds_of(stream.audio, 24000) == pytest.approx(1.5, abs=0.25)
        _, after = await api("GET", "sessions", session["id"])
        assert after["stats"]["reconnects"] == 0  # the stats count what users notice
        assert after["stats"]["dropped_in_ms"] == 0
        assert after["state"] == "live"


async def test_tool_call_answered_by_a_client(
    api: Any, open_stream: Any, make_simulator: Any, simulator_port: int
) -> None:
    tools = [{"name": "get_time", "description": "the time", "parameters": {"type": "object"}}]
    async with make_simulator(port=simulator_port, playback_speed=8.0) as sim:
        _, session = await api("POST", "sessions", body={"tools": tools})
        device = await open_stream(session["id"])
        kernel = await open_stream(session["id"], mode="observe")
        await device.until("ready")
        await kernel.until("ready")
        await device.send_json({"type": "text", "text": "call get_time {}"})
        call = await kernel.until("tool_call")
        assert call["name"] == "get_time"
        await kernel.send_json(
            {"type": "tool_response", "id": call["id"], "name": "get_time",
             "response": {"time": "noon"}}
        )  # fmt: skip
        await device.until("turn_complete")
        assert sim.conversations[0].tool_responses[0]["response"] == {"time": "noon"}


@pytest.mark.parametrize(
    ("model", "recorded", "errors"),
    [
        ("gemini-3.8-live", "SILENT", []),
        ("gemini-3.1-flash-live-preview", None, ["scheduling_unsupported"]),
    ],
)
async def test_a_tool_response_scheduling_reaches_the_model_that_takes_it(
    api: Any,
    open_stream: Any,
    make_simulator: Any,
    simulator_port: int,
    model: str,
    recorded: str | None,
    errors: list[str],
) -> None:
    tools = [{"name": "get_time", "description": "the time"}]
    async with make_simulator(port=simulator_port, playback_speed=8.0) as sim:
        _, session = await api("POST", "sessions", body={"tools": tools, "model": model})
        kernel = await open_stream(session["id"], mode="observe")
        await kernel.until("ready")
        await kernel.send_json({"type": "text", "text": "call get_time {}"})
        call = await kernel.until("tool_call")
        await kernel.send_json(
            {"type": "tool_response", "id": call["id"], "name": "get_time",
             "response": {"time": "noon"}, "scheduling": "SILENT"}
        )  # fmt: skip
        await kernel.until("turn_complete")
        assert [e["code"] for e in kernel.of("error")] == errors
        assert sim.conversations[0].tool_responses[0].get("scheduling") == recorded
        await api("DELETE", "sessions", session["id"])


@pytest.mark.parametrize("model", ["gemini-nonexistent-live"])
async def test_refused_model_is_an_error_naming_it(
    api: Any, make_simulator: Any, simulator_port: int, model: str
) -> None:
    faults = Faults(refuse_models={model})
    async with make_simulator(port=simulator_port, faults=faults):
        code, error = await api("POST", "sessions", body={"model": model})
    assert code == 502
    assert model in error["message"]


async def test_bad_key_is_an_error_saying_so(
    api: Any, make_simulator: Any, simulator_port: int
) -> None:
    async with make_simulator(port=simulator_port, faults=Faults(bad_key=True)):
        code, error = await api("POST", "sessions")
    assert code in (502, 503)
    assert "key" in error["message"].lower()


# ---- usage and cost ------------------------------------------------------------------------


async def test_usage_per_turn_and_per_session_from_cumulative_reports(
    api: Any, open_stream: Any, make_simulator: Any, simulator_port: int
) -> None:
    async with make_simulator(port=simulator_port, playback_speed=8.0):
        _, session = await api("POST", "sessions")
        stream = await open_stream(session["id"])
        await stream.until("ready")
        for turn, text in enumerate(["hello there", "and again"], 1):
            await stream.send_json({"type": "text", "text": text})
            await stream.until("turn_complete", turn=turn)
        first, second = stream.of("usage")
        assert (first["turn"], second["turn"]) == (1, 2)
        # the service's reports are cumulative: the second one adds only its difference
        cumulative = [r["usage"]["total_token_count"] for r in (first, second)]
        assert second["delta"]["total"] == cumulative[1] - cumulative[0] > 0
        assert second["turn_usage"]["tokens"]["total"] == cumulative[1] - cumulative[0]
        assert second["session_usage"]["tokens"]["total"] == cumulative[1]
        assert second["session_usage"]["tokens"]["response"]["audio"] > 0
        assert second["session_usage"]["cost_usd"] > first["session_usage"]["cost_usd"] > 0
        _, after = await api("GET", "sessions", session["id"])
        assert after["stats"]["usage"] == second["session_usage"]
        _, transcript = await api("GET", "sessions", session["id"], "transcript")
        model = [e for e in transcript if e["role"] == "model"]
        assert [e["usage"] for e in model] == [first["turn_usage"], second["turn_usage"]]


async def test_usage_counts_afresh_on_a_new_connection(
    api: Any, open_stream: Any, make_simulator: Any, simulator_port: int
) -> None:
    async with make_simulator(port=simulator_port, playback_speed=8.0) as sim:
        _, session = await api("POST", "sessions")
        stream = await open_stream(session["id"])
        await stream.until("ready")
        await stream.send_json({"type": "text", "text": "hello there"})
        await stream.until("turn_complete", turn=1)
        await sim.go_away(time_left_s=5.0)
        conversation = sim.conversations[0]
        while conversation.connections < 2:  # noqa: ASYNC110 (no change notification)
            await asyncio.sleep(0.01)
        await stream.send_json({"type": "text", "text": "and again on a new connection"})
        await stream.until("turn_complete", turn=2)
        first, second = stream.of("usage")
        # the new connection's report counts from zero: all of it is the second turn's
        assert second["delta"]["total"] == second["usage"]["total_token_count"]
        total = first["usage"]["total_token_count"] + second["usage"]["total_token_count"]
        assert second["session_usage"]["tokens"]["total"] == total


async def test_a_session_over_its_budget_ends_saying_what_to_raise(
    api: Any, open_stream: Any, make_simulator: Any, simulator_port: int
) -> None:
    async with make_simulator(port=simulator_port, playback_speed=8.0):
        code, session = await api("POST", "sessions", body={"budget_tokens": 5})
        assert code == 201, session
        stream = await open_stream(session["id"])
        await stream.until("ready")
        await stream.send_json({"type": "text", "text": "hello there, a long enough question"})
        error = await stream.until("error", code="budget_exceeded")
        assert error["fatal"] is True
        assert "budget of 5 tokens" in error["message"]
        assert "budget_tokens" in error["message"]
        await stream.until("state", state="error")
        _, after = await api("GET", "sessions", session["id"])
        assert after["state"] == "error"
        assert after["stats"]["usage"]["tokens"]["total"] > 5


# ---- conversation state the user can see ----------------------------------------------------


async def test_interim_words_appear_while_speaking_then_settle(
    api: Any, open_stream: Any, make_simulator: Any, simulator_port: int
) -> None:
    async with make_simulator(port=simulator_port, playback_speed=8.0):
        _, session = await api("POST", "sessions", body={"model": "gemini-3.8-live"})
        stream = await open_stream(session["id"])
        await stream.until("ready")
        await stream.talk(speech(1.6) + silence(0.8))
        await stream.until("turn_complete", turn=1)
        user = [e for e in stream.of("transcript") if e["role"] == "user"]
        interim = [e for e in user if not e["final"]]
        assert interim
        assert all("s of speech…" in e["text"] for e in interim)
        assert user[-1]["final"]
        assert user[-1]["text"] == "(1.6 s of speech)"
        _, transcript = await api("GET", "sessions", session["id"], "transcript")
        assert [e["text"] for e in transcript if e["role"] == "user"] == ["(1.6 s of speech)"]


async def test_extended_thinking_says_when_it_thinks(
    api: Any, open_stream: Any, make_simulator: Any, simulator_port: int
) -> None:
    async with make_simulator(port=simulator_port, playback_speed=8.0):
        body = {"model": "gemini-3.8-live-extended-thinking"}
        _, session = await api("POST", "sessions", body=body)
        stream = await open_stream(session["id"])
        await stream.until("ready")
        await stream.send_json({"type": "text", "text": "think about it"})
        await stream.until("turn_complete", turn=1)
        thinking = stream.of("thinking")
        assert [(e["turn"], e["active"]) for e in thinking] == [(1, True), (1, False)]
        kinds = [e["type"] for e in stream.events]
        assert kinds.index("generation_complete") < kinds.index("turn_complete")
        assert stream.of("generation_complete")[0]["turn"] == 1


async def test_a_refused_turn_says_why(
    api: Any, open_stream: Any, make_simulator: Any, simulator_port: int
) -> None:
    async with make_simulator(port=simulator_port, playback_speed=8.0):
        _, session = await api("POST", "sessions")
        stream = await open_stream(session["id"])
        await stream.until("ready")
        await stream.send_json({"type": "text", "text": "please be unsafe"})
        done = await stream.until("turn_complete", turn=1)
        assert done["reason"] == "GENERATED_CONTENT_SAFETY"
        _, transcript = await api("GET", "sessions", session["id"], "transcript")
        assert transcript[-1]["reason"] == "GENERATED_CONTENT_SAFETY"
        _, markdown = await api(
            "GET", "sessions", session["id"], "transcript", params={"format": "md"}
        )
        assert "GENERATED_CONTENT_SAFETY" in markdown.decode()


async def test_search_grounding_sources_reach_clients_and_the_transcript(
    api: Any, open_stream: Any, make_simulator: Any, simulator_port: int
) -> None:
    async with make_simulator(port=simulator_port, playback_speed=8.0):
        _, session = await api("POST", "sessions", body={"google_search": True})
        stream = await open_stream(session["id"])
        await stream.until("ready")
        await stream.send_json({"type": "text", "text": "search jupyter live"})
        grounding = await stream.until("grounding")
        await stream.until("turn_complete", turn=1)
        assert grounding["turn"] == 1
        uris = [s["uri"] for s in grounding["sources"]]
        assert uris
        assert all(u.startswith("https://") for u in uris)
        _, transcript = await api("GET", "sessions", session["id"], "transcript")
        model = next(e for e in transcript if e["role"] == "model")
        assert model["sources"] == grounding["sources"]
        _, markdown = await api(
            "GET", "sessions", session["id"], "transcript", params={"format": "md"}
        )
        assert f"(<{uris[0]}>)" in markdown.decode()


PLOT = b"\x89PNG\r\n\x1a\n a plot"


@pytest.mark.parametrize(
    ("model", "via", "noted", "run_cell_behavior"),
    [
        ("gemini-3.8-live", "parts", None, "NON_BLOCKING"),
        ("gemini-3.1-flash-live-preview", "parts", None, None),  # no async tools
        (
            "gemini-2.5-flash-native-audio-preview-12-2025",
            "video",
            "sent as video input",
            "NON_BLOCKING",
        ),
    ],
)
async def test_a_tool_response_image_reaches_the_model_as_it_can_take_it(
    api: Any,
    open_stream: Any,
    make_simulator: Any,
    simulator_port: int,
    model: str,
    via: str,
    noted: str | None,
    run_cell_behavior: str | None,
) -> None:
    plot = base64.b64encode(PLOT).decode()
    async with make_simulator(port=simulator_port, playback_speed=8.0) as sim:
        _, session = await api("POST", "sessions", body={"notebook": True, "model": model})
        assert session["notebook"] is True
        device = await open_stream(session["id"])
        await device.until("ready")
        await device.send_json({"type": "text", "text": 'call run_cell {"index": 0}'})
        call = await device.until("tool_call")
        answer = {"type": "tool_response", "id": call["id"], "name": "run_cell"}
        await device.send_json({**answer, "response": {"status": "ok"}, "images": ["x"]})
        refused = await device.until("error")
        assert "tool_response.images" in refused["message"]
        images = [{"mime_type": "image/png", "data": plot}]
        await device.send_json({**answer, "response": {"status": "ok"}, "images": images})
        await device.until("turn_complete")  # the socket stayed up after the bad one
        await until_true(lambda: len(sim.tool_log.entries) == 1, "the response is logged")
        await api("DELETE", "sessions", session["id"])
    entry = sim.tool_log.entries[0]
    assert entry["images"] == [{"mime_type": "image/png", "size": len(PLOT), "via": via}]
    assert entry["response"].get("images") == noted
    declared = sim.conversations[0].setups[0]["tools"][0]["functionDeclarations"]
    assert {d["name"] for d in declared} == {
        "read_notebook", "read_cell", "insert_cell", "replace_cell", "run_cell",
        "inspect_variable",
    }  # fmt: skip
    run_cell = next(d for d in declared if d["name"] == "run_cell")
    assert run_cell.get("behavior") == run_cell_behavior

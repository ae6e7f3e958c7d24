"""The kernel client's async tools against the simulator, through the server: behavior on
declarations, scheduling of answers, and cancellation reaching a running Python tool."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from jupyter_gemini_live.client import LiveServer, ServerAddress, ToolResult, tool

run = asyncio.to_thread
WAIT = 20.0


@pytest.fixture
def gemini_live_config(simulated_config: dict[str, Any]) -> dict[str, Any]:
    return simulated_config


@pytest.fixture
def live(http_server: Any, jp_http_port: int, jp_base_url: str, jp_serverapp: Any) -> LiveServer:
    url = f"http://localhost:{jp_http_port}{jp_base_url}"
    return LiveServer(ServerAddress(url, str(jp_serverapp.identity_provider.token)))


async def test_a_cancelled_call_reaches_the_running_tool(
    live: LiveServer, make_simulator: Any, simulator_port: int
) -> None:
    started = threading.Event()
    seen: list[bool] = []

    def slow_lookup(query: str, *, cancelled: threading.Event) -> str:
        """Look something up, slowly."""
        started.set()
        seen.append(cancelled.wait(WAIT))
        return "too late"

    async with make_simulator(port=simulator_port, playback_speed=8.0) as sim:
        session = await run(
            live.start, model="gemini-3.8-live", tools=[tool(slow_lookup, behavior="BLOCKING")]
        )
        try:
            await run(session.say, 'call slow_lookup {"query": "x"}', wait=False)
            assert await run(started.wait, WAIT)
            reply = await run(session.say, "never mind")  # the simulator cancels the call
            assert reply == "Turn 2: you said: never mind"
            assert seen == [True]  # the tool learnt it was cancelled
            declared = sim.conversations[0].setups[0]["tools"][0]["functionDeclarations"][0]
            assert declared["behavior"] == "BLOCKING"
            assert "cancelled" not in str(declared.get("parameters"))
            call = session.events
            assert any(e["type"] == "tool_call_cancelled" for e in iter_now(call))
        finally:
            await run(session.stop)
    assert sim.conversations[0].tool_responses == []  # its late answer was not sent


def iter_now(events: Any) -> list[dict[str, Any]]:
    got = []
    while True:
        try:
            event = events.get(timeout=0.5)
        except TimeoutError:
            return got
        if event is None:
            return got
        got.append(event)


async def test_behavior_and_scheduling_per_tool_and_per_call(
    live: LiveServer, make_simulator: Any, simulator_port: int
) -> None:
    @tool(behavior="NON_BLOCKING", scheduling="WHEN_IDLE")
    def lamp(on: bool) -> Any:
        """Switch the lamp."""
        return ToolResult("quietly", scheduling="SILENT") if not on else "done"

    async with make_simulator(port=simulator_port, playback_speed=8.0) as sim:
        session = await run(live.start, model="gemini-3.8-live", tools=[lamp])
        try:
            await run(session.say, 'call lamp {"on": true}')
            await run(session.say, 'call lamp {"on": false}')
        finally:
            await run(session.stop)
    conversation = sim.conversations[0]
    declared = conversation.setups[0]["tools"][0]["functionDeclarations"][0]
    assert declared["behavior"] == "NON_BLOCKING"
    assert [(r["response"], r.get("scheduling")) for r in conversation.tool_responses] == [
        ({"result": "done"}, "WHEN_IDLE"),
        ({"result": "quietly"}, "SILENT"),
    ]

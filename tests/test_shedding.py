"""Past its capacity the server refuses new sessions visibly (503 JSON with the reason)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from waiting import until_true

from jupyter_gemini_live.manager import LAG_PROBES, LagMonitor


async def test_the_lag_monitor_sees_a_loop_that_runs_late() -> None:
    monitor = LagMonitor()
    monitor.start()
    stop = asyncio.Event()

    async def hog() -> None:  # a loop kept busy: callbacks of 20 ms back to back
        while not stop.is_set():
            time.sleep(0.02)  # noqa: ASYNC251 (the point: a blocked loop)
            await asyncio.sleep(0)

    hogs = [asyncio.create_task(hog()) for _ in range(3)]
    try:
        await until_true(lambda: monitor.lag_ms() > 20, "the lag shows")
    finally:
        stop.set()
        await asyncio.gather(*hogs)
    for _ in range(LAG_PROBES):  # and it goes away with the load
        monitor.record(0.0)
    assert monitor.lag_ms() == 0
    await monitor.stop()


@pytest.mark.parametrize("gemini_live_config", [{"shed_loop_lag_ms": 40, "max_sessions": 10}])
async def test_a_lagging_server_refuses_new_sessions_with_503(
    api: Any, jp_serverapp: Any, gemini_live_config: Any
) -> None:
    manager = jp_serverapp.web_app.settings["gemini_live_sessions"]
    code, first = await api("POST", "sessions")
    assert code == 201, first
    for _ in range(LAG_PROBES):  # a second of probes 80 ms late
        manager.lag.record(0.08)
    code, error = await api("POST", "sessions")
    assert code == 503
    assert "over capacity" in error["message"]
    assert "shed_loop_lag_ms" in error["message"]
    _, sessions = await api("GET", "sessions")
    assert [s["id"] for s in sessions] == [first["id"]]  # no slot taken
    for _ in range(LAG_PROBES):
        manager.lag.record(0.0)
    code, second = await api("POST", "sessions")
    assert code == 201, second


@pytest.mark.parametrize("gemini_live_config", [{"shed_loop_lag_ms": 0}])
async def test_shedding_can_be_turned_off(
    api: Any, jp_serverapp: Any, gemini_live_config: Any
) -> None:
    manager = jp_serverapp.web_app.settings["gemini_live_sessions"]
    for _ in range(LAG_PROBES):
        manager.lag.record(1.0)
    assert (await api("POST", "sessions"))[0] == 201

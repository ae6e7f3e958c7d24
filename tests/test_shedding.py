"""Past its capacity the server refuses new sessions visibly (503 JSON with the reason)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from waiting import until_true

from jupyter_gemini_live.capacity import BUSY_PROBES, LAG_PROBES, PROBE_S, LoopMonitor


async def test_the_lag_monitor_sees_a_loop_that_runs_late() -> None:
    monitor = LoopMonitor()
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


def busy_for(monitor: LoopMonitor, share: float) -> None:
    """Probes of the last 2 s that say the loop's thread was on a CPU `share` of it.

    Anchored at the real clocks, so the monitor's own next probe continues them."""
    now, cpu = asyncio.get_running_loop().time(), time.thread_time()
    for i in range(BUSY_PROBES):
        back = (BUSY_PROBES - 1 - i) * PROBE_S
        monitor.record_cpu(now - back, cpu - back * share)


async def test_the_loop_monitor_sees_a_loop_that_is_always_busy() -> None:
    monitor = LoopMonitor()
    monitor.start()
    try:
        await asyncio.sleep(1.2)  # an idle loop: the probe's own wake-ups only
        assert monitor.busy() < 0.3
        stop = asyncio.Event()

        async def spin() -> None:  # work, not waiting: 20 ms of CPU per callback
            while not stop.is_set():
                end = time.thread_time() + 0.02
                while time.thread_time() < end:
                    pass
                await asyncio.sleep(0)

        hog = asyncio.create_task(spin())
        try:
            await until_true(lambda: monitor.busy() > 0.5, "the busy share shows", 15)
        finally:
            stop.set()
            await hog
    finally:
        await monitor.stop()


def late_by(monitor: LoopMonitor, late_s: float) -> None:
    """A second of probes that woke `late_s` late."""
    for _ in range(LAG_PROBES):
        monitor.record(late_s)


@pytest.mark.parametrize(
    ("gemini_live_config", "overload", "recover", "says"),
    [
        (
            {"shed_loop_lag_ms": 40, "max_sessions": 10},
            partial(late_by, late_s=0.08),
            partial(late_by, late_s=0.0),
            "runs 80 ms late (limit c.GeminiLive.shed_loop_lag_ms = 40 ms)",
        ),
        (
            {"shed_loop_busy": 0.9, "max_sessions": 10},
            partial(busy_for, share=0.97),
            partial(busy_for, share=0.5),
            "busy 97% of the last 2 s (limit c.GeminiLive.shed_loop_busy = 0.9)",
        ),
    ],
    ids=["lagging", "busy"],
)
async def test_an_overloaded_server_refuses_new_sessions_with_503(
    api: Any,
    jp_serverapp: Any,
    gemini_live_config: Any,
    overload: Callable[[LoopMonitor], None],
    recover: Callable[[LoopMonitor], None],
    says: str,
) -> None:
    manager = jp_serverapp.web_app.settings["gemini_live_sessions"]
    code, first = await api("POST", "sessions")
    assert code == 201, first
    overload(manager.loop)
    code, error = await api("POST", "sessions")
    assert code == 503
    assert error["message"].startswith("the server is over capacity: its event loop"), error
    assert says in error["message"]
    assert "with 1 session open; try again later" in error["message"]
    _, sessions = await api("GET", "sessions")
    assert [s["id"] for s in sessions] == [first["id"]]  # no slot taken
    recover(manager.loop)
    code, second = await api("POST", "sessions")
    assert code == 201, second


@pytest.mark.parametrize("gemini_live_config", [{"shed_loop_lag_ms": 0, "shed_loop_busy": 0}])
async def test_shedding_can_be_turned_off(
    api: Any, jp_serverapp: Any, gemini_live_config: Any
) -> None:
    manager = jp_serverapp.web_app.settings["gemini_live_sessions"]
    for _ in range(LAG_PROBES):
        manager.loop.record(1.0)
    busy_for(manager.loop, 1.0)
    assert (await api("POST", "sessions"))[0] == 201


@pytest.mark.parametrize("value", ["-0.1", "1.5"])
def test_a_busy_limit_outside_0_to_1_is_refused_at_start(value: str) -> None:
    from traitlets import TraitError

    from jupyter_gemini_live.app import GeminiLive

    with pytest.raises(TraitError, match="shed_loop_busy"):
        GeminiLive(shed_loop_busy=float(value))


async def test_an_idle_server_stops_probing_its_loop(api: Any, jp_serverapp: Any) -> None:
    """Regression: once a session had been opened, the probe woke the server twenty times
    a second for good (0.8 % of a core on an idle laptop)."""
    manager = jp_serverapp.web_app.settings["gemini_live_sessions"]
    assert not manager.loop.running
    code, session = await api("POST", "sessions")
    assert code == 201, session
    assert manager.loop.running
    await api("DELETE", f"sessions/{session['id']}")
    await until_true(lambda: not manager.loop.running, "the probe paused", 10)
    # and the next session starts it again, with nothing left from before
    busy_for(manager.loop, 1.0)
    code, again = await api("POST", "sessions")
    assert code == 201, again
    assert manager.loop.running
    assert manager.loop.busy() == 0.0  # a fresh window: under a second of probes

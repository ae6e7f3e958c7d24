"""Conversations count as server activity (what JupyterHub's idle culling reads), with no hub:
the stamp itself, and a call on the stream websocket moving `web_app.last_activity()`."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from speech import silence, speech

from jupyter_gemini_live.activity import ACTIVITY_KEY, ActivityStamp


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_stamp_is_throttled() -> None:
    settings: dict[str, Any] = {"last_activity_times": {}}
    clock = Clock()
    stamp = ActivityStamp(settings, min_interval=1.0, clock=clock)
    stamp()
    first = settings["last_activity_times"][ACTIVITY_KEY]
    assert isinstance(first, datetime)
    assert first.tzinfo is not None  # jupyter-server compares it with its aware UTC times

    clock.now += 0.5
    stamp()
    assert settings["last_activity_times"][ACTIVITY_KEY] is first

    clock.now += 0.5
    stamp()
    assert settings["last_activity_times"][ACTIVITY_KEY] is not first
    assert settings["last_activity_times"][ACTIVITY_KEY] >= first


def test_the_stamp_makes_its_own_entry() -> None:
    settings: dict[str, Any] = {}
    ActivityStamp(settings)()
    assert ACTIVITY_KEY in settings["last_activity_times"]


async def test_a_call_moves_the_servers_last_activity(
    jp_serverapp: Any, api: Any, open_stream: Any
) -> None:
    web_app = jp_serverapp.web_app
    code, session = await api("POST", "sessions", body={"backend": "echo"})
    assert code == 201
    stream = await open_stream(session["id"])
    await stream.until("ready")
    times = web_app.settings["last_activity_times"]
    opened = times[ACTIVITY_KEY]  # the device connecting is activity
    assert web_app.last_activity() >= opened

    # only stream traffic from here on: talk until the stamp moves again
    for _ in range(10):
        await stream.talk(speech(0.3) + silence(0.2))
        await asyncio.sleep(0)
        if times[ACTIVITY_KEY] > opened:
            break
    assert times[ACTIVITY_KEY] > opened
    assert web_app.last_activity() == times[ACTIVITY_KEY]

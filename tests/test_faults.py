"""Faults, bounded in time: a device that vanishes without a close frame, and the server
stopped (SIGTERM, SIGINT) while sessions stream."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest
from jupyter_process import Lab
from speech import frames, speech
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect
from waiting import until_true


async def test_a_device_that_vanishes_frees_its_slot_after_the_grace(
    api: Any, open_stream: Any, jp_serverapp: Any
) -> None:
    """No close frame, the TCP connection reset: the session notices, waits for the device
    to come back for `reconnect_grace` (1 s here), then closes and frees its slot."""
    manager = jp_serverapp.web_app.settings["gemini_live_sessions"]
    code, created = await api("POST", "sessions")
    assert code == 201
    session_id = created["id"]
    stream = await open_stream(session_id)
    await stream.until("ready")
    await stream.talk(speech(0.2))
    sock = stream.ws.protocol.stream.socket
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stream.ws.protocol.stream.close()  # RST, no close frame

    async def device_gone() -> bool:
        _, info = await api("GET", "sessions", session_id)
        return info["device_connected"] is False and info["state"] == "live"

    await until_true(device_gone, "the server noticed the device is gone, session kept")
    assert manager.open_count() == 1

    async def closed() -> bool:
        _, info = await api("GET", "sessions", session_id)
        return bool(info["state"] == "closed")

    await until_true(closed, "the session closed after the reconnect grace", timeout=15)
    assert manager.open_count() == 0
    code, info = await api("GET", "sessions", session_id)
    assert code == 200
    assert info["clients"] == 0


BAD_LOG = ("Task was destroyed but it is pending", "Exception in callback", "Traceback")


async def stream_to(lab: Lab, session_id: str, mode: str = "device") -> Any:
    url = lab.url.replace("http://", "ws://") + f"gemini-live/api/sessions/{session_id}/stream"
    url += f"?mode={mode}"
    ws = await websocket_connect(
        HTTPRequest(url, headers={"Authorization": f"token {lab.token}"}, request_timeout=10)
    )
    assert '"ready"' in await ws.read_message()
    return ws


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_the_server_stops_cleanly_with_live_sessions(
    start_lab: Any, tmp_path: Path, sig: signal.Signals
) -> None:
    """SIGTERM runs jupyter-server's cleanup: sessions close and every client gets a close
    frame. SIGINT without a terminal is a KeyboardInterrupt out of the loop, which skips
    the extensions' cleanup (jupyter-server's choice): the process exits, sockets end."""
    lab: Lab = start_lab("--GeminiLive.idle_timeout=0", app="server")
    devices = []
    for _ in range(3):
        session = lab.api("POST", "sessions", {})
        devices.append(await stream_to(lab, session["id"]))
    observer = await stream_to(lab, session["id"], "observe")
    for pcm in frames(speech(0.3)):
        for ws in devices:
            await ws.write_message(pcm, binary=True)
    lab.process.send_signal(sig)
    try:
        code = await asyncio.to_thread(lab.process.wait, 30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the server did not exit within 30 s of {sig.name}")
    for ws in [*devices, observer]:
        while await asyncio.wait_for(ws.read_message(), 10) is not None:
            pass  # every client sees its socket end ...
        if sig == signal.SIGTERM:  # ... with a close frame saying why
            assert (ws.close_code, ws.close_reason) == (1000, "server shutting down")
    port = lab.url.rsplit(":", 1)[1].strip("/")
    log = (tmp_path / f"lab-{port}.log").read_text(errors="replace")
    assert code in (0, -sig, 128 + sig), (code, log[-3000:])
    if sig == signal.SIGINT:
        # The KeyboardInterrupt lands wherever the loop was: a websocket of tornado's it
        # lands in leaves tornado's ping task pending (seen once in 10 runs). None of the
        # extension's own tasks may be left so.
        log = re.sub(r"Task was destroyed but it is pending!\n.*periodic_ping\(\).*\n", "", log)
    for bad in BAD_LOG:
        assert bad not in log, log[-5000:]

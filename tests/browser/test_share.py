"""Camera sharing from the panel, end to end against the simulator (issue 10, item 5).

Chromium's fake capture device is the camera. The panel's preview shows it, JPEG
`image` frames leave on the device websocket at most once a second, the simulator takes
them in (its usage reports count their IMAGE prompt tokens), and after Stop no frame
follows.
"""

from __future__ import annotations

import base64
import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jupyter_process import Lab

from .test_panel import live_session, open_lab, run_command, wait_for

#: wraps WebSocket.send: every `image` frame the page sends, with when it left
RECORD_FRAMES = """
window.__imageFrames = [];
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {
  if (typeof data === 'string' && data.startsWith('{"type":"image"')) {
    const frame = JSON.parse(data);
    window.__imageFrames.push({t: performance.now(), mime: frame.mime_type,
                               head: atob(frame.data.slice(0, 8)),
                               data: window.__imageFrames.length ? '' : frame.data});
  }
  return send.call(this, data);
};
"""


class FrameLog:
    """The `image` frames the page sent on its websockets (recorded in the page)."""

    def __init__(self, page: Any) -> None:
        self.page = page
        page.add_init_script(RECORD_FRAMES)
        page.reload()
        page.wait_for_function("window.jupyterapp && window.jupyterapp.started", timeout=60_000)

    def frames(self) -> list[dict[str, Any]]:
        frames: list[dict[str, Any]] = self.page.evaluate("window.__imageFrames || []")
        return frames

    def count(self) -> int:
        return len(self.frames())


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's start-of-frame segment."""
    at = 2
    while at < len(data):
        marker, length = data[at + 1], int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            height = int.from_bytes(data[at + 5 : at + 7], "big")
            width = int.from_bytes(data[at + 7 : at + 9], "big")
            return width, height
        at += 2 + length
    raise AssertionError("no start of frame in the JPEG")


def image_tokens(lab: Lab, session_id: str) -> int:
    usage = lab.api("GET", f"sessions/{session_id}")["stats"].get("usage") or {}
    return int(((usage.get("tokens") or {}).get("prompt") or {}).get("image") or 0)


def test_camera_sharing_against_the_simulator(
    chromium: Any, start_lab: Callable[..., Lab], tmp_path: Path
) -> None:
    from .simulator_process import running_simulator

    with running_simulator(tmp_path) as (url, ca_file, key):
        lab = start_lab(
            f"--GeminiLive.base_url={url}",
            f"--GeminiLive.ca_file={ca_file}",
            f"--GeminiLive.api_key={key}",
        )
        page = open_lab(chromium, lab)
        frames = FrameLog(page)
        run_command(page, "gemini-live:open")
        share = page.locator('[data-testid="gemini-live-share-camera"]')
        assert share.is_disabled()  # nothing to share with before the session is live
        run_command(page, "gemini-live:start")
        page.locator('[data-testid="gemini-live-status"][data-state="live"]').wait_for()
        session = wait_for("a live session", lambda: live_session(lab))

        share.click()
        page.locator('[data-testid="gemini-live-share-camera"][aria-pressed="true"]').wait_for()
        preview = page.locator('[data-testid="gemini-live-share-preview"]')
        preview.wait_for(state="visible")
        # The preview really plays the camera (a picture of the fake device's size).
        page.wait_for_function(
            "() => document.querySelector('[data-testid=\"gemini-live-share-preview\"]')"
            "?.videoWidth > 0"
        )

        wait_for("five camera frames sent", lambda: frames.count() >= 5, timeout=30)
        sent = frames.frames()
        assert {frame["mime"] for frame in sent} == {"image/jpeg"}
        assert sent[0]["head"].startswith("\xff\xd8")  # JPEG bytes
        # At most one frame a second: the pacer starts a frame 1 s after the last one
        # started (sending follows the encoding, so allow for its jitter).
        gaps = [b["t"] - a["t"] for a, b in itertools.pairwise(sent)]
        assert min(gaps) > 500, gaps

        # The simulator took them in: its usage counts image prompt tokens (reported
        # with each turn the fake microphone's speech makes).
        wait_for(
            "image tokens in the session usage",
            lambda: image_tokens(lab, session["id"]) > 0,
            timeout=60,
        )

        share.click()  # Stop camera
        preview.wait_for(state="detached")
        page.locator('[data-testid="gemini-live-share-camera"][aria-pressed="false"]').wait_for()
        stopped_at = frames.count()
        time.sleep(2.5)  # more than two frame intervals: none may follow
        assert frames.count() == stopped_at

        # Sharing again, then stopping the session: the camera stops with it.
        share.click()
        wait_for("a frame after sharing again", lambda: frames.count() > stopped_at, timeout=30)
        run_command(page, "gemini-live:stop")
        wait_for("the session to end", lambda: not live_session(lab))
        preview.wait_for(state="detached")
        ended_at = frames.count()
        time.sleep(2.5)
        assert frames.count() == ended_at
        page.context.close()


def test_screen_sharing_stops_with_the_browsers_own_stop(
    chromium: Any, start_lab: Callable[..., Lab], tmp_path: Path
) -> None:
    """getDisplayMedia (Chromium's fake screen, 1280x720): frames scaled to 768 px on
    the long side; the track ending on its own (the browser's "Stop sharing") stops it."""
    from .simulator_process import running_simulator

    with running_simulator(tmp_path) as (url, ca_file, key):
        lab = start_lab(
            f"--GeminiLive.base_url={url}",
            f"--GeminiLive.ca_file={ca_file}",
            f"--GeminiLive.api_key={key}",
        )
        page = open_lab(chromium, lab)
        frames = FrameLog(page)
        run_command(page, "gemini-live:open")
        run_command(page, "gemini-live:start")
        page.locator('[data-testid="gemini-live-status"][data-state="live"]').wait_for()
        page.locator('[data-testid="gemini-live-share-screen"]').click()
        preview = page.locator('[data-testid="gemini-live-share-preview"]')
        preview.wait_for(state="visible")
        wait_for("two screen frames", lambda: frames.count() >= 2, timeout=30)
        first = base64.b64decode(frames.frames()[0]["data"])
        width, height = jpeg_size(first)
        assert max(width, height) == 768
        assert abs(width / height - 1280 / 720) < 0.01

        # The browser ends the track (its own "Stop sharing" button does this).
        page.evaluate(
            "document.querySelector('[data-testid=\"gemini-live-share-preview\"]')"
            ".srcObject.getVideoTracks()[0].dispatchEvent(new Event('ended'))"
        )
        preview.wait_for(state="detached")
        page.locator('[data-testid="gemini-live-share-screen"][aria-pressed="false"]').wait_for()
        stopped_at = frames.count()
        time.sleep(2.5)
        assert frames.count() == stopped_at
        run_command(page, "gemini-live:stop")
        page.context.close()

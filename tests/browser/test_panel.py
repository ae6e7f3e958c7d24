"""End to end in Debian's Chromium: a WAV file is the microphone, JupyterLab is real.

The panel is opened and driven with the palette commands a user would run; what the user
would notice is checked on the page (status, transcript rows) and on the server (audio
in, audio out, audio really played).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jupyter_process import WEATHER, Lab, Run

from .conftest import code_cell, write_notebook_file

SCREENSHOTS = Path(os.environ.get("GEMINI_LIVE_SCREENSHOTS", "test-results"))


def wait_for(what: str, check: Callable[[], Any], timeout: float = 40.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


def open_lab(
    chromium: Any, lab: Lab, theme: str = "JupyterLab Light", page_path: str = "lab"
) -> Any:
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and print("console:", m.text))
    page.on("pageerror", lambda e: print("pageerror:", e, getattr(e, "stack", "")))
    page.goto(f"{lab.url}{page_path}?token={lab.token}&reset")
    page.wait_for_function("window.jupyterapp && window.jupyterapp.started", timeout=60_000)
    page.evaluate("app => window.jupyterapp.started", None)
    page.evaluate(
        f"window.jupyterapp.commands.execute('apputils:change-theme', {{theme: '{theme}'}})"
    )
    return page


def run_command(page: Any, command: str) -> None:
    page.evaluate(f"window.jupyterapp.commands.execute('{command}')")


def live_session(lab: Lab) -> dict[str, Any] | None:
    sessions = [s for s in lab.api("GET", "sessions") if s["state"] == "live"]
    return sessions[0] if sessions else None


def converse(
    chromium: Any, lab: Lab, backend: str, shot: str, theme: str, page_path: str = "lab"
) -> None:
    page = open_lab(chromium, lab, theme, page_path)
    run_command(page, "gemini-live:open")
    panel = page.locator('[data-testid="gemini-live-panel"]')
    panel.wait_for(state="visible")
    status = page.locator('[data-testid="gemini-live-status"]')

    run_command(page, "gemini-live:start")
    wait_for("the status to say live", lambda: status.get_attribute("data-state") == "live")
    session = wait_for("a live session", lambda: live_session(lab))
    assert session["backend"] == backend
    assert panel.get_attribute("data-session-id") == session["id"]

    def grown() -> dict[str, Any] | None:
        stats = lab.api("GET", f"sessions/{session['id']}")["stats"]
        done = stats["turns"] >= 2 and min(stats["audio_out_ms"], stats["played_ms"]) > 1000
        return stats if done else None

    stats = wait_for("two spoken turns heard back", grown, timeout=60)
    assert stats["audio_in_ms"] > 4000
    # The echo returns what it heard: out ≈ speech in (1 s per 4 s of microphone). The
    # first utterance may be cut by where in the looping WAV the capture started.
    assert stats["audio_out_ms"] >= 0.8 * 1000 * (stats["turns"] - 1)
    assert stats["played_ms"] <= stats["audio_out_ms"] + 50
    assert stats["dropped_in_ms"] == 0

    rows = page.locator('[data-testid="gemini-live-transcript"] [data-testid="gemini-live-row"]')
    wait_for("transcript rows", lambda: rows.count() >= 4)
    roles = [rows.nth(i).get_attribute("data-role") for i in range(4)]
    assert roles == ["user", "model", "user", "model"]
    assert "s of speech" in rows.nth(0).inner_text()
    latency = page.locator('[data-testid="gemini-live-latency"]').inner_text()
    assert "ms" in latency

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / shot))

    page.locator('[data-testid="gemini-live-save"]').click()

    def saved() -> str:
        files = list(lab.root.glob("gemini-live-*.md"))
        return files[0].read_text() if files else ""  # written in place: may be partial

    wait_for("the saved transcript", lambda: saved().count("**Gemini:**") >= 2)
    markdown = saved()
    lines = [line for line in markdown.splitlines() if line.startswith("**")]
    assert [line.split(":**")[0] for line in lines[:4]] == ["**You", "**Gemini"] * 2
    assert "s of speech" in lines[0]

    run_command(page, "gemini-live:stop")
    wait_for("the session to end", lambda: not live_session(lab))
    wait_for("the status to leave live", lambda: status.get_attribute("data-state") != "live")
    page.context.close()


def test_echo_conversation_in_the_panel(chromium: Any, start_lab: Callable[..., Lab]) -> None:
    lab = start_lab()
    converse(chromium, lab, "echo", "panel-echo-light.png", "JupyterLab Light")


def test_gemini_conversation_against_the_simulator(
    chromium: Any, start_lab: Callable[..., Lab], tmp_path: Path
) -> None:
    from .simulator_process import running_simulator

    with running_simulator(tmp_path) as (url, ca_file, key):
        lab = start_lab(
            f"--GeminiLive.base_url={url}",
            f"--GeminiLive.ca_file={ca_file}",
            f"--GeminiLive.api_key={key}",
        )
        converse(chromium, lab, "gemini", "panel-gemini-dark.png", "JupyterLab Dark")


def test_notebook_7_has_the_panel_too(
    chromium: Any, start_lab: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = start_lab(app="notebook")
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook = {"cells": [], "metadata": {"kernelspec": kernel}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "root" / "analysis.ipynb").write_text(json.dumps(notebook))
    converse(
        chromium, lab, "echo", "notebook7-echo.png", "JupyterLab Light",
        page_path="notebooks/analysis.ipynb",
    )  # fmt: skip


def mic_level_js(comparison: str) -> str:
    """A page condition on the panel's microphone meter (dBFS, redrawn ~20 times a second)."""
    meter = '[data-testid="gemini-live-mic-level"]'
    return f"() => Number(document.querySelector('{meter}')?.dataset.db ?? -999) {comparison}"


def test_push_to_talk_sends_only_what_is_held(chromium: Any, start_lab: Callable[..., Lab]) -> None:
    lab = start_lab()
    page = open_lab(chromium, lab)
    run_command(page, "gemini-live:open")
    options = page.locator("details.jp-GeminiLive-options")
    if options.get_attribute("open") is None:
        options.locator("summary").click()
    page.locator('[data-testid="gemini-live-ptt-mode"]').check()
    run_command(page, "gemini-live:start")
    page.locator('[data-testid="gemini-live-status"][data-state="live"]').wait_for()
    session = wait_for("a live session", lambda: live_session(lab))
    assert session["activity_detection"] == "manual"

    # The microphone speaks a whole burst and falls silent, unheld: nothing is sent.
    page.wait_for_function(mic_level_js("> -40"), timeout=30_000)
    page.wait_for_function(mic_level_js("< -60"), timeout=30_000)
    quiet = lab.api("GET", f"sessions/{session['id']}")["stats"]
    assert (quiet["audio_in_ms"], quiet["turns"]) == (0, 0)

    talk = page.locator('[data-testid="gemini-live-ptt"]')
    talk.hover()
    page.mouse.down()
    page.locator('[data-testid="gemini-live-ptt"][aria-pressed="true"]').wait_for()

    def heard_a_loop() -> bool:  # a full loop of the microphone file: 1 s of speech in it
        return lab.api("GET", f"sessions/{session['id']}")["stats"]["audio_in_ms"] >= 4200

    wait_for("a loop of held microphone audio at the server", heard_a_loop)
    page.mouse.up()
    page.locator('[data-testid="gemini-live-ptt"][aria-pressed="false"]').wait_for()

    def answered() -> dict[str, Any] | None:
        stats = lab.api("GET", f"sessions/{session['id']}")["stats"]
        return stats if stats["turns"] >= 1 else None

    stats = wait_for("the held speech echoed", answered)
    # Only what was held was sent, and the echo returned exactly that (16 → 24 kHz).
    assert stats["audio_in_ms"] >= 4200
    assert stats["audio_out_ms"] == pytest.approx(stats["audio_in_ms"], abs=1)
    rows = page.locator('[data-testid="gemini-live-row"][data-role="user"]')
    rows.first.wait_for()
    assert f"({stats['audio_in_ms'] / 1000:.1f} s of speech)" in rows.first.inner_text()
    after = lab.api("GET", f"sessions/{session['id']}")["stats"]
    assert after["audio_in_ms"] == stats["audio_in_ms"]  # released: nothing more is sent
    run_command(page, "gemini-live:stop")


def test_voice_joins_the_notebooks_session_and_its_tools(
    chromium: Any, start_lab: Callable[..., Lab], start_kernel: Callable[[Lab], Run]
) -> None:
    """A notebook starts a session with a Python tool; the user talks to it from the panel."""
    lab = start_lab()
    run = start_kernel(lab)
    run(WEATHER)
    run("%load_ext jupyter_gemini_live")
    run("%gemini_live start --backend echo --tools get_weather")
    session = wait_for("the notebook's session", lambda: live_session(lab))

    page = open_lab(chromium, lab)
    run_command(page, "gemini-live:open")
    page.locator('[data-testid="gemini-live-join-hint"]').wait_for(state="visible")
    options = page.locator("details.jp-GeminiLive-options")
    if options.get_attribute("open") is None:
        options.locator("summary").click()
    page.locator('[data-testid="gemini-live-session"]').select_option(session["id"])
    run_command(page, "gemini-live:start")
    panel = page.locator('[data-testid="gemini-live-panel"]')
    wait_for("the panel in the notebook's session", lambda: panel.get_attribute("data-joined"))
    assert panel.get_attribute("data-joined") == "true"
    assert panel.get_attribute("data-session-id") == session["id"]

    def heard() -> dict[str, Any] | None:
        stats = lab.api("GET", f"sessions/{session['id']}")["stats"]
        return stats if stats["turns"] >= 1 and stats["played_ms"] > 500 else None

    wait_for("a spoken turn in the notebook's session", heard)
    page.locator('[data-testid="gemini-live-text-input"]').fill(
        'call get_weather {"city": "Paris"}'
    )
    page.locator('[data-testid="gemini-live-send"]').click()
    answer = 'get_weather returned {"result": {"city": "Paris", "sky": "clear"}}'
    rows = page.locator('[data-testid="gemini-live-row"][data-role="model"]')
    wait_for(
        "the kernel's answer spoken about",
        lambda: [text for text in rows.all_inner_texts() if answer in text],
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "panel-joined-notebook-session.png"))

    run_command(page, "gemini-live:stop")
    after = wait_for(
        "the panel to leave",
        lambda: (
            (info := lab.api("GET", f"sessions/{session['id']}"))["device_connected"] is False
            and info
        ),
    )
    assert after["state"] == "live"  # the notebook's session goes on without the panel
    assert "get_weather returned" in run("%gemini_live transcript")


def test_talk_on_the_card_in_a_notebook_joins_its_session(
    chromium: Any, start_lab: Callable[..., Lab]
) -> None:
    """The card `%gemini_live start` leaves in a notebook: Talk makes the panel its mic."""
    from jupyter_gemini_live.client.magics import SESSION_MIME_TYPE

    lab = start_lab()
    session = lab.api("POST", "sessions", {"backend": "echo"})
    card = {"session_id": session["id"], "backend": "echo", "model": "m", "voice": "Puck"}
    output = {
        "output_type": "display_data",
        "metadata": {},
        "data": {SESSION_MIME_TYPE: card, "text/plain": "Gemini Live session"},
    }
    cell = code_cell("c1", "%gemini_live start --backend echo", [output], count=1)
    write_notebook_file(lab.root / "voice.ipynb", cell)

    page = open_lab(chromium, lab, page_path="lab/tree/voice.ipynb")
    inline = page.locator('[data-testid="gemini-live-inline"]')
    inline.wait_for(state="visible", timeout=60_000)
    assert inline.get_attribute("data-session-id") == session["id"]
    wait_for("the card to show the state", lambda: inline.get_attribute("data-state") == "live")
    page.locator('[data-testid="gemini-live-inline-talk"]').click()

    def spoken() -> dict[str, Any] | None:
        info = lab.api("GET", f"sessions/{session['id']}")
        return info if info["device_connected"] and info["stats"]["turns"] >= 1 else None

    wait_for("a spoken turn in the card's session", spoken)
    panel = page.locator('[data-testid="gemini-live-panel"]')
    assert panel.get_attribute("data-session-id") == session["id"]
    assert lab.api("GET", "sessions")[0]["id"] == session["id"]  # joined, none created


@pytest.fixture(autouse=True)
def _screenshots_dir(tmp_path: Path) -> None:
    global SCREENSHOTS
    if "GEMINI_LIVE_SCREENSHOTS" not in os.environ:
        SCREENSHOTS = tmp_path / "screenshots"


def test_talking_over_the_reply_silences_it(
    launch_chromium: Callable[[Path], Any], barge_in_wav: Path, start_lab: Callable[..., Lab]
) -> None:
    lab = start_lab()
    page = open_lab(launch_chromium(barge_in_wav), lab)
    run_command(page, "gemini-live:open")
    run_command(page, "gemini-live:start")
    session = wait_for("a live session", lambda: live_session(lab))

    def interrupted() -> dict[str, Any] | None:
        stats = lab.api("GET", f"sessions/{session['id']}")["stats"]
        return stats if stats["interruptions"] >= 1 and stats["turns"] >= 2 else None

    stats = wait_for("the reply to be interrupted", interrupted, timeout=60)
    marked = page.locator('[data-testid="gemini-live-row"][data-interrupted="true"]')
    wait_for("the interrupted reply marked in the transcript", lambda: marked.count() >= 1)
    assert marked.first.get_attribute("data-role") == "model"
    # The player stopped: it did not play the rest of the 2.5 s reply it had been sent.
    assert stats["played_ms"] < stats["audio_out_ms"]
    run_command(page, "gemini-live:stop")
    wait_for("the session to end", lambda: not live_session(lab))

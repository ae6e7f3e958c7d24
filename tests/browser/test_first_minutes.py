"""The first minutes of a new user (issue 12), in Debian's Chromium with a WAV microphone.

An insecure page says so and leaves nothing on the server; the echo banner is readable in
every theme and the options never squeeze the conversation; a reload rejoins the tab's
own session with its transcript; the conversation goes into a notebook. The screenshots
of the README are taken here: `GEMINI_LIVE_SCREENSHOTS=docs/images` writes them over
docs/images/panel-*.png (otherwise they go to the test's temporary folder).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jupyter_process import Lab

from .test_panel import live_session, open_lab, run_command, wait_for

PANEL = '[data-testid="gemini-live-panel"]'
ROWS = '[data-testid="gemini-live-transcript"] [data-testid="gemini-live-row"]'

#: WCAG's contrast ratio of two "rgb(r, g, b)" colours (text on its background).
CONTRAST = """
([fg, bg]) => {
  const lum = c => {
    const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}
"""


def open_panel(page: Any) -> Any:
    run_command(page, "gemini-live:open")
    panel = page.locator(PANEL)
    panel.wait_for(state="visible")
    return panel


def talk_until_answered(page: Any, lab: Lab) -> dict[str, Any]:
    """Start, and wait for a spoken turn and its echo in the panel."""
    page.locator('[data-testid="gemini-live-start"]').click()
    status = page.locator('[data-testid="gemini-live-status"]')
    wait_for("live", lambda: status.get_attribute("data-state") == "live")
    rows = page.locator(ROWS)
    wait_for(
        "a spoken turn and its answer",
        lambda: (
            rows.count() >= 2
            and page.locator(f'{ROWS}[data-role="model"][data-final="true"]').count() >= 1
        ),
        timeout=60,
    )
    session = live_session(lab)
    assert session is not None
    return session


def element_colors(page: Any, selector: str) -> tuple[str, str]:
    colors: list[str] = page.eval_on_selector(
        selector,
        "e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]",
    )
    return colors[0], colors[1]


def test_an_insecure_page_says_so_and_leaves_nothing_on_the_server(
    launch_chromium: Callable[..., Any], mic_wav: Path, start_lab: Callable[..., Lab]
) -> None:
    """Plain http from a name that is not localhost: no secure context, so no microphone."""
    lab = start_lab("--ServerApp.allow_remote_access=True")
    browser = launch_chromium(mic_wav, extra=("--host-resolver-rules=MAP gemini.test 127.0.0.1",))
    remote = dataclasses.replace(lab, url=lab.url.replace("127.0.0.1", "gemini.test"))
    page = open_lab(browser, remote)
    assert page.evaluate("window.isSecureContext") is False
    open_panel(page)
    preflight = page.locator('[data-testid="gemini-live-preflight"]')
    preflight.wait_for(state="visible")
    assert preflight.locator('li[data-code="insecure"]').count() == 1
    assert "ssh -L" in preflight.inner_text()

    status = page.locator('[data-testid="gemini-live-status"]')
    start = page.locator('[data-testid="gemini-live-start"]')
    for _ in range(4):
        start.click()
        wait_for("the failed start", lambda: status.get_attribute("data-state") == "error")
        message = status.inner_text()
        assert "not a secure context" in message, message
        assert "addModule" not in message
        assert lab.api("GET", "sessions") == []
    assert page.locator('[data-testid="gemini-live-join-hint"]').count() == 0


THEMES = [
    ("JupyterLab Light", "light"),
    ("JupyterLab Dark", "dark"),
    ("JupyterLab Dark High Contrast", "high-contrast"),
]


@pytest.mark.parametrize(("theme", "name"), THEMES)
def test_the_panel_reads_well_in_every_theme(
    chromium: Any, start_lab: Callable[..., Lab], theme: str, name: str, tmp_path: Path
) -> None:
    lab = start_lab()
    page = open_lab(chromium, lab, theme)
    page.wait_for_function(
        f"document.body.dataset.jpThemeName === {json.dumps(theme)}", timeout=30_000
    )
    panel = open_panel(page)
    banner = '[data-testid="gemini-live-banner"]'
    page.locator(banner).wait_for(state="visible")
    ratio = page.evaluate(CONTRAST, list(element_colors(page, banner)))
    assert ratio >= 4.5, f"banner contrast {ratio:.2f} in {theme}"
    status = page.locator('[data-testid="gemini-live-status"]')
    wait_for("the idle status", lambda: "Ready" in status.inner_text())
    assert "Echo" not in status.inner_text()  # the banner says it, once

    # The options fold out without squeezing the conversation; the Model field is a field.
    options = page.locator("details.jp-GeminiLive-options")
    assert options.get_attribute("open") is None
    options.locator("summary").click()
    transcript = page.locator('[data-testid="gemini-live-transcript"]')
    assert transcript.bounding_box()["height"] >= 200
    model = page.locator('[data-testid="gemini-live-model"]')
    assert model.is_enabled()
    assert model.get_attribute("placeholder") == "Server default"
    options.locator("summary").click()

    session = talk_until_answered(page, lab)
    latency = page.locator('[data-testid="gemini-live-latency"]')
    wait_for("the latency", lambda: "median" in latency.inner_text())
    assert page.locator('[data-testid="gemini-live-state-badge"]').inner_text() == "Live"
    assert page.locator('[data-testid="gemini-live-turn"]').count() >= 1
    shots = Path(os.environ.get("GEMINI_LIVE_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    panel.screenshot(path=str(shots / f"panel-{name}.png"))

    page.locator('[data-testid="gemini-live-stop"]').click()
    wait_for("the session to end", lambda: not live_session(lab))
    wait_for("idle", lambda: status.get_attribute("data-state") == "idle")
    assert latency.inner_text() == ""  # the last turn's latency goes with Stop
    assert session["backend"] == "echo"


def test_a_reload_rejoins_its_own_session_with_its_transcript(
    chromium: Any, start_lab: Callable[..., Lab]
) -> None:
    lab = start_lab()
    page = open_lab(chromium, lab)
    panel = open_panel(page)
    session = talk_until_answered(page, lab)
    first_text = page.locator(ROWS).first.locator(".jp-GeminiLive-text").inner_text()

    page.reload()
    page.wait_for_function("window.jupyterapp && window.jupyterapp.started", timeout=60_000)
    panel = open_panel(page)
    wait_for(
        "the same session, live again",
        lambda: (
            panel.get_attribute("data-session-id") == session["id"]
            and panel.get_attribute("data-state") == "live"
        ),
    )
    rows = page.locator(ROWS)
    wait_for("the transcript back", lambda: rows.count() >= 2)
    assert rows.first.locator(".jp-GeminiLive-text").inner_text() == first_text
    assert page.locator('[data-testid="gemini-live-join-hint"]').count() == 0
    assert [s["id"] for s in lab.api("GET", "sessions") if s["state"] == "live"] == [session["id"]]
    page.locator('[data-testid="gemini-live-stop"]').click()
    wait_for("the session to end", lambda: not live_session(lab))


def test_insert_into_notebook_writes_markdown_cells(
    chromium: Any, start_lab: Callable[..., Lab]
) -> None:
    lab = start_lab()
    notebook = {
        "cells": [{"cell_type": "markdown", "metadata": {}, "source": "Notes"}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (lab.root / "notes.ipynb").write_text(json.dumps(notebook))
    page = open_lab(chromium, lab)
    page.evaluate("window.jupyterapp.commands.execute('docmanager:open', {path: 'notes.ipynb'})")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    dialog = page.locator(".jp-Dialog")  # "Select Kernel": none is needed for Markdown
    if dialog.count():
        dialog.locator(".jp-mod-reject, .jp-mod-accept").first.click()
    open_panel(page)
    talk_until_answered(page, lab)
    page.locator('[data-testid="gemini-live-insert"]').click()
    status = page.locator('[data-testid="gemini-live-status"]')
    wait_for("the insert", lambda: "notes.ipynb" in status.inner_text())
    sources: list[str] = page.evaluate(
        """() => {
          const nb = window.jupyterapp.shell.widgets('main');
          for (const w of nb) {
            if (w.context && w.context.path === 'notes.ipynb') {
              return w.content.model.sharedModel.cells.map(c => c.cell_type + ':' + c.source);
            }
          }
          return [];
        }"""
    )
    assert sources[0] == "markdown:Notes"
    assert sources[1].startswith("markdown:# Gemini Live conversation")
    assert sources[2].startswith("markdown:## Turn 1\n\n**You:** ")
    assert "**Gemini:** " in sources[2]
    page.locator('[data-testid="gemini-live-stop"]').click()
    wait_for("the session to end", lambda: not live_session(lab))

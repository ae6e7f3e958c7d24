"""The panel in Debian's Chromium through JupyterHub: alice logs in with the hub's form,
opens JupyterLab on her server and talks (the WAV microphone of tests/browser)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser.conftest import launch_chromium, mic_wav, playwright  # fixtures
from browser.test_panel import live_session, run_command, wait_for
from jupyter_process import Lab

from .conftest import PASSWORD, Hub

pytestmark = pytest.mark.browser
__all__ = ["launch_chromium", "mic_wav", "playwright"]


def test_the_panel_talks_through_the_hub(
    hub: Hub, alice: str, launch_chromium: Any, mic_wav: Path, tmp_path: Path
) -> None:
    # alice's server seen with her token, through the proxy
    lab = Lab(f"{hub.url}user/alice/", alice, hub.process, tmp_path, tmp_path, hub.log)
    page = launch_chromium(mic_wav).new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.on("pageerror", lambda e: print("pageerror:", e))
    page.goto(f"{hub.url}hub/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url("**/user/alice/**", timeout=60_000)
    page.goto(f"{hub.url}user/alice/lab?reset")
    page.wait_for_function("window.jupyterapp && window.jupyterapp.started", timeout=60_000)

    run_command(page, "gemini-live:open")
    page.locator('[data-testid="gemini-live-panel"]').wait_for(state="visible")
    status = page.locator('[data-testid="gemini-live-status"]')
    run_command(page, "gemini-live:start")
    wait_for("the status to say live", lambda: status.get_attribute("data-state") == "live")
    session = wait_for("a live session", lambda: live_session(lab))
    assert session["backend"] == "echo"

    def heard() -> dict[str, Any] | None:
        stats = lab.api("GET", f"sessions/{session['id']}")["stats"]
        return stats if stats["turns"] >= 1 and stats["played_ms"] > 500 else None

    stats = wait_for("a spoken turn echoed and played", heard, timeout=60)
    assert stats["audio_out_ms"] >= 500
    rows = page.locator('[data-testid="gemini-live-row"][data-role="model"]')
    wait_for("the model's row", lambda: rows.count() >= 1)

    run_command(page, "gemini-live:stop")
    wait_for("the session to end", lambda: not live_session(lab))
    page.context.close()

"""Gemini Live as of late 2026 in the panel, against the simulator (issue 10): the model
picker gates the options on the server's capability table, the model's thinking shows,
grounding sources are links under the reply, and each turn shows its usage.

The thinking and grounding checks need the server events `thinking` and `grounding`;
until the server has them, those tests are skipped (they say so).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_process import Lab

from jupyter_gemini_live import protocol

from .test_panel import live_session, open_lab, run_command, wait_for

EXTENDED = "gemini-3.8-live-extended-thinking"
STABLE = "gemini-3.8-live"


def server_sends(kind: str) -> bool:
    return any(getattr(event, "type", None) == kind for event in protocol.SERVER_EVENTS)


@pytest.fixture
def simulated_lab(start_lab: Callable[..., Lab], tmp_path: Path) -> Iterator[Lab]:
    from .simulator_process import running_simulator

    with running_simulator(tmp_path) as (url, ca_file, key):
        yield start_lab(
            f"--GeminiLive.base_url={url}",
            f"--GeminiLive.ca_file={ca_file}",
            f"--GeminiLive.api_key={key}",
        )


def open_options(page: Any) -> None:
    run_command(page, "gemini-live:open")
    options = page.locator("details.jp-GeminiLive-options")
    options.wait_for()
    if options.get_attribute("open") is None:
        options.locator("summary").click()


def choose_model(page: Any, name: str) -> None:
    page.locator('[data-testid="gemini-live-model"]').fill(name)


def start(page: Any, lab: Lab) -> dict[str, Any]:
    run_command(page, "gemini-live:start")
    page.locator('[data-testid="gemini-live-status"][data-state="live"]').wait_for()
    session: dict[str, Any] = wait_for("a live session", lambda: live_session(lab))
    return session


def mute(page: Any) -> None:
    """Silence the fake microphone before the session starts. Muted later, its first frames
    of speech still open an utterance; when that ends (after the silence the mute sends)
    the model answers it, cutting short the typed turn's reply before its sources."""
    page.locator('[data-testid="gemini-live-mute"]').click()
    page.locator('[data-testid="gemini-live-mute"][aria-pressed="true"]').wait_for()


def send(page: Any, text: str) -> None:
    page.locator('[data-testid="gemini-live-text-input"]').fill(text)
    page.locator('[data-testid="gemini-live-send"]').click()


def test_the_model_picker_gates_the_options(chromium: Any, simulated_lab: Lab) -> None:
    page = open_lab(chromium, simulated_lab)
    open_options(page)
    models = page.locator("#jp-GeminiLive-models option")
    offered = [models.nth(i).get_attribute("value") for i in range(models.count())]
    assert STABLE in offered
    assert EXTENDED in offered
    thinking = page.locator('[data-testid="gemini-live-thinking-level"]')

    choose_model(page, STABLE)
    page.locator('[data-testid="gemini-live-google-search"]').wait_for()
    assert thinking.count() == 0
    assert page.locator('[data-testid="gemini-live-proactive-audio"]').count() == 0
    assert page.locator('[data-testid="gemini-live-affective-dialog"]').count() == 0
    assert page.locator('[data-testid="gemini-live-media-resolution"]').count() == 1

    choose_model(page, EXTENDED)
    thinking.wait_for()
    levels = thinking.locator("option")
    values = [levels.nth(i).get_attribute("value") for i in range(levels.count())]
    assert values == ["", "low", "medium", "high"]

    choose_model(page, "gemini-2.5-flash-native-audio-preview-12-2025")
    page.locator('[data-testid="gemini-live-proactive-audio"]').wait_for()
    page.locator('[data-testid="gemini-live-affective-dialog"]').wait_for()
    assert thinking.count() == 0

    # The session gets only what its model takes: a thinking level for extended
    # thinking; proactive audio (set for 2.5) is not sent to it.
    page.locator('[data-testid="gemini-live-proactive-audio"]').check()
    choose_model(page, EXTENDED)
    thinking.select_option("high")
    session = start(page, simulated_lab)
    assert session["model"] == EXTENDED
    run_command(page, "gemini-live:stop")
    wait_for("the session to end", lambda: not live_session(simulated_lab))
    page.context.close()


def test_each_turn_shows_its_usage(chromium: Any, simulated_lab: Lab) -> None:
    page = open_lab(chromium, simulated_lab)
    open_options(page)
    start(page, simulated_lab)
    send(page, "Hello there")
    turn_usage = page.locator('[data-testid="gemini-live-turn-usage"]').first
    turn_usage.wait_for(timeout=60_000)
    assert int(turn_usage.get_attribute("data-tokens") or 0) > 0
    assert "token" in turn_usage.inner_text()
    session_usage = page.locator('[data-testid="gemini-live-session-usage"]')
    wait_for("the session meter", lambda: int(session_usage.get_attribute("data-tokens") or 0))
    assert "$" in session_usage.inner_text()
    run_command(page, "gemini-live:stop")
    wait_for("the session to end", lambda: not live_session(simulated_lab))
    page.context.close()


@pytest.mark.skipif(not server_sends("thinking"), reason="the server sends no `thinking` event yet")
def test_thinking_shows_while_the_model_thinks(chromium: Any, simulated_lab: Lab) -> None:
    page = open_lab(chromium, simulated_lab)
    open_options(page)
    choose_model(page, EXTENDED)
    mute(page)
    start(page, simulated_lab)
    send(page, "Think about the weather in Paris")
    page.locator('[data-testid="gemini-live-thinking"][data-thinking="true"]').wait_for(
        timeout=60_000
    )
    # Done thinking: the indicator empties (still in the page, for the live region).
    page.locator('[data-testid="gemini-live-thinking"][data-thinking="false"]').wait_for(
        state="attached", timeout=60_000
    )
    run_command(page, "gemini-live:stop")
    page.context.close()


@pytest.mark.skipif(
    not server_sends("grounding"), reason="the server sends no `grounding` event yet"
)
def test_grounding_sources_are_links_under_the_reply(chromium: Any, simulated_lab: Lab) -> None:
    page = open_lab(chromium, simulated_lab)
    open_options(page)
    choose_model(page, STABLE)
    page.locator('[data-testid="gemini-live-google-search"]').check()
    mute(page)
    start(page, simulated_lab)
    send(page, "search the weather in Paris")
    link = page.locator('[data-testid="gemini-live-source"]').first
    link.wait_for(timeout=60_000)
    assert link.get_attribute("target") == "_blank"
    assert link.get_attribute("rel") == "noopener noreferrer"
    assert (link.get_attribute("href") or "").startswith(("https://", "http://"))
    run_command(page, "gemini-live:stop")
    page.context.close()

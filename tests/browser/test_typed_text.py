"""Typed text shows once, in the turn the server put it in (issue 7).

The panel used to guess the turn of typed text (the last turn it saw, plus one) while the
server files text typed before the model has spoken into the current turn: the words then
showed twice, once in the guessed turn and once in the server's. Now the panel shows
typed text in no turn until the server's `text_accepted` says which turn took it.

With the echo, a spoken turn is answered the moment it ends, so the reply is held back
another way: a typed `call NAME {json}` makes the echo call a tool that nobody answers
(there is no kernel), and the model says nothing until it is answered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jupyter_process import Lab

from .test_panel import live_session, open_lab, run_command, wait_for

CALL = 'call get_weather {"city": "Paris"}'
FOLLOW_UP = "and in Rome?"


def panel_rows(page: Any) -> list[dict[str, str]]:
    rows = page.locator('[data-testid="gemini-live-row"]')
    return [
        {
            "role": rows.nth(i).get_attribute("data-role") or "",
            "turn": rows.nth(i).get_attribute("data-turn") or "",
            "typed": rows.nth(i).get_attribute("data-typed") or "",
            "text": rows.nth(i).locator(".jp-GeminiLive-text").inner_text(),
        }
        for i in range(rows.count())
    ]


def transcript(lab: Lab, session_id: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = lab.api("GET", f"sessions/{session_id}/transcript")
    return entries


def send(page: Any, text: str) -> None:
    page.locator('[data-testid="gemini-live-text-input"]').fill(text)
    page.locator('[data-testid="gemini-live-send"]').click()


def speak_one_loop(page: Any, lab: Lab, session_id: str) -> None:
    """Hold Talk while the server takes one loop of the microphone file (1 s of speech)."""
    page.locator('[data-testid="gemini-live-ptt"]').hover()
    page.mouse.down()
    wait_for(
        "a loop of the microphone held",
        lambda: lab.api("GET", f"sessions/{session_id}")["stats"]["audio_in_ms"] >= 4000,
    )
    page.mouse.up()


def test_text_typed_before_the_reply_shows_once_in_the_servers_turn(
    chromium: Any, start_lab: Callable[..., Lab]
) -> None:
    lab = start_lab()
    page = open_lab(chromium, lab)
    run_command(page, "gemini-live:open")
    options = page.locator("details.jp-GeminiLive-options")
    if options.get_attribute("open") is None:
        options.locator("summary").click()
    # Push-to-talk: the looping microphone speaks only while Talk is held.
    page.locator('[data-testid="gemini-live-ptt-mode"]').check()
    run_command(page, "gemini-live:start")
    session = wait_for("a live session", lambda: live_session(lab))
    sid = session["id"]
    status = page.locator('[data-testid="gemini-live-status"]')
    wait_for("the panel live", lambda: status.get_attribute("data-state") == "live")

    speak_one_loop(page, lab, sid)
    wait_for(
        "the spoken turn answered and complete",
        lambda: lab.api("GET", f"sessions/{sid}")["stats"]["turns"] >= 1,
        timeout=60,
    )

    send(page, CALL)
    tool = page.locator('[data-testid="gemini-live-row"][data-role="tool"]')
    wait_for("the unanswered tool call shown", lambda: tool.count() == 1)
    assert lab.api("GET", f"sessions/{sid}")["stats"]["turns"] == 1  # no reply: no new turn

    send(page, FOLLOW_UP)

    def settled() -> list[dict[str, str]] | None:
        rows = panel_rows(page)
        heard = any(FOLLOW_UP in e["text"] for e in transcript(lab, sid))
        placed = any(FOLLOW_UP in r["text"] and r["turn"] for r in rows)
        waiting = any(r["typed"] for r in rows)
        return rows if heard and placed and not waiting else None

    rows = wait_for("the follow-up placed by the server", settled)
    entries = transcript(lab, sid)
    [entry] = [e for e in entries if e["role"] == "user" and FOLLOW_UP in e["text"]]
    assert CALL in entry["text"]  # typed before the model spoke: the same turn as the call
    for text in (CALL, FOLLOW_UP):
        shown = [r for r in rows if r["role"] == "user" and text in r["text"]]
        assert len(shown) == 1, f"{text!r} shown {len(shown)} times: {rows}"
        assert shown[0]["turn"] == str(entry["turn"])
    # Every row of the user is one of the server's entries, in the same turn, word for word.
    users = [(r["turn"], r["text"]) for r in rows if r["role"] == "user"]
    assert users == [(str(e["turn"]), e["text"]) for e in entries if e["role"] == "user"]
    [call_row] = [r for r in rows if r["role"] == "tool"]
    assert call_row["turn"] == str(entry["turn"])

    run_command(page, "gemini-live:stop")
    wait_for("the session to end", lambda: not live_session(lab))

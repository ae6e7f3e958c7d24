"""`%gemini_live` in an IPython shell, against the in-process server (echo backend).

The magics block like a cell does, so they run on a thread while the test's loop serves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from jupyter_gemini_live.client import discovery
from jupyter_gemini_live.client.magics import SESSION_MIME_TYPE, GeminiLiveMagics, Table


@pytest.fixture
def shell(
    http_server: Any,
    jp_serverapp: Any,
    jp_http_port: int,
    jp_base_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[InteractiveShell]:
    """A shell with the extension loaded, finding the test server through the environment."""
    monkeypatch.setenv(discovery.URL_ENV, f"http://localhost:{jp_http_port}{jp_base_url}")
    monkeypatch.setenv(discovery.TOKEN_ENV, jp_serverapp.identity_provider.token)
    ip = InteractiveShell.instance()
    ip.extension_manager.load_extension("jupyter_gemini_live")
    yield ip
    # The loop no longer serves here: forget the session without calling the server (its
    # shutdown closes the streams), then unload.
    magics(ip).session = None
    ip.extension_manager.unload_extension("jupyter_gemini_live")


@pytest.fixture
def displayed(shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The bundles display() publishes; they still reach stdout, as in a terminal."""
    bundles: list[dict[str, Any]] = []
    publish = shell.display_pub.publish

    def recording(data: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        bundles.append(data)
        publish(data, *args, **kwargs)

    monkeypatch.setattr(shell.display_pub, "publish", recording)
    return bundles


def cards(bundles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b[SESSION_MIME_TYPE] for b in bundles if SESSION_MIME_TYPE in b]


def magics(ip: InteractiveShell) -> GeminiLiveMagics:
    found = ip.magics_manager.registry["GeminiLiveMagics"]
    assert isinstance(found, GeminiLiveMagics)
    return found


async def line(ip: InteractiveShell, text: str) -> Any:
    return await asyncio.to_thread(ip.run_line_magic, "gemini_live", text)


async def cell(ip: InteractiveShell, first_line: str, body: str) -> Any:
    return await asyncio.to_thread(ip.run_cell_magic, "gemini_live", first_line, body)


async def test_start_say_transcript_stop(
    shell: InteractiveShell,
    api: Any,
    capsys: pytest.CaptureFixture[str],
    displayed: list[dict[str, Any]],
) -> None:
    _, status = await api("GET", "status")
    await line(shell, "start --backend echo --voice Kore")
    started = capsys.readouterr().out
    session_id = magics(shell)._current().id
    assert f"session {session_id} is live (echo, {status['default_model']}, voice Kore)" in started
    assert "Gemini Live panel" in started
    _, session = await api("GET", "sessions", session_id)
    assert session["model"] == status["default_model"]  # no --model: the server's default
    [card] = cards(displayed)
    assert card == {
        "session_id": session_id,
        "backend": "echo",
        "model": status["default_model"],
        "voice": "Kore",
    }
    assert displayed[0]["text/plain"].startswith(f"Gemini Live session {session_id} is live")

    await line(shell, "say hello from a cell")
    assert capsys.readouterr().out == "You said: hello from a cell\n"
    await cell(shell, "", "a whole\ncell of text\n")
    assert capsys.readouterr().out == "You said: a whole\ncell of text\n"

    await line(shell, "transcript")
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["turn", "who", "text"]
    assert table[1].split() == ["1", "user", "hello", "from", "a", "cell"]
    assert table[4].split() == ["2", "model", "You", "said:", "a", "whole", "cell", "of", "text"]

    await line(shell, "stop")
    assert capsys.readouterr().out == f"Session {session_id} stopped.\n"
    await line(shell, "sessions")
    assert session_id not in capsys.readouterr().out


async def test_a_question_is_not_a_help_request(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's example as a user types it: the trailing `?` goes to the model."""
    await line(shell, "start --backend echo")
    capsys.readouterr()
    result = await asyncio.to_thread(
        shell.run_cell, "%gemini_live say Should I take an umbrella in Paris?"
    )
    result.raise_error()
    out = capsys.readouterr().out
    assert out == "You said: Should I take an umbrella in Paris?\n"
    assert "not found" not in out
    # in a cell with other code, indented, and with IPython's $-expansion
    shell.user_ns["city"] = "Rome"
    result = await asyncio.to_thread(
        shell.run_cell, "if True:\n    %gemini_live say Sun in $city?\nanswered = True\n"
    )
    result.raise_error()
    assert capsys.readouterr().out == "You said: Sun in Rome?\n"
    assert shell.user_ns["answered"] is True
    # without arguments it is still IPython's help for the magic
    assert "pinfo" in shell.transform_cell("%gemini_live?")
    await line(shell, "stop")


def test_unloading_removes_the_question_transform() -> None:
    from jupyter_gemini_live.client.magics import keep_questions

    ip = InteractiveShell.instance()
    ip.extension_manager.load_extension("jupyter_gemini_live")
    ip.extension_manager.load_extension("jupyter_gemini_live")
    assert ip.input_transformers_cleanup.count(keep_questions) == 1
    ip.extension_manager.unload_extension("jupyter_gemini_live")
    assert keep_questions not in ip.input_transformers_cleanup
    assert "pinfo" in ip.transform_cell("%gemini_live say where?")


def get_weather(city: str) -> dict[str, Any]:
    """The weather in a city."""
    return {"city": city, "sky": "clear"}


async def test_tools_come_from_the_notebook(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.user_ns["get_weather"] = get_weather
    await line(shell, "start --tools get_weather")
    capsys.readouterr()
    await line(shell, 'say call get_weather {"city": "Paris"}')
    assert capsys.readouterr().out == (
        'get_weather returned {"result": {"city": "Paris", "sky": "clear"}}\n'
    )
    await line(shell, "stop")


async def test_status_and_sessions(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    await line(shell, "status")
    status = capsys.readouterr().out
    assert any(row.split()[:2] == ["echo", "yes"] for row in status.splitlines())
    assert "default backend echo" in status

    await line(shell, "sessions")
    assert capsys.readouterr().out.strip() == "No sessions."
    await line(shell, "start")
    session_id = magics(shell)._current().id
    await line(shell, "sessions")
    rows = capsys.readouterr().out.splitlines()
    assert rows[-1].split() == [session_id, "echo", "live", "no", "0"]
    await line(shell, "stop")


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("say hi", "no session; run %gemini_live start"),
        ("dance", "unknown command 'dance'"),
        ("start --tools not_there", "not_there is not a function of this notebook"),
        ("start --volume 11", "unrecognized arguments: --volume 11"),
        ("start --voice Robot", "voice: 'Robot' is not one of"),
        ("attach", "no session has a device: press Start in the Gemini Live panel"),
    ],
)
async def test_mistakes_are_short_usage_errors(
    shell: InteractiveShell, command: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        await line(shell, command)


async def test_attach_joins_the_panels_session_and_stop_leaves_it(
    shell: InteractiveShell,
    api: Any,
    open_stream: Any,
    capsys: pytest.CaptureFixture[str],
    displayed: list[dict[str, Any]],
) -> None:
    _, created = await api("POST", "sessions", body={})
    panel = await open_stream(created["id"])
    await panel.until("ready")
    await line(shell, "attach")
    assert f"Attached to session {created['id']}" in capsys.readouterr().out
    assert cards(displayed) == [
        {k: created[k] for k in ("backend", "model", "voice")} | {"session_id": created["id"]}
    ]
    await line(shell, "say typed in the notebook")
    assert capsys.readouterr().out == "You said: typed in the notebook\n"
    await line(shell, "stop")
    assert "left (still running)" in capsys.readouterr().out
    _, after = await api("GET", "sessions", created["id"])
    assert after["state"] == "live"


def test_markdown_table_escapes_pipes_and_marks_interruptions() -> None:
    table = Table.transcript(
        [
            {"turn": 1, "role": "user", "text": "a | b", "interrupted": False},
            {"turn": 1, "role": "model", "text": "cut\noff", "interrupted": True},
        ]
    )
    assert table._repr_markdown_().splitlines() == [
        "| turn | who | text |",
        "|---|---|---|",
        "| 1 | user | a \\| b |",
        "| 1 | model | cut off *(interrupted)* |",
    ]
    assert Table.transcript([])._repr_markdown_().strip() == "Nothing said yet."

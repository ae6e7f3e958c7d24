"""`--script` and `--tool-log`: the simulated model calls tools in sequence and records
every tool response (and image) it receives."""

from __future__ import annotations

import base64
import json
import ssl
from pathlib import Path
from typing import Any

import pytest
from speech import frames, silence, speech
from test_server import open_link, read_until, turn_complete
from websockets.asyncio.client import ClientConnection

from jupyter_gemini_live.simulator.__main__ import parse_args
from jupyter_gemini_live.simulator.script import Script, ScriptError
from jupyter_gemini_live.simulator.tool_log import ToolLog

SCRIPT = Script.parse(
    {
        "turns": [
            {
                "calls": [
                    {"name": "read_notebook", "args": {}},
                    {"name": "insert_cell", "args": {"source": "df.describe()"}},
                    {"name": "run_cell", "args": {"index": 1}},
                ],
                "say": "It has eight rows.",
            },
            {"calls": [], "say": "Nothing to do."},
        ]
    }
)
SETUP = {"outputAudioTranscription": {}}
PNG = b"\x89PNG\r\n\x1a\n plot"


async def say(ws: ClientConnection, text: str) -> None:
    await ws.send(json.dumps({"realtimeInput": {"text": text}}))


async def next_call(ws: ClientConnection) -> dict[str, Any]:
    messages = await read_until(ws, lambda m: "toolCall" in m)
    call: dict[str, Any] = messages[-1]["toolCall"]["functionCalls"][0]
    return call


async def answer(ws: ClientConnection, call: dict[str, Any], response: dict[str, Any]) -> None:
    reply = {"id": call["id"], "name": call["name"], "response": response}
    await ws.send(json.dumps({"toolResponse": {"functionResponses": [reply]}}))


def words(messages: list[dict[str, Any]]) -> str:
    return "".join(
        m["serverContent"]["outputTranscription"]["text"]
        for m in messages
        if "outputTranscription" in m.get("serverContent", {})
    )


async def test_a_scripted_turn_makes_its_calls_in_order_then_says_its_line(
    make_simulator: Any, client_ssl: ssl.SSLContext
) -> None:
    async with make_simulator(playback_speed=8.0, script=SCRIPT) as sim:
        ws = await open_link(sim, client_ssl, setup=SETUP)
        await say(ws, "describe my data")
        names = []
        for _ in SCRIPT.turns[0].calls:
            call = await next_call(ws)
            names.append((call["name"], call.get("args")))
            await answer(ws, call, {"ok": True})
        first = await read_until(ws, turn_complete)
        await say(ws, "and now?")
        second = await read_until(ws, turn_complete)
        await say(ws, "still there?")  # the script has run out: the usual echo
        third = await read_until(ws, turn_complete)
        await ws.close()
    assert names == [
        ("read_notebook", {}),
        ("insert_cell", {"source": "df.describe()"}),
        ("run_cell", {"index": 1}),
    ]
    assert words(first) == "Turn 1: It has eight rows."
    assert not any("toolCall" in m for m in first)
    assert words(second) == "Turn 2: Nothing to do."
    assert words(third) == "Turn 3: you said: still there?"


async def test_an_error_response_ends_the_scripted_turn(
    make_simulator: Any, client_ssl: ssl.SSLContext
) -> None:
    async with make_simulator(playback_speed=8.0, script=SCRIPT) as sim:
        ws = await open_link(sim, client_ssl, setup=SETUP)
        await say(ws, "describe my data")
        await answer(ws, await next_call(ws), {"cells": []})
        insert = await next_call(ws)
        declined = "The user declined the new cell. Do not retry unless the user asks."
        await answer(ws, insert, {"error": declined})
        rest = await read_until(ws, turn_complete)
        await ws.close()
    assert not any("toolCall" in m for m in rest)  # run_cell was never called
    assert words(rest) == f"Turn 1: stopped, insert_cell failed: {declined}"
    assert [c["name"] for c in sim.conversations[0].tool_calls] == ["read_notebook", "insert_cell"]


async def test_barge_in_cancels_a_blocking_scripted_call(
    make_simulator: Any, client_ssl: ssl.SSLContext
) -> None:
    long_run = Script.parse({"turns": [{"calls": [{"name": "run_cell", "args": {"index": 0}}]}]})
    async with make_simulator(playback_speed=8.0, script=long_run) as sim:
        ws = await open_link(sim, client_ssl, setup=SETUP)
        await say(ws, "run the slow cell")
        call = await next_call(ws)
        for frame in frames(speech(0.72) + silence(0.7)):
            await ws.send(json.dumps({"realtimeInput": {"audio": _pcm(frame)}}))
        messages = await read_until(ws, lambda m: "toolCallCancellation" in m)
        await read_until(ws, turn_complete)  # the utterance's own (echo) reply
        await answer(ws, call, {"status": "ok"})  # too late: not talked about
        await say(ws, "and?")
        after = await read_until(ws, turn_complete)
        await ws.close()
    assert messages[-1]["toolCallCancellation"]["ids"] == [call["id"]]
    assert words(after) == "Turn 3: you said: and?"
    assert sim.conversations[0].scripted is None


def _pcm(frame: bytes) -> dict[str, str]:
    return {"mimeType": "audio/pcm;rate=16000", "data": base64.b64encode(frame).decode()}


async def test_the_tool_log_records_responses_and_their_images(
    make_simulator: Any, client_ssl: ssl.SSLContext, tmp_path: Path
) -> None:
    log_file = tmp_path / "tools.jsonl"
    image = base64.b64encode(PNG).decode()
    async with make_simulator(playback_speed=8.0, tool_log=ToolLog(log_file)) as sim:
        ws = await open_link(sim, client_ssl, setup=SETUP)
        await say(ws, 'call run_cell {"index": 2}')
        call = await next_call(ws)
        inline = {
            "id": call["id"],
            "name": "run_cell",
            "response": {"status": "ok"},
            "parts": [{"inlineData": {"mimeType": "image/png", "data": image}}],
        }
        await ws.send(json.dumps({"toolResponse": {"functionResponses": [inline]}}))
        await read_until(ws, turn_complete)
        await say(ws, 'call read_cell {"index": 2}')
        call = await next_call(ws)
        await answer(ws, call, {"cell": {}, "images": "sent as video input"})
        video = {"mimeType": "image/jpeg", "data": image}
        await ws.send(json.dumps({"realtimeInput": {"video": video}}))
        await read_until(ws, turn_complete)
        await ws.close()
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert lines == [
        {
            "id": lines[0]["id"],
            "name": "run_cell",
            "response": {"status": "ok"},
            "scheduling": None,
            "images": [{"mime_type": "image/png", "size": len(PNG), "via": "parts"}],
        },
        {
            "id": lines[1]["id"],
            "name": "read_cell",
            "response": {"cell": {}, "images": "sent as video input"},
            "scheduling": None,
            "images": [{"mime_type": "image/jpeg", "size": len(PNG), "via": "video"}],
        },
    ]
    assert list(sim.tool_log.entries) == lines


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"turns": {}},
        {"turns": [{"calls": {}}]},
        {"turns": [{"say": 3}]},
        {"turns": [{"calls": [{"name": "bad name"}]}]},
        {"turns": [{"calls": [{"name": "f", "args": []}]}]},
        {"turns": [{"calls": [], "extra": 1}]},
    ],
    ids=repr,
)
def test_a_bad_script_is_refused_saying_where(body: object) -> None:
    with pytest.raises(ScriptError):
        Script.parse(body)


def test_the_cli_loads_the_script_and_refuses_a_bad_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "script.json"
    good.write_text(json.dumps({"turns": [{"calls": [{"name": "read_notebook"}], "say": "ok"}]}))
    args = parse_args(["--self-signed", str(tmp_path), "--script", str(good), "--tool-log", "x"])
    assert args.script.turns[0].calls[0].name == "read_notebook"
    assert args.tool_log == "x"
    bad = tmp_path / "bad.json"
    bad.write_text('{"turns": [{"calls": 1}]}')
    with pytest.raises(SystemExit):
        parse_args(["--self-signed", str(tmp_path), "--script", str(bad)])
    assert "turns[0]" in capsys.readouterr().err

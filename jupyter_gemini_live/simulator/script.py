"""`--script FILE`: the tool calls the simulated model makes in reply to the user's turns.

    {"turns": [{"calls": [{"name": "read_notebook", "args": {}}, ...], "say": "Done."}]}

Each user turn (an utterance, or typed text that is not `call NAME {json}`) takes the next
scripted turn: its calls one after another, each sent after the previous one's response
arrived, then a spoken reply of `say`. A response with an `error` key ends the scripted
turn (the reply says so). When the script has run out the simulator echoes as usual.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..session_options import FUNCTION_NAME

#: a script larger than this is refused (it is a test fixture, not a data set)
MAX_SCRIPT_BYTES = 1_000_000


class ScriptError(ValueError):
    """The script file is not what `--script` takes; the message says where."""


@dataclass(frozen=True)
class ScriptedCall:
    name: str
    args: Mapping[str, Any]


@dataclass(frozen=True)
class ScriptedTurn:
    calls: tuple[ScriptedCall, ...]
    say: str


@dataclass(frozen=True)
class Script:
    turns: tuple[ScriptedTurn, ...]

    @classmethod
    def load(cls, path: str | Path) -> Script:
        raw = Path(path).read_bytes()
        if len(raw) > MAX_SCRIPT_BYTES:
            raise ScriptError(f"{path}: larger than {MAX_SCRIPT_BYTES} bytes")
        try:
            value = json.loads(raw)
        except ValueError as error:
            raise ScriptError(f"{path}: not JSON: {error}") from None
        return cls.parse(value)

    @classmethod
    def parse(cls, value: object) -> Script:
        if not isinstance(value, Mapping) or not isinstance(value.get("turns"), list):
            raise ScriptError('expected {"turns": [...]}')
        return cls(tuple(_turn(turn, f"turns[{i}]") for i, turn in enumerate(value["turns"])))


def _turn(value: object, where: str) -> ScriptedTurn:
    if not isinstance(value, Mapping) or set(value) - {"calls", "say"}:
        raise ScriptError(f"{where}: expected {{calls, say}}")
    calls = value.get("calls", [])
    say = value.get("say", "")
    if not isinstance(calls, list) or not isinstance(say, str):
        raise ScriptError(f"{where}: calls is a list, say a string")
    return ScriptedTurn(tuple(_call(c, f"{where}.calls[{i}]") for i, c in enumerate(calls)), say)


def _call(value: object, where: str) -> ScriptedCall:
    if not isinstance(value, Mapping) or set(value) - {"name", "args"}:
        raise ScriptError(f"{where}: expected {{name, args}}")
    name, args = value.get("name"), value.get("args", {})
    if not isinstance(name, str) or not FUNCTION_NAME.fullmatch(name):
        raise ScriptError(f"{where}.name: expected a function name")
    if not isinstance(args, Mapping):
        raise ScriptError(f"{where}.args: expected an object")
    return ScriptedCall(name, dict(args))


@dataclass
class ScriptedRun:
    """A scripted turn under way: the calls still to make, and what to say at the end."""

    turn: ScriptedTurn
    next_call: int = 0

    def take_call(self) -> ScriptedCall | None:
        if self.next_call >= len(self.turn.calls):
            return None
        call = self.turn.calls[self.next_call]
        self.next_call += 1
        return call

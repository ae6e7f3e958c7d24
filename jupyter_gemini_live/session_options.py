"""Validation of the body of `POST gemini-live/api/sessions`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .backends.base import SessionOptions, VadOptions

MAX_INSTRUCTION_CHARS = 20_000
MAX_NAME_CHARS = 200
MAX_TOOLS = 64
MAX_TOOLS_JSON_CHARS = 100_000
FIELDS = {
    "backend",
    "model",
    "voice",
    "system_instruction",
    "language",
    "transcription",
    "activity_detection",
    "vad",
    "tools",
    "record",
}
VAD_FIELDS = {"silence_ms", "prefix_padding_ms", "start_sensitivity", "end_sensitivity"}


class OptionError(ValueError):
    """A field of the request body is wrong; the message names it."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


@dataclass(frozen=True)
class Defaults:
    backend: str
    model: str
    voice: str
    backends: frozenset[str]
    voices: frozenset[str]


def parse_session_options(body: object, defaults: Defaults) -> SessionOptions:
    if body is None:
        body = {}
    if not isinstance(body, Mapping):
        raise OptionError("body", "expected a JSON object")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise OptionError(
            unknown[0], f"unknown field; known fields are {', '.join(sorted(FIELDS))}"
        )
    backend = _choice(body, "backend", defaults.backends, defaults.backend)
    return SessionOptions(
        backend=backend,
        model=_name(body, "model", defaults.model),
        voice=_choice(body, "voice", defaults.voices, defaults.voice),
        system_instruction=_text(body, "system_instruction", MAX_INSTRUCTION_CHARS),
        language=_text(body, "language", 35),
        transcription=_flag(body, "transcription", True),
        activity_detection="manual"
        if _choice(body, "activity_detection", frozenset({"auto", "manual"}), "auto") == "manual"
        else "auto",
        vad=_vad(body.get("vad")),
        tools=_tools(body.get("tools")),
        record=_flag(body, "record", False),
    )


def _name(body: Mapping[str, Any], field: str, default: str) -> str:
    value = body.get(field)
    if value is None:
        return default
    if not isinstance(value, str) or not value.strip():
        raise OptionError(field, "expected a non-empty string")
    if len(value) > MAX_NAME_CHARS:
        raise OptionError(field, f"longer than {MAX_NAME_CHARS} characters")
    return value.strip()


def _choice(body: Mapping[str, Any], field: str, allowed: frozenset[str], default: str) -> str:
    value = _name(body, field, default)
    if value not in allowed:
        raise OptionError(field, f"{value!r} is not one of {', '.join(sorted(allowed))}")
    return value


def _text(body: Mapping[str, Any], field: str, limit: int) -> str | None:
    value = body.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise OptionError(field, "expected a string")
    if len(value) > limit:
        raise OptionError(field, f"longer than {limit} characters")
    return value


def _flag(body: Mapping[str, Any], field: str, default: bool) -> bool:
    value = body.get(field, default)
    if not isinstance(value, bool):
        raise OptionError(field, "expected true or false")
    return value


def _vad(value: object) -> VadOptions:
    if value is None:
        return VadOptions()
    if not isinstance(value, Mapping):
        raise OptionError("vad", "expected an object")
    unknown = sorted(set(value) - VAD_FIELDS)
    if unknown:
        raise OptionError(f"vad.{unknown[0]}", "unknown field")
    silence = _int(value, "silence_ms", 600, 100, 10_000)
    padding = _int(value, "prefix_padding_ms", 100, 0, 2_000)
    sensitivities = frozenset({"high", "low"})
    start = value.get("start_sensitivity")
    end = value.get("end_sensitivity")
    for field, given in (("start_sensitivity", start), ("end_sensitivity", end)):
        if given is not None and given not in sensitivities:
            raise OptionError(f"vad.{field}", "expected 'high' or 'low'")
    return VadOptions(
        silence_ms=silence,
        prefix_padding_ms=padding,
        start_sensitivity=start,
        end_sensitivity=end,
    )


def _int(body: Mapping[str, Any], field: str, default: int, low: int, high: int) -> int:
    value = body.get(field, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise OptionError(f"vad.{field}", "expected an integer")
    if not low <= value <= high:
        raise OptionError(f"vad.{field}", f"expected {low} to {high}")
    return value


def _tools(value: object) -> tuple[Mapping[str, Any], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise OptionError("tools", "expected a list of function declarations")
    if len(value) > MAX_TOOLS:
        raise OptionError("tools", f"at most {MAX_TOOLS} function declarations")
    if len(repr(value)) > MAX_TOOLS_JSON_CHARS:
        raise OptionError("tools", "declarations too large")
    names: set[str] = set()
    for index, tool in enumerate(value):
        where = f"tools[{index}]"
        if not isinstance(tool, Mapping):
            raise OptionError(where, "expected an object with name, description, parameters")
        name = tool.get("name")
        if not isinstance(name, str) or not name.isidentifier():
            raise OptionError(f"{where}.name", "expected a function name (letters, digits, _)")
        if name in names:
            raise OptionError(f"{where}.name", f"duplicate function {name!r}")
        names.add(name)
        if not isinstance(tool.get("description", ""), str):
            raise OptionError(f"{where}.description", "expected a string")
        params = tool.get("parameters")
        if params is not None and not isinstance(params, Mapping):
            raise OptionError(f"{where}.parameters", "expected a JSON schema object")
        extra = sorted(set(tool) - {"name", "description", "parameters"})
        if extra:
            raise OptionError(f"{where}.{extra[0]}", "unknown field")
    return tuple(dict(tool) for tool in value)

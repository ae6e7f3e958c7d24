"""Validation of the body of `POST gemini-live/api/sessions`."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .backends.base import SessionOptions, VadOptions

MAX_INSTRUCTION_CHARS = 20_000
MAX_NAME_CHARS = 200
MAX_TOOLS = 64
MAX_TOOLS_JSON_CHARS = 100_000
MAX_BODY_BYTES = 1_000_000
#: nesting of the request body (tools' schemas included) allowed at most
MAX_BODY_DEPTH = 32
#: what Gemini accepts as a function name
FUNCTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
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


def decode_body(raw: bytes) -> object:
    """The JSON of a request body (None when empty); any bad body is an `OptionError`
    naming `body`, so the REST API answers 400, never 500."""
    if not raw.strip():
        return None
    if len(raw) > MAX_BODY_BYTES:
        raise OptionError("body", f"larger than {MAX_BODY_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise OptionError("body", f"not UTF-8 (byte {err.start})") from None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise OptionError("body", f"nested deeper than {MAX_BODY_DEPTH} levels") from None
    except ValueError as err:  # JSONDecodeError, and integers of too many digits
        raise OptionError("body", f"not JSON: {err}") from None
    if _depth(value) > MAX_BODY_DEPTH:
        raise OptionError("body", f"nested deeper than {MAX_BODY_DEPTH} levels")
    return value


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _depth(value: object) -> int:
    """How deeply lists and objects nest in a decoded JSON value (without recursion)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: list[object] = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if depth > MAX_BODY_DEPTH:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


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
        if given is not None and (not isinstance(given, str) or given not in sensitivities):
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
        extra = sorted(set(tool) - {"name", "description", "parameters"})
        if extra:
            raise OptionError(f"{where}.{extra[0]}", "unknown field")
        name = tool.get("name")
        if not isinstance(name, str) or not FUNCTION_NAME.fullmatch(name):
            raise OptionError(
                f"{where}.name",
                "expected a function name: a letter or _, then letters, digits or _ "
                "(64 characters at most)",
            )
        if name in names:
            raise OptionError(f"{where}.name", f"duplicate function {name!r}")
        names.add(name)
        if not isinstance(tool.get("description", ""), str):
            raise OptionError(f"{where}.description", "expected a string")
        params = tool.get("parameters")
        if params is not None:
            _schema(params, f"{where}.parameters", 0)
    return tuple(dict(tool) for tool in value)


# ---- the schema of a function's parameters -----------------------------------------------
# Gemini takes an OpenAPI-style subset of JSON Schema (google.genai's `types.Schema`, whose
# fields are accepted in snake_case or camelCase). The SDK would let through what the
# service then refuses (an unknown type name) and it costs a second to import, so the
# schema is checked here, for every backend, by its structure.

SCHEMA_TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object", "null"})
_STRING = ("description", "format", "pattern", "title", "ref")
_INTEGER = ("max_items", "min_items", "max_length", "min_length", "max_properties",
            "min_properties")  # fmt: skip
_NUMBER = ("maximum", "minimum")
_ANY = ("default", "example", "additional_properties")
_SCHEMA_FIELDS = frozenset(
    (*_STRING, *_INTEGER, *_NUMBER, *_ANY, "type", "nullable", "enum", "items",
     "properties", "required", "property_ordering", "any_of", "defs")
)  # fmt: skip


def _snake(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m.group(1).lower(), key)


def _schema(value: object, where: str, depth: int) -> None:
    if not isinstance(value, Mapping):
        raise OptionError(where, "expected a JSON schema object")
    if depth > MAX_BODY_DEPTH:
        raise OptionError(where, "nested too deeply")
    for key, item in value.items():
        field = _snake(key) if isinstance(key, str) else ""
        here = f"{where}.{key}"
        if field not in _SCHEMA_FIELDS:
            raise OptionError(
                here, f"unknown schema field; known: {', '.join(sorted(_SCHEMA_FIELDS))}"
            )
        if item is None or field in _ANY:
            continue
        if field == "type":
            if not isinstance(item, str) or item.lower() not in SCHEMA_TYPES:
                raise OptionError(here, f"expected one of {', '.join(sorted(SCHEMA_TYPES))}")
        elif field in _STRING:
            _expect(isinstance(item, str), here, "a string")
        elif field in _INTEGER:
            _expect(isinstance(item, int) and not isinstance(item, bool) and item >= 0, here,
                    "a non-negative integer")  # fmt: skip
        elif field in _NUMBER:
            _expect(isinstance(item, (int, float)) and not isinstance(item, bool), here,
                    "a number")  # fmt: skip
        elif field == "nullable":
            _expect(isinstance(item, bool), here, "true or false")
        elif field in ("enum", "required", "property_ordering"):
            _expect(isinstance(item, list) and all(isinstance(v, str) for v in item), here,
                    "a list of strings")  # fmt: skip
        elif field == "items":
            _schema(item, here, depth + 1)
        elif field == "any_of":
            _expect(isinstance(item, list), here, "a list of schemas")
            for index, option in enumerate(item):
                _schema(option, f"{here}[{index}]", depth + 1)
        else:  # properties, defs: name → schema
            _expect(isinstance(item, Mapping), here, "an object of schemas")
            for name, option in item.items():
                _schema(option, f"{here}.{name}", depth + 1)


def _expect(ok: bool, where: str, what: str) -> None:
    if not ok:
        raise OptionError(where, f"expected {what}")

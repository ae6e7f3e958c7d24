"""Validation of the body of `POST gemini-live/api/sessions`."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import models
from .backends.base import MediaResolution, SessionOptions, VadOptions
from .models import ModelCapabilities

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
    "thinking_level",
    "proactive_audio",
    "affective_dialog",
    "google_search",
    "media_resolution",
    "budget_tokens",
    "budget_usd",
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
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise OptionError("body", f"nested deeper than {MAX_BODY_DEPTH} levels") from None
    except ValueError as err:  # JSONDecodeError, and integers of too many digits
        raise OptionError("body", f"not JSON: {err}") from None
    if _depth(value) > MAX_BODY_DEPTH:
        raise OptionError("body", f"nested deeper than {MAX_BODY_DEPTH} levels")
    return value


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is out of range (finite numbers only)")
    return value


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
    model = _name(body, "model", defaults.model)
    capable = models.capabilities(model)
    return SessionOptions(
        backend=backend,
        model=model,
        voice=_choice(body, "voice", defaults.voices, defaults.voice),
        system_instruction=_text(body, "system_instruction", MAX_INSTRUCTION_CHARS),
        language=_text(body, "language", 35),
        transcription=_flag(body, "transcription", True),
        activity_detection="manual"
        if _choice(body, "activity_detection", frozenset({"auto", "manual"}), "auto") == "manual"
        else "auto",
        vad=_vad(body.get("vad")),
        tools=_tools(body.get("tools"), capable),
        record=_flag(body, "record", False),
        thinking_level=_thinking_level(body, capable),
        proactive_audio=_proactive_audio(body, capable),
        affective_dialog=_affective_dialog(body, capable),
        google_search=_google_search(body, capable),
        media_resolution=_media_resolution(body, capable),
        budget_tokens=_budget_tokens(body),
        budget_usd=_budget_usd(body),
    )


def _budget_tokens(body: Mapping[str, Any]) -> int | None:
    """A session's own token budget (the server's c.GeminiLive.budget_tokens caps it)."""
    value = body.get("budget_tokens")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise OptionError("budget_tokens", "expected a whole number of tokens above 0")
    return value


def _budget_usd(body: Mapping[str, Any]) -> float | None:
    """A session's own money budget in USD (c.GeminiLive.budget_usd caps it)."""
    value = body.get("budget_usd")
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise OptionError("budget_usd", "expected an amount in USD above 0")
    return float(value)


# ---- what depends on the model (models.py's table) ----------------------------------------


def _who(names: list[str]) -> str:
    return ", ".join(names) if names else "none of the known models"


def _thinking_level(body: Mapping[str, Any], capable: ModelCapabilities) -> str | None:
    value = body.get("thinking_level")
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in models.THINKING_LEVELS:
        raise OptionError("thinking_level", f"expected one of {', '.join(models.THINKING_LEVELS)}")
    level = value.lower()
    if not capable.thinking_levels:
        with_levels = [
            f"{m.name} ({', '.join(m.thinking_levels)})" for m in models.MODELS if m.thinking_levels
        ]
        raise OptionError(
            "thinking_level",
            f"{capable.name} takes no thinking level; models that do: {_who(with_levels)}",
        )
    if level not in capable.thinking_levels:
        raise OptionError(
            "thinking_level",
            f"{capable.name} takes {', '.join(capable.thinking_levels)}, not {level!r}",
        )
    return level


def _proactive_audio(body: Mapping[str, Any], capable: ModelCapabilities) -> bool | None:
    if body.get("proactive_audio") is None:
        return None
    value = _flag(body, "proactive_audio", False)
    optional = models.supporting("proactive_audio", "optional")
    if capable.proactive_audio == "always_on" and not value:
        raise OptionError(
            "proactive_audio",
            f"{capable.name} is always proactive and cannot turn it off; models where "
            f"it is optional: {_who(optional)}",
        )
    if capable.proactive_audio == "unsupported" and value:
        always = models.supporting("proactive_audio", "always_on")
        raise OptionError(
            "proactive_audio",
            f"{capable.name} has no proactive audio; models that have it: "
            f"{_who(optional + always)}",
        )
    return value


def _affective_dialog(body: Mapping[str, Any], capable: ModelCapabilities) -> bool | None:
    if body.get("affective_dialog") is None:
        return None
    value = _flag(body, "affective_dialog", False)
    supported = _who(models.supporting("affective_dialog", "supported"))
    if capable.affective_dialog == "service_decides":
        raise OptionError(
            "affective_dialog",
            f"the service decides affective dialog for {capable.name} (it cannot be "
            f"set); models where it can: {supported}",
        )
    if capable.affective_dialog == "unsupported" and value:
        raise OptionError(
            "affective_dialog",
            f"{capable.name} has no affective dialog; models that have it: {supported}",
        )
    return value


def _google_search(body: Mapping[str, Any], capable: ModelCapabilities) -> bool:
    value = _flag(body, "google_search", False)
    if value and not capable.google_search:
        raise OptionError(
            "google_search",
            f"{capable.name} has no Google Search grounding; models that have it: "
            f"{_who(models.supporting('google_search'))}",
        )
    return value


def _media_resolution(
    body: Mapping[str, Any], capable: ModelCapabilities
) -> MediaResolution | None:
    value = body.get("media_resolution")
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in models.MEDIA_RESOLUTIONS:
        raise OptionError(
            "media_resolution", f"expected one of {', '.join(models.MEDIA_RESOLUTIONS)}"
        )
    if not capable.image_input:
        raise OptionError(
            "media_resolution",
            f"{capable.name} takes no images; models that do: "
            f"{_who(models.supporting('image_input'))}",
        )
    resolution: MediaResolution = value.lower()  # type: ignore[assignment]
    return resolution


def _behavior(value: object, where: str, capable: ModelCapabilities) -> str:
    if not isinstance(value, str) or value.upper() not in models.BEHAVIORS:
        raise OptionError(where, f"expected one of {', '.join(models.BEHAVIORS)}")
    behavior = value.upper()
    if behavior in capable.behaviors:
        return behavior
    if behavior == "BLOCKING" and not capable.async_function_calling:
        return behavior  # what such a model does anyway: nothing to send
    able = _who(models.supporting("behaviors", behavior))
    if capable.async_function_calling:
        problem = f"{capable.name} calls functions {', '.join(capable.behaviors)} only"
    else:
        problem = f"{capable.name} has no async function calling"
    raise OptionError(where, f"{problem}; models that take {behavior}: {able}")


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


def _tools(value: object, capable: ModelCapabilities) -> tuple[Mapping[str, Any], ...]:
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
            raise OptionError(
                where, "expected an object with name, description, parameters, behavior"
            )
        extra = sorted(set(tool) - {"name", "description", "parameters", "behavior"})
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
    declarations = []
    for index, tool in enumerate(value):
        declaration = dict(tool)
        if tool.get("behavior") is not None:
            declaration["behavior"] = _behavior(
                tool["behavior"], f"tools[{index}].behavior", capable
            )
        else:
            declaration.pop("behavior", None)
        declarations.append(declaration)
    return tuple(declarations)


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

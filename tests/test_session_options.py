"""The body of POST sessions: every bad one is a 400 that names the field, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from jupyter_gemini_live.session_options import (
    Defaults,
    OptionError,
    decode_body,
    parse_session_options,
)

DEFAULTS = Defaults(
    backend="echo",
    model="m",
    voice="Puck",
    backends=frozenset({"echo", "gemini"}),
    voices=frozenset({"Puck"}),
)

WEATHER: dict[str, Any] = {
    "name": "get_weather",
    "description": "The weather now in a city.",
    "parameters": {
        "type": "OBJECT",
        "properties": {
            "city": {"type": "string", "description": "a city"},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
            "units": {"type": "string", "enum": ["C", "F"], "nullable": True},
            "stops": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
            "when": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "required": ["city"],
        "propertyOrdering": ["city", "days"],
        "additionalProperties": False,
    },
}


def problem(body: object) -> str:
    with pytest.raises(OptionError) as caught:
        parse_session_options(body, DEFAULTS)
    return caught.value.field


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"record": tru', "not JSON"),
        (b'{"vad": {"silence_ms": NaN}}', "NaN is not a JSON number"),
        (b'{"vad": {"silence_ms": 1e999}}', "out of range"),
        (b'{"vad": {"silence_ms": -1e400}}', "out of range"),
        (b"[" * 5000 + b"]" * 5000, "nested deeper"),
        (b"[" * 40 + b"]" * 40, "nested deeper"),
        (b'{"x": ' + b"9" * 5000 + b"}", "not JSON"),
        (b" " * 2_000_000, None),
        (b"{" + b" " * 2_000_000 + b"}", "larger than"),
    ],
)
def test_a_bad_body_is_an_option_error_about_the_body(raw: bytes, expected: str | None) -> None:
    if expected is None:
        assert decode_body(raw) is None
        return
    with pytest.raises(OptionError, match=expected) as caught:
        decode_body(raw)
    assert caught.value.field == "body"


def test_a_good_body_decodes() -> None:
    assert decode_body(b"") is None
    assert decode_body('{"system_instruction": "été"}'.encode()) == {"system_instruction": "été"}


@pytest.mark.parametrize("given", [[], {}, 1, "medium", ["high"]])
@pytest.mark.parametrize("field", ["start_sensitivity", "end_sensitivity"])
def test_a_sensitivity_of_any_type_is_a_400(field: str, given: object) -> None:
    """Regression: `[]` (unhashable) in a frozenset lookup raised TypeError → 500."""
    assert problem({"vad": {field: given}}) == f"vad.{field}"


def test_good_tools_pass_and_the_sdk_agrees() -> None:
    snake = {
        "name": "_x1",
        "parameters": {
            "type": "object",
            "properties": {"p": {"ref": "#/defs/point"}, "n": {"max_length": 3}},
            "defs": {"point": {"type": "array", "min_items": 2, "items": {"type": "number"}}},
            "property_ordering": ["p"],
        },
    }
    options = parse_session_options({"tools": [WEATHER, snake]}, DEFAULTS)
    assert options.tools[0]["name"] == "get_weather"
    types = pytest.importorskip("google.genai.types")
    for tool in options.tools:
        types.FunctionDeclaration.model_validate(dict(tool))


BAD_TOOLS: list[tuple[dict[str, Any], str]] = [
    ({"name": "a" * 65}, "tools[2].name"),
    ({"name": "naïve"}, "tools[2].name"),
    ({"name": "get-weather"}, "tools[2].name"),
    ({"name": "f", "description": 3}, "tools[2].description"),
    ({"name": "f", "parameters": []}, "tools[2].parameters"),
    ({"name": "f", "parameters": {"type": "dict"}}, "tools[2].parameters.type"),
    ({"name": "f", "parameters": {"type": ["string", "null"]}}, "tools[2].parameters.type"),
    ({"name": "f", "parameters": {"type": "TYPE_UNSPECIFIED"}}, "tools[2].parameters.type"),
    ({"name": "f", "parameters": {"$ref": "#/x"}}, "tools[2].parameters.$ref"),
    (
        {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "str"}}}},
        "tools[2].parameters.properties.a.type",
    ),
    (
        {"name": "f", "parameters": {"properties": {"a": {"items": {"type": 1}}}}},
        "tools[2].parameters.properties.a.items.type",
    ),
    ({"name": "f", "parameters": {"enum": [1, 2]}}, "tools[2].parameters.enum"),
    ({"name": "f", "parameters": {"required": "a"}}, "tools[2].parameters.required"),
    ({"name": "f", "parameters": {"maxItems": "3"}}, "tools[2].parameters.maxItems"),
    ({"name": "f", "parameters": {"minimum": True}}, "tools[2].parameters.minimum"),
    ({"name": "f", "parameters": {"anyOf": [{"type": "x"}]}}, "tools[2].parameters.anyOf[0].type"),
    ({"name": "f", "parameters": {"properties": []}}, "tools[2].parameters.properties"),
    ({"name": "f", "parameters": {"nullable": "yes"}}, "tools[2].parameters.nullable"),
    ({"name": "f", "behavior": "NON_BLOCKING"}, "tools[2].behavior"),  # model "m": unknown
    ({"name": "f", "behavior": "SOMETIMES"}, "tools[2].behavior"),
]


@pytest.mark.parametrize(("tool", "field"), BAD_TOOLS)
def test_a_bad_tool_is_refused_at_parse_time_naming_the_field(
    tool: dict[str, Any], field: str
) -> None:
    """Regression: bad schemas were 201 on echo and 502 on gemini (found at connect)."""
    assert problem({"tools": [WEATHER, {"name": "ok"}, tool]}) == field


async def test_the_rest_api_answers_400_for_bad_options(api: Any) -> None:
    code, body = await api("POST", "sessions", body={"vad": {"end_sensitivity": []}})
    assert code == 400, body
    assert "vad.end_sensitivity" in body["message"]
    bad = {"tools": [{"name": "f", "parameters": {"type": "dict"}}]}
    for backend in ("echo", "gemini"):
        code, body = await api("POST", "sessions", body={**bad, "backend": backend})
        assert code == 400, body
        assert "tools[0].parameters.type" in body["message"]


# ---- options that depend on the model (models.py) ----------------------------------------


def parse(**body: Any) -> Any:
    return parse_session_options(body, DEFAULTS)


def refused(**body: Any) -> OptionError:
    with pytest.raises(OptionError) as caught:
        parse_session_options(body, DEFAULTS)
    return caught.value


def test_model_options_default_to_not_sent():
    options = parse(model="gemini-3.8-live")
    assert options.thinking_level is None
    assert options.proactive_audio is None
    assert options.affective_dialog is None
    assert options.google_search is False
    assert options.media_resolution is None


def test_model_options_a_model_supports_are_taken():
    thinking = parse(model="gemini-3.8-live-extended-thinking", thinking_level="HIGH")
    assert thinking.thinking_level == "high"
    native = parse(
        model="gemini-2.5-flash-native-audio-preview-12-2025",
        proactive_audio=False,
        affective_dialog=True,
        google_search=True,
        media_resolution="Low",
        tools=[{"name": "f", "behavior": "non_blocking"}],
    )
    assert (native.proactive_audio, native.affective_dialog) == (False, True)
    assert native.google_search
    assert native.media_resolution == "low"
    assert native.tools == ({"name": "f", "behavior": "NON_BLOCKING"},)
    always = parse(model="gemini-3.8-live", proactive_audio=True)
    assert always.proactive_audio is True  # always on anyway: accepted, never sent
    legacy = parse(
        model="gemini-3.1-flash-live-preview", tools=[{"name": "f", "behavior": "BLOCKING"}]
    )
    assert legacy.tools == ({"name": "f", "behavior": "BLOCKING"},)


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        (
            {"model": "gemini-3.8-live", "thinking_level": "low"},
            "thinking_level",
            "gemini-3.8-live-extended-thinking (low, medium, high)",
        ),
        (
            {"model": "gemini-3.8-live-extended-thinking", "thinking_level": "minimal"},
            "thinking_level",
            "takes low, medium, high",
        ),
        (
            {"model": "gemini-3.8-live", "thinking_level": "extreme"},
            "thinking_level",
            "expected one of",
        ),
        (
            {"model": "gemini-3.8-live", "proactive_audio": False},
            "proactive_audio",
            "always proactive",
        ),
        (
            {"model": "gemini-3.1-flash-live-preview", "proactive_audio": True},
            "proactive_audio",
            "gemini-2.5-flash-native-audio-preview-12-2025",
        ),
        (
            {"model": "gemini-3.8-live", "proactive_audio": "yes"},
            "proactive_audio",
            "true or false",
        ),
        (
            {"model": "gemini-3.8-live", "affective_dialog": True},
            "affective_dialog",
            "the service decides",
        ),
        (
            {"model": "unknown-model", "affective_dialog": True},
            "affective_dialog",
            "gemini-live-2.5-flash-native-audio",
        ),
        (
            {"model": "gemini-3.8-live", "media_resolution": "ultra"},
            "media_resolution",
            "low, medium, high",
        ),
        ({"model": "gemini-3.8-live", "google_search": "on"}, "google_search", "true or false"),
        (
            {
                "model": "gemini-3.8-live-extended-thinking",
                "tools": [{"name": "f", "behavior": "BLOCKING"}],
            },
            "tools[0].behavior",
            "NON_BLOCKING only",
        ),
        (
            {
                "model": "gemini-3.1-flash-live-preview",
                "tools": [{"name": "f", "behavior": "NON_BLOCKING"}],
            },
            "tools[0].behavior",
            "gemini-3.8-live",
        ),
        (
            {"model": "unknown-model", "tools": [{"name": "f", "behavior": "NON_BLOCKING"}]},
            "tools[0].behavior",
            "no async function calling",
        ),
    ],
)
def test_model_options_a_model_lacks_are_a_400_naming_the_field_and_who_has_them(body, field, says):
    error = refused(**body)
    assert error.field == field
    assert says in str(error)

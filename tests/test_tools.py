"""Python functions as tools: the declarations the model sees, and calls coming back."""

from __future__ import annotations

import enum
import threading
from typing import Annotated, Any, Literal, Optional

import pytest
from google.genai import types

from jupyter_gemini_live.client import ToolResult, tool
from jupyter_gemini_live.client.tools import Toolbox, ToolError, coerce_args, declare, jsonable


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


def forecast(
    city: str,
    days: int,
    hours: list[int],
    unit: Unit = Unit.CELSIUS,
    detail: Literal["short", "long"] = "short",
    threshold: Optional[float] = None,  # noqa: UP045 -- the spelling users write
    extras: dict[str, Any] | None = None,
    metric: bool = True,
) -> str:
    """Forecast the weather.

    A longer explanation the model does not need.

    Args:
        city: The city, e.g. "Paris".
        days (int): How many days ahead.
    """
    return f"{city} {days} {hours} {unit} {detail} {threshold} {extras} {metric}"


def test_declaration_from_an_annotated_function() -> None:
    declaration = declare(forecast)
    assert declaration["name"] == "forecast"
    assert declaration["description"] == "Forecast the weather."
    parameters = declaration["parameters"]
    assert parameters["required"] == ["city", "days", "hours"]
    props = parameters["properties"]
    assert props["city"] == {"type": "string", "description": 'The city, e.g. "Paris".'}
    assert props["days"] == {"type": "integer", "description": "How many days ahead."}
    assert props["hours"] == {"type": "array", "items": {"type": "integer"}}
    assert props["unit"] == {"type": "string", "enum": ["celsius", "fahrenheit"]}
    assert props["detail"] == {"type": "string", "enum": ["short", "long"]}
    assert props["threshold"] == {"type": "number", "nullable": True}
    assert props["extras"] == {"type": "object", "nullable": True}
    assert props["metric"] == {"type": "boolean"}


def test_the_gemini_sdk_accepts_the_declaration() -> None:
    """What the server hands to google-genai must validate there."""
    checked = types.FunctionDeclaration.model_validate(declare(forecast))
    assert checked.parameters is not None
    assert checked.parameters.required == ["city", "days", "hours"]


def test_annotated_text_describes_a_parameter_and_no_arguments_no_parameters() -> None:
    def lookup(term: Annotated[str, "What to look up"]) -> str:
        return term

    def now() -> str:
        """The time."""
        return "noon"

    assert declare(lookup)["parameters"]["properties"]["term"] == {
        "type": "string",
        "description": "What to look up",
    }
    assert declare(lookup)["description"] == "lookup"  # no docstring: the name
    assert "parameters" not in declare(now)


def test_int_choices_are_told_in_words() -> None:
    def pick(level: Literal[1, 2, 3]) -> int:
        return level

    assert declare(pick)["parameters"]["properties"]["level"] == {
        "type": "integer",
        "description": "one of 1, 2, 3",
    }
    assert coerce_args(pick, {"level": "2"}) == {"level": 2}


def test_a_lambda_cannot_be_a_tool() -> None:
    with pytest.raises(ToolError, match="a tool needs a function name"):
        declare(lambda x: x)


def test_unsupported_annotations_are_refused_with_the_parameter_named() -> None:
    def odd(where: int | str) -> None:
        """Odd."""

    def weird(thing: bytes) -> None:
        """Weird."""

    with pytest.raises(ToolError, match=r"odd\(where\): unions other than Optional"):
        declare(odd)
    with pytest.raises(ToolError, match=r"weird\(thing\): cannot describe"):
        declare(weird)


def test_arguments_are_coerced_to_the_annotations() -> None:
    args = coerce_args(
        forecast,
        {
            "city": "Oslo",
            "days": "3",
            "hours": [6, 12.0, "18"],
            "unit": "fahrenheit",
            "threshold": 2,
            "metric": "false",
        },
    )
    assert args == {
        "city": "Oslo",
        "days": 3,
        "hours": [6, 12, 18],
        "unit": Unit.FAHRENHEIT,
        "threshold": 2.0,
        "metric": False,
    }
    assert (
        coerce_args(forecast, {"city": "x", "days": 1, "hours": [], "threshold": None})["threshold"]
        is None
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"days": 1, "hours": []}, "forecast: missing argument 'city'"),
        ({"city": "x", "days": 1, "hours": [], "wind": 3}, "unexpected argument 'wind'"),
        ({"city": "x", "days": "many", "hours": []}, 'days: expected an integer, got "many"'),
        ({"city": "x", "days": True, "hours": []}, "days: expected an integer, got true"),
        ({"city": "x", "days": 1, "hours": [1, "x"]}, r"hours\[1\]: expected an integer"),
        ({"city": "x", "days": 1, "hours": 5}, "hours: expected a list, got 5"),
        ({"city": "x", "days": 1, "hours": [], "detail": "huge"}, 'expected one of "short"'),
        ({"city": "x", "days": 1, "hours": [], "unit": "kelvin"}, 'one of "celsius"'),
        ({"city": "x", "days": 1, "hours": [], "metric": "maybe"}, "expected true or false"),
        ({"city": ["x"], "days": 1, "hours": []}, "city: expected a string"),
    ],
)
def test_bad_arguments_are_named(args: dict[str, Any], message: str) -> None:
    with pytest.raises(ToolError, match=message):
        coerce_args(forecast, args)


class Opaque:
    pass


def test_the_toolbox_answers_results_and_errors() -> None:
    def add(a: int, b: int = 1) -> int:
        """Add."""
        return a + b

    def boom() -> None:
        """Explode."""
        raise KeyError("fuse")

    def thing() -> object:
        """An object JSON cannot hold."""
        return {"when": {1, 2}, "what": Opaque(), "unit": Unit.CELSIUS}

    box = Toolbox([add, boom, thing])
    assert [d["name"] for d in box.declarations] == ["add", "boom", "thing"]
    assert box.call("add", {"a": "2"}) == {"result": 3}
    assert box.call("boom", {}) == {"error": "boom raised KeyError: 'fuse'"}
    assert box.call("add", {}) == {"error": "add: missing argument 'a'"}
    assert box.call("nope", {}) == {"error": "no tool named 'nope' (known: add, boom, thing)"}
    result = box.call("thing", {})["result"]
    assert result["when"] == [1, 2]
    assert result["unit"] == "celsius"
    assert isinstance(result["what"], str)


def test_two_tools_with_one_name_are_refused() -> None:
    def f() -> None:
        """One."""

    g = f
    with pytest.raises(ToolError, match="same name"):
        Toolbox([f, g])


def test_jsonable_keeps_json_and_strings_the_rest() -> None:
    assert jsonable({"a": [1, 2.5, None, True]}) == {"a": [1, 2.5, None, True]}
    circular: list[Any] = []
    circular.append(circular)
    assert jsonable(circular) == "[[...]]"


def test_tool_sets_behavior_and_scheduling_and_cancelled_is_not_declared() -> None:
    def wait(seconds: int, *, cancelled: threading.Event) -> Any:
        """Wait."""
        return ToolResult(cancelled.is_set(), scheduling="SILENT") if seconds else seconds

    box = Toolbox([tool(wait, behavior="NON_BLOCKING", scheduling="WHEN_IDLE")])
    (declaration,) = box.declarations
    assert declaration["behavior"] == "NON_BLOCKING"
    assert list(declaration["parameters"]["properties"]) == ["seconds"]
    event = threading.Event()
    event.set()
    answer = box.answer("wait", {"seconds": "1"}, event)
    assert (answer.response, answer.scheduling) == ({"result": True}, "SILENT")
    answer = box.answer("wait", {"seconds": 0})
    assert (answer.response, answer.scheduling) == ({"result": 0}, "WHEN_IDLE")
    with pytest.raises(ToolError):
        tool(wait, scheduling="LATER")  # type: ignore[arg-type]

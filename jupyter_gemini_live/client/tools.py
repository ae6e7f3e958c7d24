"""Python functions as Gemini tools: function declarations from signatures, and calls back.

`declare(f)` reads the name, the docstring (first paragraph: the description; a Google-style
`Args:` section or `Annotated[T, "text"]`: the parameter descriptions) and the type
annotations (a JSON schema in the OpenAPI subset Gemini takes). `Toolbox.call` checks and
coerces the model's arguments against the same annotations before calling the function,
because a model sends `"3"` where `3` was meant often enough.
"""

from __future__ import annotations

import enum
import inspect
import json
import re
import threading
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, overload

Tool = Callable[..., Any]
Schema = dict[str, Any]
Behavior = Literal["BLOCKING", "NON_BLOCKING"]
Scheduling = Literal["INTERRUPT", "WHEN_IDLE", "SILENT"]
BEHAVIORS: tuple[Behavior, ...] = ("BLOCKING", "NON_BLOCKING")
SCHEDULINGS: tuple[Scheduling, ...] = ("INTERRUPT", "WHEN_IDLE", "SILENT")
#: the keyword a tool may take to learn that the model cancelled its call
CANCELLED = "cancelled"

_NONE = type(None)
_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters)\s*:\s*$")
_ARG_LINE = re.compile(r"^\s*\*{0,2}(\w+)\s*(\([^)]*\))?\s*:\s*(.*)$")


class ToolError(ValueError):
    """A tool cannot be declared, or a call's arguments do not fit its signature."""


# ---- async tools: behavior, scheduling, cancellation ----------------------------------


@dataclass(frozen=True)
class ToolResult:
    """What a tool returns to choose, for this call, how the model takes `value`:
    `scheduling` INTERRUPT, WHEN_IDLE or SILENT (None: the tool's own, or the model's)."""

    value: Any
    scheduling: Scheduling | None = None

    def __post_init__(self) -> None:
        _check(self.scheduling, SCHEDULINGS, "scheduling")


@dataclass(frozen=True)
class LiveTool:
    """A Python function with how the model calls it (`behavior`: BLOCKING or
    NON_BLOCKING, where the model supports async function calling) and how the model
    takes its answers (`scheduling`, where the model supports it). Made by `tool()`;
    calling it calls the function."""

    func: Tool
    behavior: Behavior | None = None
    scheduling: Scheduling | None = None

    def __post_init__(self) -> None:
        _check(self.behavior, BEHAVIORS, "behavior")
        _check(self.scheduling, SCHEDULINGS, "scheduling")

    @property
    def __name__(self) -> str:
        return str(getattr(self.func, "__name__", ""))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)


@overload
def tool(
    func: Tool, *, behavior: Behavior | None = None, scheduling: Scheduling | None = None
) -> LiveTool: ...


@overload
def tool(
    func: None = None, *, behavior: Behavior | None = None, scheduling: Scheduling | None = None
) -> Callable[[Tool], LiveTool]: ...


def tool(
    func: Tool | None = None,
    *,
    behavior: Behavior | None = None,
    scheduling: Scheduling | None = None,
) -> LiveTool | Callable[[Tool], LiveTool]:
    """`func` as a tool with a `behavior` and a default `scheduling` for its answers:
    `tool(f, behavior="NON_BLOCKING")`, or as a decorator `@tool(scheduling="WHEN_IDLE")`.
    """

    def wrap(target: Tool) -> LiveTool:
        base = target.func if isinstance(target, LiveTool) else target
        return LiveTool(base, behavior, scheduling)

    return wrap if func is None else wrap(func)


def _check(value: str | None, allowed: tuple[str, ...], name: str) -> None:
    if value is not None and value not in allowed:
        raise ToolError(f"{name} {value!r}: expected one of {', '.join(allowed)}")


def _function(item: Tool) -> Tool:
    return item.func if isinstance(item, LiveTool) else item


# ---- declarations -------------------------------------------------------------------


def declare(func: Tool) -> Schema:
    """The function declaration of `func`: `{"name", "description", "parameters"}`
    (and `behavior` for a `tool()` that has one)."""
    if isinstance(func, LiveTool):
        declared = declare(func.func)
        if func.behavior is not None:
            declared["behavior"] = func.behavior
        return declared
    name = getattr(func, "__name__", "")
    if not name.isidentifier():
        raise ToolError(f"{func!r}: a tool needs a function name (a lambda has none)")
    hints = _hints(func)
    doc = inspect.getdoc(func) or ""
    arg_docs = _arg_docs(doc)
    properties: dict[str, Schema] = {}
    required: list[str] = []
    for param in _parameters(func):
        where = f"{name}({param.name})"
        schema = _schema(hints.get(param.name, Any), where)
        text = _annotated_text(hints.get(param.name)) or arg_docs.get(param.name)
        if text:
            schema["description"] = text
        properties[param.name] = schema
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
    declaration: Schema = {"name": name, "description": _summary(doc) or name}
    if properties:
        declaration["parameters"] = {
            "type": "object",
            "properties": properties,
            "required": required,
        }
    return declaration


def _hints(func: Tool) -> dict[str, Any]:
    try:
        return typing.get_type_hints(func, include_extras=True)
    except Exception as err:  # a forward reference that does not resolve
        raise ToolError(f"{func.__name__}: cannot read its type annotations: {err}") from None


def _parameters(func: Tool) -> list[inspect.Parameter]:
    """The parameters the model fills: not *args/**kwargs, not positional-only, not the
    keyword-only `cancelled` (the client's, see `takes_cancelled`)."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [
        p
        for p in inspect.signature(func).parameters.values()
        if p.kind in kinds and not _is_cancelled(p)
    ]


def _is_cancelled(param: inspect.Parameter) -> bool:
    return param.name == CANCELLED and param.kind == inspect.Parameter.KEYWORD_ONLY


def takes_cancelled(func: Tool) -> bool:
    """`func` has a keyword-only `cancelled` parameter: it gets a `threading.Event`, set
    when the model cancels the call."""
    params = inspect.signature(_function(func)).parameters.values()
    return any(_is_cancelled(p) for p in params)


def _summary(doc: str) -> str:
    return " ".join(doc.split("\n\n", 1)[0].split())


def _arg_docs(doc: str) -> dict[str, str]:
    """`name: text` lines of a Google-style `Args:` section."""
    found: dict[str, str] = {}
    inside = False
    for line in doc.splitlines():
        if _ARGS_HEADER.match(line):
            inside = True
        elif inside and line.strip() and not line.startswith((" ", "\t")):
            inside = False  # the next section
        elif inside and (match := _ARG_LINE.match(line)):
            found[match.group(1)] = match.group(3).strip()
    return found


def _annotated_text(hint: Any) -> str | None:
    if typing.get_origin(hint) is typing.Annotated:
        texts = [m for m in hint.__metadata__ if isinstance(m, str)]
        return " ".join(texts) or None
    return None


def _schema(hint: Any, where: str) -> Schema:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        return _schema(args[0], where)
    if _is_union(origin):
        members = [a for a in args if a is not _NONE]
        if len(members) != 1:
            raise ToolError(f"{where}: unions other than Optional[T] are not supported")
        return {**_schema(members[0], where), "nullable": True}
    if origin is typing.Literal:
        return _literal_schema(args, where)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _literal_schema(tuple(member.value for member in hint), where)
    if origin in (list, tuple, set, frozenset) or hint in (list, tuple, set, frozenset):
        item = args[0] if args else Any  # tuple[int, ...] too
        schema: Schema = {"type": "array"}
        if item is not Any:
            schema["items"] = _schema(item, where)
        return schema
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        return {"type": "object"}
    simple = _SIMPLE.get(hint)
    if simple is not None:
        return {"type": simple}
    if hint is Any:
        return {}
    raise ToolError(
        f"{where}: cannot describe {hint!r} to the model; use str, int, float, "
        "bool, list[...], dict, Optional[...], Literal[...] or an Enum"
    )


_SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _literal_schema(values: tuple[Any, ...], where: str) -> Schema:
    kinds = {type(v) for v in values}
    if len(kinds) != 1 or next(iter(kinds)) not in _SIMPLE:
        raise ToolError(f"{where}: choices must all be str, or all int, float or bool")
    kind = next(iter(kinds))
    if kind is str:
        return {"type": "string", "enum": list(values)}
    # Gemini takes enums of strings only; other choices are told in words.
    choices = ", ".join(json.dumps(v) for v in values)
    return {"type": _SIMPLE[kind], "description": f"one of {choices}"}


def _is_union(origin: Any) -> bool:
    return origin is typing.Union or origin is types.UnionType


# ---- calls --------------------------------------------------------------------------


def coerce_args(func: Tool, args: Mapping[str, Any]) -> dict[str, Any]:
    """The model's `args` checked and converted to what `func` is annotated with."""
    name = getattr(func, "__name__", "tool")
    hints = _hints(func)
    params = {p.name: p for p in _parameters(func)}
    unknown = sorted(set(args) - set(params))
    if unknown:
        raise ToolError(f"{name}: unexpected argument {unknown[0]!r}")
    missing = [n for n, p in params.items() if p.default is p.empty and n not in args]
    if missing:
        raise ToolError(f"{name}: missing argument {missing[0]!r}")
    return {
        key: coerce(value, hints.get(key, Any), f"{name}: {key}") for key, value in args.items()
    }


def coerce(value: Any, hint: Any, where: str) -> Any:
    """`value` (decoded JSON) as `hint`; ToolError names `where` when it does not fit."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        return coerce(value, args[0], where)
    if hint is Any:
        return value
    if _is_union(origin):
        if value is None and _NONE in args:
            return None
        members = [a for a in args if a is not _NONE]
        return coerce(value, members[0], where)
    if origin is typing.Literal:
        return _choose(value, list(args), where)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        member = _choose(value, [m.value for m in hint], where)
        return hint(member)
    if origin in (list, tuple, set, frozenset) or hint in (list, tuple, set, frozenset):
        return _sequence(value, origin or hint, args, where)
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        if not isinstance(value, dict):
            raise ToolError(f"{where}: expected an object, got {_shown(value)}")
        return value
    converter = _CONVERTERS.get(hint)
    if converter is None:
        return value  # a type the declaration refused cannot get here
    return converter(value, where)


def _sequence(value: Any, kind: Any, args: tuple[Any, ...], where: str) -> Any:
    if not isinstance(value, list):
        raise ToolError(f"{where}: expected a list, got {_shown(value)}")
    item = args[0] if args else Any
    items = [coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    return kind(items) if kind in (tuple, set, frozenset) else items


def _choose(value: Any, choices: list[Any], where: str) -> Any:
    for choice in choices:
        if (value == choice and type(value) is type(choice)) or str(value) == str(choice):
            return choice
    shown = ", ".join(json.dumps(c) for c in choices)
    raise ToolError(f"{where}: expected one of {shown}, got {_shown(value)}")


def _to_str(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ToolError(f"{where}: expected a string, got {_shown(value)}")


def _to_int(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise ToolError(f"{where}: expected an integer, got {_shown(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ToolError(f"{where}: expected an integer, got {_shown(value)}")


def _to_float(value: Any, where: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise ToolError(f"{where}: expected a number, got {_shown(value)}")


def _to_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ToolError(f"{where}: expected true or false, got {_shown(value)}")


_CONVERTERS: dict[Any, Callable[[Any, str], Any]] = {
    str: _to_str,
    int: _to_int,
    float: _to_float,
    bool: _to_bool,
}


def _shown(value: Any) -> str:
    text = json.dumps(value, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."


def jsonable(value: Any) -> Any:
    """`value` as JSON can carry it: what JSON cannot hold becomes its `str`."""
    try:
        return json.loads(json.dumps(value, default=_fallback))
    except ValueError:  # circular references, NaN-free encoders and the like
        return str(value)


def _fallback(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


@dataclass(frozen=True)
class Answer:
    """A tool's answer: the function response and how the model should take it."""

    response: dict[str, Any]
    scheduling: Scheduling | None = None


class Toolbox:
    """Python functions (or `tool()`s) the model may call, by name."""

    def __init__(self, functions: Sequence[Tool] = ()) -> None:
        tools = [f if isinstance(f, LiveTool) else LiveTool(f) for f in functions]
        self.declarations = [declare(item) for item in tools]
        self.tools = {d["name"]: t for d, t in zip(self.declarations, tools, strict=True)}
        self.functions = {name: item.func for name, item in self.tools.items()}
        if len(self.functions) != len(self.declarations):
            raise ToolError("two tools have the same name")

    def __bool__(self) -> bool:
        return bool(self.functions)

    def call(
        self, name: str, args: Mapping[str, Any], cancelled: threading.Event | None = None
    ) -> dict[str, Any]:
        """The function response for the model: `{"result": ...}` or `{"error": ...}`."""
        return self.answer(name, args, cancelled).response

    def answer(
        self, name: str, args: Mapping[str, Any], cancelled: threading.Event | None = None
    ) -> Answer:
        """Call `name`; its response and scheduling (a `ToolResult`'s, else the tool's).
        A tool that takes `cancelled` gets `cancelled` (a fresh Event when None)."""
        item = self.tools.get(name)
        if item is None:
            known = ", ".join(sorted(self.functions)) or "none"
            return Answer({"error": f"no tool named {name!r} (known: {known})"})
        func = item.func
        try:
            kwargs = coerce_args(func, args)
            if takes_cancelled(func):
                kwargs[CANCELLED] = cancelled if cancelled is not None else threading.Event()
            result = func(**kwargs)
        except ToolError as err:
            return Answer({"error": str(err)}, item.scheduling)
        except Exception as err:  # the model is told, so it can say what went wrong
            return Answer({"error": f"{name} raised {type(err).__name__}: {err}"}, item.scheduling)
        if isinstance(result, ToolResult):
            return Answer({"result": jsonable(result.value)}, result.scheduling or item.scheduling)
        return Answer({"result": jsonable(result)}, item.scheduling)

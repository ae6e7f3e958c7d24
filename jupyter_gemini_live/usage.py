"""Token usage and its estimated cost, per turn and per session (pure: no I/O).

The Live API reports `usageMetadata` as **cumulative** totals of the connection: each
report counts everything since the connection opened, so summing the reports
over-counts (peers got this wrong). `UsageMeter` keeps the last report and turns each
new one into the delta since then; a report smaller than the last one (a new
connection after a reconnect starts counting from zero again), or a call to
`new_connection()`, starts the count afresh.

Tokens are split by modality (text, audio, image: camera and screen frames are
IMAGE or VIDEO tokens) for the prompt and the response, plus thinking and tool-use
prompt tokens. What a count's per-modality details do not cover is counted as text.

The cost is an estimate from a price table (`Prices`, USD per million tokens). The
defaults are the published paid-tier prices of the Live API's native-audio model
(gemini-2.5-flash-native-audio, Gemini Developer API pricing page, as of
`PRICES_CHECKED`); the sources of the capability table (2026-11) give no prices for
the 3.x Live models, so the defaults apply to every model until `c.GeminiLive.prices`
says otherwise. They were not re-checked offline: flagged for checking (docs/gemini.md,
"Usage and cost").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

MODALITIES = ("text", "audio", "image")
#: the service's modality names → ours
_MODALITY = {
    "TEXT": "text",
    "DOCUMENT": "text",
    "AUDIO": "audio",
    "IMAGE": "image",
    "VIDEO": "image",
}
#: the date the default prices were checked
PRICES_CHECKED = "2025-12"


# ---- tokens ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Tokens:
    """Token counts by kind and modality (a report, a delta, a turn or a session)."""

    prompt_text: int = 0
    prompt_audio: int = 0
    prompt_image: int = 0
    response_text: int = 0
    response_audio: int = 0
    response_image: int = 0
    thinking: int = 0
    tool_use: int = 0
    total: int = 0

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(*(a + b for a, b in zip(_values(self), _values(other), strict=True)))

    def __sub__(self, other: Tokens) -> Tokens:
        return Tokens(*(a - b for a, b in zip(_values(self), _values(other), strict=True)))

    def any_below(self, other: Tokens) -> bool:
        """Whether some count is smaller than in `other` (a counter was reset)."""
        return any(a < b for a, b in zip(_values(self), _values(other), strict=True))

    @property
    def prompt(self) -> int:
        return self.prompt_text + self.prompt_audio + self.prompt_image

    @property
    def response(self) -> int:
        return self.response_text + self.response_audio + self.response_image

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> Tokens:
        """One `usageMetadata` (snake_case as the SDK dumps it, or camelCase as on the
        wire; Vertex's `candidatesTokenCount` is the response count)."""
        prompt = _by_modality(
            _count(metadata, "prompt_token_count"), _get(metadata, "prompt_tokens_details")
        )
        response_count = _count(metadata, "response_token_count") or _count(
            metadata, "candidates_token_count"
        )
        response_details = _get(metadata, "response_tokens_details") or _get(
            metadata, "candidates_tokens_details"
        )
        response = _by_modality(response_count, response_details)
        tokens = cls(
            prompt_text=prompt["text"],
            prompt_audio=prompt["audio"],
            prompt_image=prompt["image"],
            response_text=response["text"],
            response_audio=response["audio"],
            response_image=response["image"],
            thinking=_count(metadata, "thoughts_token_count"),
            tool_use=_count(metadata, "tool_use_prompt_token_count"),
        )
        total = _count(metadata, "total_token_count")
        return replace(tokens, total=total or tokens.counted())

    def counted(self) -> int:
        """The sum of the counts (what `total` is when the service gives none)."""
        return self.prompt + self.response + self.thinking + self.tool_use

    def to_json(self) -> dict[str, Any]:
        return {
            "prompt": {m: getattr(self, f"prompt_{m}") for m in MODALITIES},
            "response": {m: getattr(self, f"response_{m}") for m in MODALITIES},
            "thinking": self.thinking,
            "tool_use": self.tool_use,
            "total": self.total,
        }


def _values(tokens: Tokens) -> list[int]:
    return [getattr(tokens, f.name) for f in fields(tokens)]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def _get(metadata: Mapping[str, Any], name: str) -> Any:
    if name in metadata:
        return metadata[name]
    return metadata.get(_camel(name))


def _count(metadata: Mapping[str, Any], name: str) -> int:
    value = _get(metadata, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return max(0, int(value))


def _by_modality(count: int, details: Any) -> dict[str, int]:
    split = dict.fromkeys(MODALITIES, 0)
    for detail in details if isinstance(details, list) else []:
        if not isinstance(detail, Mapping):
            continue
        modality = _MODALITY.get(str(_get(detail, "modality")), "text")
        split[modality] += _count(detail, "token_count")
    split["text"] += max(0, count - sum(split.values()))
    return split


# ---- prices ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Prices:
    """USD per million tokens. Defaults: gemini-2.5-flash-native-audio on the Live API,
    paid tier, as of PRICES_CHECKED (see the module's docstring)."""

    input_text: float = 0.50
    input_audio: float = 3.00
    input_image: float = 3.00
    output_text: float = 2.00
    output_audio: float = 12.00
    output_image: float = 12.00
    #: thinking tokens are billed as output text
    thinking: float = 2.00
    #: tool-use prompt tokens (e.g. search results) are billed as input text
    tool_use: float = 0.50

    def cost(self, tokens: Tokens) -> float:
        """The estimated cost of `tokens` in USD."""
        micro = (
            tokens.prompt_text * self.input_text
            + tokens.prompt_audio * self.input_audio
            + tokens.prompt_image * self.input_image
            + tokens.response_text * self.output_text
            + tokens.response_audio * self.output_audio
            + tokens.response_image * self.output_image
            + tokens.thinking * self.thinking
            + tokens.tool_use * self.tool_use
        )
        return micro / 1_000_000

    def to_json(self) -> dict[str, float]:
        return asdict(self)


PRICE_FIELDS = frozenset(f.name for f in fields(Prices))
ALL_MODELS = "*"


def price_tables(config: Mapping[str, Any]) -> dict[str, Prices]:
    """The price table of every model from `c.GeminiLive.prices`:
    `{model or "*": {field: USD per million tokens}}`. A model's entry overrides the
    fields of "*", which overrides the defaults. Raises ValueError naming a bad entry."""
    base = Prices()
    tables: dict[str, Prices] = {}
    for model in sorted(config, key=lambda name: name != ALL_MODELS):
        entry = config[model]
        if not isinstance(model, str) or not isinstance(entry, Mapping):
            raise ValueError(f"prices[{model!r}]: expected {{field: USD per million tokens}}")
        changes: dict[str, float] = {}
        for name, value in entry.items():
            if name not in PRICE_FIELDS:
                known = ", ".join(sorted(PRICE_FIELDS))
                raise ValueError(f"prices[{model!r}][{name!r}]: unknown field; known: {known}")
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or value < 0
            ):
                raise ValueError(f"prices[{model!r}][{name!r}]: expected a number >= 0")
            changes[name] = float(value)
        if model == ALL_MODELS:
            base = replace(base, **changes)
        else:
            tables[model] = replace(base, **changes)
    tables[ALL_MODELS] = base
    return tables


# ---- budget and policy -----------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    """The most a session may use; None: no limit."""

    max_tokens: int | None = None
    max_usd: float | None = None
    #: the settings that set each limit (named in the message that ends a session)
    tokens_setting: str = "c.GeminiLive.budget_tokens"
    usd_setting: str = "c.GeminiLive.budget_usd"

    def capped(self, max_tokens: int | None, max_usd: float | None) -> Budget:
        """This budget, lowered by a session's own limits (never raised above it)."""
        budget = self
        if max_tokens is not None and (self.max_tokens is None or max_tokens < self.max_tokens):
            budget = replace(
                budget, max_tokens=max_tokens, tokens_setting="the session's budget_tokens option"
            )
        if max_usd is not None and (self.max_usd is None or max_usd < self.max_usd):
            budget = replace(budget, max_usd=max_usd, usd_setting="the session's budget_usd option")
        return budget

    def exceeded(self, tokens: Tokens, cost: float) -> str | None:
        """What was exceeded, said to the user; None while within the budget."""
        if self.max_tokens is not None and tokens.total > self.max_tokens:
            return (
                f"This session used {tokens.total:,} tokens, more than its budget of "
                f"{self.max_tokens:,} tokens ({self.tokens_setting}): it was ended. "
                f"Raise {self.tokens_setting} to allow more."
            )
        if self.max_usd is not None and cost > self.max_usd:
            return (
                f"This session cost an estimated ${cost:.4f}, more than its budget of "
                f"${self.max_usd:.4f} ({self.usd_setting}): it was ended. "
                f"Raise {self.usd_setting} to allow more."
            )
        return None

    def to_json(self) -> dict[str, Any]:
        return {"max_tokens": self.max_tokens, "max_usd": self.max_usd}


@dataclass(frozen=True)
class UsagePolicy:
    """Prices by model (with an "*" entry for every other model) and the budget."""

    prices: Mapping[str, Prices] = field(default_factory=lambda: {ALL_MODELS: Prices()})
    budget: Budget = field(default_factory=Budget)

    def prices_for(self, model: str) -> Prices:
        return self.prices.get(model) or self.prices.get(ALL_MODELS) or Prices()


# ---- the meter of one session ------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """Tokens and their estimated cost (a turn's or a session's)."""

    tokens: Tokens
    cost_usd: float

    def to_json(self) -> dict[str, Any]:
        return {"tokens": self.tokens.to_json(), "cost_usd": round(self.cost_usd, 6)}


class UsageMeter:
    """The usage of one session: per turn, in total, and against its budget.

    Feed it every `usageMetadata` in order (`observe`), call `end_turn()` at each
    turn_complete, and `new_connection()` when the upstream connects anew (resumed
    connections count from zero in the service).
    """

    def __init__(self, model: str, policy: UsagePolicy | None = None) -> None:
        self.policy = policy or UsagePolicy()
        self.prices = self.policy.prices_for(model)
        #: the last cumulative report of the current connection
        self._last = Tokens()
        self._turn = Tokens()
        self._session = Tokens()

    def new_connection(self) -> None:
        """The next report counts from zero (a new connection)."""
        self._last = Tokens()

    def observe(self, metadata: Mapping[str, Any]) -> Tokens:
        """Take one cumulative report; returns what it adds (its delta)."""
        report = Tokens.from_metadata(metadata)
        delta = report if report.any_below(self._last) else report - self._last
        self._last = report
        self._turn += delta
        self._session += delta
        return delta

    @property
    def turn(self) -> Usage:
        """The usage of the turn under way so far."""
        return Usage(self._turn, self.prices.cost(self._turn))

    @property
    def session(self) -> Usage:
        return Usage(self._session, self.prices.cost(self._session))

    def end_turn(self) -> Usage:
        """The usage of the turn that just ended; the next turn starts at zero."""
        ended = self.turn
        self._turn = Tokens()
        return ended

    def over_budget(self) -> str | None:
        """Why the session must end (its budget is exceeded), or None."""
        session = self.session
        return self.policy.budget.exceeded(session.tokens, session.cost_usd)

    def to_json(self) -> dict[str, Any]:
        return {
            "turn": self.turn.to_json(),
            "session": self.session.to_json(),
            "budget": self.policy.budget.to_json(),
        }

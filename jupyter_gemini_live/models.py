"""What each Live model supports: the one capability table of the product.

Everything that depends on the model (the session options a request may set, the setup
`backends/gemini.py` sends, what the panel offers, how the simulator behaves) asks this
table by the model's exact name; nothing anywhere matches parts of a name. A model the
table does not know gets `conservative()`: no async function calling, no thinking level,
no proactive audio nor affective dialog, so nothing is sent that such a model could
refuse; if the service refuses the model itself, its own error reaches the user.

Sources, as of 2026-11: the Gemini Live API model pages and the Vertex AI Live guide,
summarised in the project's `live-api-facts.md`. Where they are silent a cell is
conservative (the feature is not sent) or `None` ("the service's own default"), and
docs/gemini.md says which. `python -m jupyter_gemini_live.models` prints the table that
docs/gemini.md carries (a test keeps the two equal).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Api = Literal["developer", "vertex"]
Status = Literal["stable", "preview", "legacy", "unknown"]
Behavior = Literal["BLOCKING", "NON_BLOCKING"]
ProactiveAudio = Literal["unsupported", "optional", "always_on"]
AffectiveDialog = Literal["supported", "service_decides", "unsupported"]

#: the date the table was checked against its sources
CHECKED = "2026-11"
#: the default model of new sessions
DEFAULT_MODEL = "gemini-3.8-live"
BEHAVIORS: tuple[Behavior, ...] = ("BLOCKING", "NON_BLOCKING")
THINKING_LEVELS = ("minimal", "low", "medium", "high")
MEDIA_RESOLUTIONS = ("low", "medium", "high")


@dataclass(frozen=True)
class ModelCapabilities:
    """What one Live model supports, and what it does when a setting is not sent."""

    name: str
    #: the API that serves the model under this name
    api: Api
    status: Status
    #: function declarations may carry `behavior`: NON_BLOCKING calls run while the
    #: model goes on talking
    async_function_calling: bool
    #: the behaviors a declaration may ask for (empty: `behavior` is never sent)
    behaviors: tuple[Behavior, ...]
    #: what a declaration without `behavior` gets (None: the field is never sent)
    default_behavior: Behavior | None
    #: function responses may carry `scheduling` (INTERRUPT / WHEN_IDLE / SILENT)
    scheduling: bool
    #: `thinking_config.thinking_level` values, lowercase (empty: no thinking_config)
    thinking_levels: tuple[str, ...]
    #: the level the model uses when none is sent (None: not documented)
    default_thinking_level: str | None
    #: `thinking_config.thinking_budget` instead of levels (not offered as an option)
    thinking_budget: bool
    #: optional: `proactivity.proactive_audio` may be sent; always_on: the model is
    #: always proactive and `proactive_audio: false` is an error, so it is never sent
    proactive_audio: ProactiveAudio
    #: supported: `enable_affective_dialog` may be sent; service_decides: the sources
    #: disagree, so it is never sent and the service decides
    affective_dialog: AffectiveDialog
    google_search: bool
    #: camera and screen frames (realtime video input), and so `media_resolution`
    image_input: bool
    #: what `realtime_input_config.turn_coverage` is when not sent (None: not documented)
    turn_coverage_default: str | None
    #: the model reports `interaction_status` (IN_PROGRESS while it thinks, IDLE)
    interaction_status: bool
    #: the model sends `interim_input_transcription` while the user speaks
    interim_input_transcription: bool
    #: `client_content` only seeds the initial history (typed turns go as realtime text)
    client_content_initial_history_only: bool
    #: False for the conservative profile of a name the table does not know
    known: bool = True

    def to_json(self) -> dict[str, Any]:
        """The profile as the status route answers it (without the name)."""
        data = asdict(self)
        del data["name"]
        data["behaviors"] = list(self.behaviors)
        data["thinking_levels"] = list(self.thinking_levels)
        return data


def _profile(name: str, **fields: Any) -> ModelCapabilities:
    return ModelCapabilities(name=name, **fields)


_NATIVE_AUDIO_25: dict[str, Any] = {
    "async_function_calling": True,
    "behaviors": ("BLOCKING", "NON_BLOCKING"),
    "default_behavior": "BLOCKING",
    "scheduling": True,
    "thinking_levels": (),
    "default_thinking_level": None,
    "thinking_budget": True,
    "proactive_audio": "optional",
    "affective_dialog": "supported",
    "google_search": True,
    "image_input": True,
    "turn_coverage_default": "TURN_INCLUDES_ONLY_ACTIVITY",
    "interaction_status": False,
    "interim_input_transcription": False,
    "client_content_initial_history_only": True,
}

#: the table, in the order the model picker offers the models
MODELS: tuple[ModelCapabilities, ...] = (
    _profile(
        "gemini-3.8-live",
        api="developer",
        status="stable",
        async_function_calling=True,
        behaviors=("NON_BLOCKING", "BLOCKING"),
        default_behavior="NON_BLOCKING",
        scheduling=True,
        thinking_levels=(),
        default_thinking_level=None,
        thinking_budget=False,
        proactive_audio="always_on",
        affective_dialog="service_decides",
        google_search=True,
        image_input=True,
        turn_coverage_default="TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO",
        interaction_status=False,
        interim_input_transcription=True,
        client_content_initial_history_only=True,
    ),
    _profile(
        "gemini-3.8-live-extended-thinking",
        api="developer",
        status="stable",
        async_function_calling=True,
        behaviors=("NON_BLOCKING",),
        default_behavior="NON_BLOCKING",
        scheduling=True,
        thinking_levels=("low", "medium", "high"),
        default_thinking_level=None,
        thinking_budget=False,
        proactive_audio="unsupported",
        affective_dialog="unsupported",
        google_search=True,
        image_input=True,
        turn_coverage_default=None,
        interaction_status=True,
        interim_input_transcription=True,
        client_content_initial_history_only=True,
    ),
    _profile(
        "gemini-3.1-flash-live-preview",
        api="developer",
        status="legacy",
        async_function_calling=False,
        behaviors=(),
        default_behavior=None,
        scheduling=False,
        thinking_levels=THINKING_LEVELS,
        default_thinking_level="minimal",
        thinking_budget=False,
        proactive_audio="unsupported",
        affective_dialog="unsupported",
        google_search=True,
        image_input=True,
        turn_coverage_default=None,
        interaction_status=False,
        interim_input_transcription=False,
        client_content_initial_history_only=True,
    ),
    _profile(
        "gemini-2.5-flash-native-audio-preview-12-2025",
        api="developer",
        status="preview",
        **_NATIVE_AUDIO_25,
    ),
    _profile(
        "gemini-live-2.5-flash-native-audio", api="vertex", status="stable", **_NATIVE_AUDIO_25
    ),
)

_BY_NAME = {model.name: model for model in MODELS}


def bare_name(model: str) -> str:
    """The model id of a resource name: `models/X`, `publishers/google/models/X` and
    `projects/P/locations/L/publishers/google/models/X` all give `X` (what the SDK
    sends on the wire); any other name is returned as it is."""
    head, sep, tail = model.rpartition("models/")
    if sep and (head == "" or head.endswith("/")) and tail:
        return tail
    return model


def conservative(model: str, api: Api = "developer") -> ModelCapabilities:
    """The profile of a model the table does not know: nothing is sent that it could
    refuse. Search grounding and images stay allowed (every current Live model takes
    them); if the model refuses them, the service's own error says so."""
    return ModelCapabilities(
        name=model,
        api=api,
        status="unknown",
        async_function_calling=False,
        behaviors=(),
        default_behavior=None,
        scheduling=False,
        thinking_levels=(),
        default_thinking_level=None,
        thinking_budget=False,
        proactive_audio="unsupported",
        affective_dialog="unsupported",
        google_search=True,
        image_input=True,
        turn_coverage_default=None,
        interaction_status=False,
        interim_input_transcription=False,
        client_content_initial_history_only=True,
        known=False,
    )


def capabilities(model: str, api: Api = "developer") -> ModelCapabilities:
    """The profile of `model` (its exact name, or a resource name ending in it); the
    conservative profile for a name the table does not know."""
    return _BY_NAME.get(bare_name(model)) or conservative(bare_name(model), api)


def offered(*, vertexai: bool = False) -> list[str]:
    """The models the picker offers by default: the Developer API's, and with Vertex AI
    on, the Vertex models too."""
    return [m.name for m in MODELS if m.api == "developer" or (vertexai and m.api == "vertex")]


def supporting(predicate: str, value: object = True) -> list[str]:
    """Names of the table's models whose field `predicate` equals (or contains) `value`."""
    names = []
    for model in MODELS:
        field = getattr(model, predicate)
        if field == value or (isinstance(field, tuple) and value in field):
            names.append(model.name)
    return names


# ---- the table in docs/gemini.md ---------------------------------------------------------

DOC_COLUMNS = (
    ("model", lambda m: f"`{m.name}`"),
    ("API", lambda m: m.api),
    ("status", lambda m: m.status),
    ("async function calling (default)", lambda m: _behaviors(m)),
    ("scheduling", lambda m: _yes(m.scheduling)),
    ("thinking level (default)", lambda m: _thinking(m)),
    ("proactive audio", lambda m: m.proactive_audio.replace("_", " ")),
    ("affective dialog", lambda m: m.affective_dialog.replace("_", " ")),
    ("Google Search", lambda m: _yes(m.google_search)),
    ("image input", lambda m: _yes(m.image_input)),
    ("turn coverage default", lambda m: _or_undocumented(m.turn_coverage_default)),
    ("interaction status", lambda m: _yes(m.interaction_status)),
    ("interim input transcription", lambda m: _yes(m.interim_input_transcription)),
    ("client content", lambda m: _client_content(m)),
)  # fmt: skip


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _client_content(model: ModelCapabilities) -> str:
    return "initial history only" if model.client_content_initial_history_only else "any time"


def _or_undocumented(value: str | None) -> str:
    return f"`{value}`" if value else "not documented"


def _behaviors(model: ModelCapabilities) -> str:
    if not model.async_function_calling:
        return "no"
    others = [b for b in model.behaviors if b != model.default_behavior]
    text = f"yes ({model.default_behavior}"
    text += f"; {', '.join(others)} opt-in)" if others else " only)"
    return text


def _thinking(model: ModelCapabilities) -> str:
    if model.thinking_levels:
        default = model.default_thinking_level or "service default"
        return f"{', '.join(model.thinking_levels)} ({default})"
    return "thinking budget, no levels" if model.thinking_budget else "none"


def markdown_table(models: tuple[ModelCapabilities, ...] = MODELS) -> str:
    """The capability table as docs/gemini.md shows it."""
    rows = [[name for name, _ in DOC_COLUMNS], ["---"] * len(DOC_COLUMNS)]
    rows += [[cell(model) for _, cell in DOC_COLUMNS] for model in models]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")

"""The capability table: its content, its copy in docs/gemini.md, and no name matching."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jupyter_gemini_live import models
from jupyter_gemini_live.models import MODELS, bare_name, capabilities, conservative, offered

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "jupyter_gemini_live"
BEGIN = "<!-- capabilities:begin"
END = "<!-- capabilities:end -->"


def test_the_default_model_is_the_stable_3_8_live():
    model = capabilities(models.DEFAULT_MODEL)
    assert model.name == "gemini-3.8-live"
    assert model.status == "stable"
    assert model.known


def test_the_table_says_what_the_sources_say():
    live = capabilities("gemini-3.8-live")
    assert (live.default_behavior, live.behaviors) == ("NON_BLOCKING", ("NON_BLOCKING", "BLOCKING"))
    assert live.scheduling
    assert live.thinking_levels == ()
    assert live.proactive_audio == "always_on"
    assert live.affective_dialog == "service_decides"
    assert live.turn_coverage_default == "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO"
    thinking = capabilities("gemini-3.8-live-extended-thinking")
    assert thinking.behaviors == ("NON_BLOCKING",)
    assert thinking.interaction_status
    assert thinking.thinking_levels == ("low", "medium", "high")
    legacy = capabilities("gemini-3.1-flash-live-preview")
    assert legacy.status == "legacy"
    assert not legacy.async_function_calling
    assert legacy.default_thinking_level == "minimal"
    assert legacy.client_content_initial_history_only
    preview = capabilities("gemini-2.5-flash-native-audio-preview-12-2025")
    assert preview.status == "preview"
    assert preview.proactive_audio == "optional"
    assert preview.affective_dialog == "supported"
    assert preview.thinking_budget
    assert not preview.thinking_levels
    vertex = capabilities("gemini-live-2.5-flash-native-audio")
    assert vertex.api == "vertex"
    assert vertex.status == "stable"
    assert all(model.google_search and model.image_input for model in MODELS)


def test_every_profile_is_consistent():
    for model in MODELS:
        assert (model.default_behavior is not None) == model.async_function_calling, model.name
        assert (model.default_behavior in model.behaviors) or not model.async_function_calling
        assert model.scheduling <= model.async_function_calling
        assert set(model.thinking_levels) <= set(models.THINKING_LEVELS)
        if model.default_thinking_level is not None:
            assert model.default_thinking_level in model.thinking_levels


def test_an_unknown_model_gets_the_conservative_profile():
    unknown = capabilities("gemini-9-live-someday", "vertex")
    assert unknown == conservative("gemini-9-live-someday", "vertex")
    assert not unknown.known
    assert unknown.status == "unknown"
    assert not unknown.async_function_calling
    assert unknown.behaviors == ()
    assert unknown.thinking_levels == ()
    assert unknown.proactive_audio == "unsupported"
    assert unknown.affective_dialog == "unsupported"


@pytest.mark.parametrize(
    ("name", "bare"),
    [
        ("gemini-3.8-live", "gemini-3.8-live"),
        ("models/gemini-3.8-live", "gemini-3.8-live"),
        (
            "publishers/google/models/gemini-live-2.5-flash-native-audio",
            "gemini-live-2.5-flash-native-audio",
        ),
        (
            "projects/p/locations/us-central1/publishers/google/models/gemini-live-2.5-flash-native-audio",
            "gemini-live-2.5-flash-native-audio",
        ),
        ("mymodels/x", "mymodels/x"),
        ("models/", "models/"),
    ],
)  # fmt: skip
def test_resource_names_resolve_to_the_model_id(name, bare):
    assert bare_name(name) == bare


def test_resource_names_find_the_profile_but_lookalikes_do_not():
    assert capabilities("models/gemini-3.8-live").known
    assert not capabilities("gemini-3.8-live-2").known
    assert not capabilities("GEMINI-3.8-LIVE").known


def test_offered_models_follow_the_api():
    developer = offered()
    assert developer[0] == models.DEFAULT_MODEL
    assert "gemini-live-2.5-flash-native-audio" not in developer
    assert offered(vertexai=True) == [*developer, "gemini-live-2.5-flash-native-audio"]


def test_to_json_is_plain_json():
    data = capabilities("gemini-3.8-live").to_json()
    assert "name" not in data
    assert data["behaviors"] == ["NON_BLOCKING", "BLOCKING"]
    assert data["proactive_audio"] == "always_on"


def test_the_docs_table_is_the_module_table():
    text = (ROOT / "docs" / "gemini.md").read_text()
    begin = text.index(BEGIN)
    table = text[text.index("\n", begin) + 1 : text.index(END)]
    assert table == models.markdown_table(), (
        "docs/gemini.md's capability table differs from jupyter_gemini_live/models.py; "
        "paste the output of `python -m jupyter_gemini_live.models` between the markers"
    )
    for model in MODELS:
        assert f"`{model.name}`" in table


# ---- no name matching ------------------------------------------------------------------

#: a string literal tested against a name: `"gemini-3" in model`, `"live" not in name`
_LITERAL_IN = re.compile(
    r"""["'][^"'\n]*["']\s+(?:not\s+)?in\s+[\w.]*(?:model|name)\w*\b(?!\s*[\[(])"""
)
#: prefix, suffix or substring tests on a model: model.startswith(...), name.find(...)
_METHOD = re.compile(
    r"\bmodel\w*(?:\.\w+)*\.(?:startswith|endswith|find|index|count|__contains__)\("
)
#: regular expressions over model names
_REGEX = re.compile(r"re\.(?:match|search|fullmatch|findall)\([^\n]*model")
#: TypeScript: model.includes(...), model.startsWith(...), /gemini.../.test(model)
_TS = re.compile(
    r"\bmodel\w*(?:\.\w+)*\.(?:includes|startsWith|endsWith|indexOf|match)\(|\.test\(\s*\w*model"
)


def _sources() -> list[Path]:
    files = sorted(PACKAGE.rglob("*.py"))
    src = ROOT / "labextension" / "src"
    if src.is_dir():
        files += sorted(p for p in src.rglob("*.ts*") if "__tests__" not in p.parts)
    return files


def name_matches(text: str, typescript: bool = False) -> list[str]:
    patterns = [_LITERAL_IN, _METHOD, _REGEX] + ([_TS] if typescript else [])
    return [m.group(0) for pattern in patterns for m in pattern.finditer(text)]


@pytest.mark.parametrize(
    "line",
    [
        'if "gemini-3" in model:',
        "if 'native-audio' not in options.model:",
        'return self.model.startswith("gemini-3")',
        'model_name.endswith("-preview")',
        're.match(r"gemini-(\\d)", model)',
    ],
)
def test_the_name_matching_detector_catches_the_usual_forms(line):
    assert name_matches(line)


def test_the_name_matching_detector_catches_typescript():
    assert name_matches("if (model.includes('gemini-3')) {", typescript=True)
    assert name_matches("const ok = /gemini-3/.test(model);", typescript=True)


def test_nothing_in_the_product_matches_model_names():
    """Features are gated on models.py's table, never on parts of a model's name."""
    found = []
    for path in _sources():
        text = path.read_text()
        for match in name_matches(text, typescript=path.suffix != ".py"):
            found.append(f"{path.relative_to(ROOT)}: {match}")
    assert found == []

"""Per-model behaviour of the simulator, from the product's capability table.

The simulator may import product modules (never the reverse): a model's profile is
`jupyter_gemini_live.models.capabilities`, so the simulator refuses what the product
must never send (close 1007, "invalid argument", as the service does) and a product
that follows the table is never refused. A model name the table does not know gets
the table's conservative profile here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..models import ModelCapabilities, capabilities
from .protocol import field

INVALID_ARGUMENT = 1007


def refusal(setup: Mapping[str, Any], model: ModelCapabilities) -> tuple[int, str] | None:
    """The close code and reason of a setup `model` does not support, or None."""
    problem = _problem(setup, model)
    if problem is None:
        return None
    return INVALID_ARGUMENT, f"Invalid argument: {problem} (model {model.name})."


def profile_of(setup: Mapping[str, Any], api: str) -> ModelCapabilities:
    return capabilities(
        str(field(setup, "model", "")), "vertex" if api == "vertex" else "developer"
    )


def _problem(setup: Mapping[str, Any], model: ModelCapabilities) -> str | None:
    generation = field(setup, "generation_config", {}) or {}
    thinking = field(generation, "thinking_config")
    level = field(thinking, "thinking_level")
    if level is not None and str(level).lower() not in model.thinking_levels:
        return f"thinking_level {level} is not supported"
    if field(thinking, "thinking_budget") is not None and not model.thinking_budget:
        return "thinking_budget is not supported"
    proactive = field(field(setup, "proactivity", {}), "proactive_audio")
    if proactive is not None:
        if model.proactive_audio == "unsupported":
            return "proactive_audio is not supported"
        if model.proactive_audio == "always_on" and not proactive:
            return "proactive_audio cannot be disabled for this model"
    affective = field(generation, "enable_affective_dialog")
    if affective is not None and model.affective_dialog != "supported":
        return "enable_affective_dialog is not supported"
    if field(generation, "media_resolution") is not None and not model.image_input:
        return "media_resolution is not supported"
    for tool in field(setup, "tools", []) or []:
        if field(tool, "google_search") is not None and not model.google_search:
            return "google_search is not supported"
        for declaration in field(tool, "function_declarations", []) or []:
            behavior = field(declaration, "behavior")
            if behavior is None:
                continue
            if not model.async_function_calling:
                return "function declaration behavior is not supported"
            if behavior not in model.behaviors:
                return f"function behavior {behavior} is not supported"
    return None

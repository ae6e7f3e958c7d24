"""The notebook tools' declarations: one owner, a checked-in copy for the frontend, and
what each model is told about them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_gemini_live import notebook_tools
from jupyter_gemini_live.backends.gemini import function_declaration
from jupyter_gemini_live.models import MODELS, capabilities
from jupyter_gemini_live.session_options import Defaults, parse_session_options

ROOT = Path(__file__).parents[1]

DEFAULTS = Defaults(
    backend="echo",
    model="gemini-3.8-live",
    voice="Puck",
    backends=frozenset({"echo", "gemini"}),
    voices=frozenset({"Puck"}),
)


def test_the_checked_in_contract_is_what_the_module_writes(tmp_path: Path) -> None:
    written = tmp_path / "notebook-tools.json"
    subprocess.run(
        [sys.executable, "-m", "jupyter_gemini_live.notebook_tools", str(written)],
        check=True,
        cwd=ROOT,
    )
    assert written.read_text() == notebook_tools.contract_text()
    assert notebook_tools.CONTRACT_FILE.read_text() == written.read_text(), (
        "labextension/src/__tests__/notebook-tools.json is stale: run "
        "`python -m jupyter_gemini_live.notebook_tools`"
    )


def test_the_contract_names_the_six_tools_and_the_budgets() -> None:
    contract = json.loads(notebook_tools.CONTRACT_FILE.read_text())
    assert [tool["name"] for tool in contract["tools"]] == [
        "read_notebook",
        "read_cell",
        "insert_cell",
        "replace_cell",
        "run_cell",
        "inspect_variable",
    ]
    budgets = contract["budgets"]
    assert budgets["read_notebook_chars"] == 16_000
    assert budgets["images_per_response"] == 2
    assert budgets["image_bytes"] == 1024 * 1024
    assert budgets["run_wait_s"] == 30
    assert budgets["run_wait_async_s"] == 600


@pytest.mark.parametrize("declaration", notebook_tools.DECLARATIONS, ids=lambda d: d["name"])
def test_each_description_tells_the_model_when_to_use_the_tool(declaration: dict) -> None:
    assert "Use when" in declaration["description"]
    assert len(declaration["description"]) < 500


@pytest.mark.parametrize("model", [m.name for m in MODELS] + ["gemini-9-someday"])
def test_the_declarations_are_valid_session_tools_the_sdk_takes(model: str) -> None:
    options = parse_session_options({"notebook": True, "model": model}, DEFAULTS)
    assert {tool["name"] for tool in options.tools} == notebook_tools.NAMES
    for tool in options.tools:
        function_declaration(tool, capabilities(model))


def behaviors(model: str) -> dict[str, str | None]:
    capable = capabilities(model)
    return {
        d["name"]: function_declaration(d, capable).behavior
        for d in notebook_tools.declarations(capable)
    }


def test_run_cell_is_non_blocking_where_the_model_takes_async_tools() -> None:
    live = behaviors("gemini-3.8-live")
    assert live.pop("run_cell") == "NON_BLOCKING"
    assert set(live.values()) == {"BLOCKING"}  # the model waits for what it reads
    native = behaviors("gemini-2.5-flash-native-audio-preview-12-2025")
    assert native["run_cell"] == "NON_BLOCKING"
    assert native["read_notebook"] == "BLOCKING"
    assert set(behaviors("gemini-9-someday").values()) == {None}  # no async tools: not sent

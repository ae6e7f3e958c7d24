"""The notebook tools: what the model may do to the notebook the user is looking at.

The one owner of the tools' names, their descriptions (written for the model), the JSON
schemas of their arguments and the budgets that keep one call from flooding the model's
context. The server adds `declarations(...)` to a session's tools when it is created with
`notebook: true`; the browser (the panel) runs the calls against the open notebook.

`python -m jupyter_gemini_live.notebook_tools` writes the declarations and budgets to
labextension/src/__tests__/notebook-tools.json, which the frontend's tests read (the
runner must handle exactly these names); tests/test_notebook_tools.py fails when that
copy is stale.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .models import ModelCapabilities
from .protocol import MAX_TOOL_IMAGE_BYTES, MAX_TOOL_IMAGES

#: what bounds a notebook tool's response (chars are Python/JS string lengths)
BUDGETS: Mapping[str, int] = {
    # read_notebook: the whole response, and each cell's source in it
    "read_notebook_chars": 16_000,
    "read_notebook_source_chars": 2_000,
    # read_cell: the cell's source
    "read_cell_source_chars": 8_000,
    # the text of a cell's outputs, per cell
    "output_text_chars": 2_000,
    # an error's traceback: its last lines (ANSI stripped)
    "traceback_lines": 8,
    # inspect_variable: the repr
    "variable_repr_chars": 2_000,
    # images in one response (read_cell, run_cell), each one's decoded size and long side
    "images_per_response": MAX_TOOL_IMAGES,
    "image_bytes": MAX_TOOL_IMAGE_BYTES,
    "image_long_side_px": 1024,
    # run_cell waits this long before answering `still_running` (blocking declaration)
    "run_wait_s": 30,
    # a NON_BLOCKING run_cell answers when the cell finishes, at most this late
    "run_wait_async_s": 600,
}

#: how cut text says so (the count is of the characters left out)
CUT_MARK = "… [cut {n} chars]"

_INDEX = {"type": "integer", "minimum": 0}

#: the declarations, as a session's `tools` holds them (name, description, parameters)
DECLARATIONS: tuple[Mapping[str, Any], ...] = (
    {
        "name": "read_notebook",
        "description": (
            "Read the notebook the user has open: its path, kernel, active cell index, and "
            "every cell (index, type, source, execution count, a summary of its outputs). "
            "Long sources and outputs are cut. Use when the user refers to their notebook, "
            "code or results ('what does my notebook do?', 'why did that fail?'), before "
            "editing or running cells, or to find a cell's index."
        ),
        "parameters": {"type": "object", "properties": {}},
    },
    {
        "name": "read_cell",
        "description": (
            "Read one cell in full: its source, outputs, and the images it displays (plots), "
            "which you then see. Use when the user asks about one cell or a plot ('what does "
            "this plot show?', 'look at the cell I'm on'). Without index: the active cell."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "index": {**_INDEX, "description": "0-based cell index; default: active cell"},
            },
        },
    },
    {
        "name": "insert_cell",
        "description": (
            "Insert a new code or Markdown cell. The user may be asked to approve. Use when "
            "the user asks you to write code or notes into the notebook ('add a cell that "
            "plots df', 'put a heading above it'). Give index (the new cell's position) or "
            "after (the cell to insert after); neither: after the active cell. Returns the "
            "new cell's index."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "source": {"type": "string", "description": "the whole cell source"},
                "cell_type": {
                    "type": "string",
                    "enum": ["code", "markdown"],
                    "description": "default: code",
                },
                "index": {**_INDEX, "description": "position of the new cell"},
                "after": {**_INDEX, "description": "index of the cell to insert after"},
            },
            "required": ["source"],
        },
    },
    {
        "name": "replace_cell",
        "description": (
            "Replace a cell's whole source. The user may be asked to approve (they see a "
            "diff). Use when the user asks you to fix or change existing code ('fix that "
            "error', 'use a log scale in cell 3'). Read the cell first."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "index": {**_INDEX, "description": "0-based cell index"},
                "source": {"type": "string", "description": "the new, whole cell source"},
            },
            "required": ["index", "source"],
        },
    },
    {
        "name": "run_cell",
        "description": (
            "Run a code cell and return its outputs (text, errors, and images you then see). "
            "The user may be asked to approve. Use when the user asks to run something, or "
            "to check code you inserted ('run it', 'does it work now?'). A long run answers "
            "status still_running."
        ),
        "parameters": {
            "type": "object",
            "properties": {"index": {**_INDEX, "description": "0-based cell index"}},
            "required": ["index"],
        },
    },
    {
        "name": "inspect_variable",
        "description": (
            "Summarise a variable in the notebook's kernel without running the user's code: "
            "type, repr (cut), and shape, dtype, columns or length where it has them. Use "
            "when the user asks about data in memory ('what columns does df have?', 'how "
            "long is results?')."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "name": {
                    "type": "string",
                    "description": "a variable or dotted attribute, e.g. df or model.coef_",
                    "pattern": r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$",
                },
            },
            "required": ["name"],
        },
    },
)

NAMES: frozenset[str] = frozenset(d["name"] for d in DECLARATIONS)
#: the tool that may run long: declared NON_BLOCKING where the model takes async tools
LONG_RUNNING = "run_cell"


def declarations(capable: ModelCapabilities) -> tuple[Mapping[str, Any], ...]:
    """The declarations for a session on this model: `run_cell` NON_BLOCKING where the
    model takes it (the browser then answers when the cell finishes), the others BLOCKING
    where the model can be told so (the model needs their answer to go on)."""
    result = []
    for declaration in DECLARATIONS:
        wanted = "NON_BLOCKING" if declaration["name"] == LONG_RUNNING else "BLOCKING"
        if capable.async_function_calling and wanted in capable.behaviors:
            result.append({**declaration, "behavior": wanted})
        else:
            result.append(dict(declaration))
    return tuple(result)


def contract() -> dict[str, Any]:
    """What the frontend's tests read: the declarations and the budgets."""
    return {"tools": [dict(d) for d in DECLARATIONS], "budgets": dict(BUDGETS)}


def contract_text() -> str:
    return json.dumps(contract(), indent=2, ensure_ascii=False) + "\n"


#: the checked-in copy (in a source checkout)
CONTRACT_FILE = Path(__file__).parents[1] / "labextension/src/__tests__/notebook-tools.json"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else CONTRACT_FILE
    target.write_text(contract_text(), encoding="utf-8")

"""Talk to your notebook (issue 8), end to end in Chromium: the user speaks, the simulated
model reads the open notebook, proposes cells, the test approves or declines them in the
panel, and the simulator's tool log shows what the model got back (text and images).

The microphone is the looping WAV of conftest (1 s of speech, 3 s of pause). The panel is
muted except for exactly one burst (`speak_once`), so each spoken turn is one user turn:
a second one would take the next scripted turn, or cancel a pending call.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from jupyter_process import Lab

from .conftest import code_cell, write_notebook_file
from .test_panel import live_session, mic_level_js, open_lab, run_command, wait_for

DATAFRAME = (
    "import pandas as pd\n"
    'df = pd.DataFrame({"x": [1, 2, 3, 4, 5], "y": [2.0, 3.5, 1.0, 4.5, 3.0]})\n'
    "df"
)
DESCRIBE = "df.describe()"
PLOT = "import matplotlib.pyplot as plt\ndf.plot(x='x', y='y')\nplt.show()"
ANSWER = "print(6 * 7)"
SLEEP = "import time\ntime.sleep(60)"
BLOCKING_MODEL = "gemini-3.1-flash-live-preview"
#: takes async calls: run_cell is NON_BLOCKING, answered when the cell ends (WHEN_IDLE)
ASYNC_MODEL = "gemini-3.8-live"

ScriptedLab = Callable[[dict[str, Any]], tuple[Lab, Path]]


@pytest.fixture
def scripted_lab(start_lab: Callable[..., Lab], tmp_path: Path) -> Iterator[ScriptedLab]:
    """A lab whose gemini backend is the simulator, playing `script` and logging tools."""
    with ExitStack() as stack:
        from .simulator_process import running_simulator

        def start(script: dict[str, Any]) -> tuple[Lab, Path]:
            script_path = tmp_path / "script.json"
            script_path.write_text(json.dumps(script))
            log = tmp_path / "tools.jsonl"
            args = ["--script", str(script_path), "--tool-log", str(log)]
            url, ca_file, key = stack.enter_context(running_simulator(tmp_path, *args))
            lab = start_lab(
                f"--GeminiLive.base_url={url}",
                f"--GeminiLive.ca_file={ca_file}",
                f"--GeminiLive.api_key={key}",
            )
            return lab, log

        yield start


SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="3000" height="600">'
    '<rect width="3000" height="600" fill="teal"/></svg>'
)


def write_notebook(
    lab: Lab, name: str = "data.ipynb", more: tuple[dict[str, Any], ...] = ()
) -> str:
    write_notebook_file(lab.root / name, code_cell("frame", DATAFRAME), *more)
    return name


def open_notebook(
    chromium: Any, lab: Lab, name: str, run: bool = True, pages: str = "lab/tree"
) -> Any:
    """The app on the notebook (`pages`: Notebook 7's are `notebooks`), its first cell run
    (the DataFrame shows)."""
    page = open_lab(chromium, lab, page_path=f"{pages}/{name}")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
    if run:
        page.locator(".jp-Notebook .jp-Cell").first.click()
        wait_for("the kernel", lambda: page.evaluate(KERNEL_STATUS_JS) == "idle", timeout=120)
        run_command(page, "notebook:run-cell")
        page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-OutputArea-output").first.wait_for(
            timeout=120_000
        )
    return page


KERNEL_STATUS_JS = """() => {
  const kernel = window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel;
  return kernel ? kernel.status : null;
}"""

NOTEBOOK_JS = "() => window.jupyterapp.shell.currentWidget.content.model.toJSON()"


def notebook_json(page: Any) -> dict[str, Any]:
    notebook: dict[str, Any] = page.evaluate(NOTEBOOK_JS)
    return notebook


def source(cell: dict[str, Any]) -> str:
    text = cell["source"]
    return "".join(text) if isinstance(text, list) else str(text)


def start_notebook_session(
    page: Any, lab: Lab, model: str = "", backend: str = ""
) -> dict[str, Any]:
    """The panel muted, the notebook tools on, a session started (the toggle → notebook)."""
    run_command(page, "gemini-live:open")
    options = page.locator("details.jp-GeminiLive-options")
    options.wait_for()
    if options.get_attribute("open") is None:
        options.locator("summary").click()
    page.locator('[data-testid="gemini-live-notebook-tools"]').check()
    if backend:
        page.locator('[data-testid="gemini-live-backend"]').select_option(backend)
    if model:
        page.locator('[data-testid="gemini-live-model"]').fill(model)
    page.locator('[data-testid="gemini-live-mute"]').click()
    page.locator('[data-testid="gemini-live-mute"][aria-pressed="true"]').wait_for()
    run_command(page, "gemini-live:start")
    page.locator('[data-testid="gemini-live-status"][data-state="live"]').wait_for(timeout=60_000)
    session: dict[str, Any] = wait_for("a live session", lambda: live_session(lab))
    assert session["notebook"] is True
    return session


def speak_once(page: Any) -> None:
    """Unmute for exactly one burst of the looping microphone: from the start of a
    pause to the end of the next burst."""
    page.wait_for_function(mic_level_js("> -40"), timeout=30_000)
    page.wait_for_function(mic_level_js("< -60"), timeout=30_000)
    mute = page.locator('[data-testid="gemini-live-mute"]')
    mute.click()
    page.locator('[data-testid="gemini-live-mute"][aria-pressed="false"]').wait_for()
    page.wait_for_function(mic_level_js("> -40"), timeout=30_000)
    page.wait_for_function(mic_level_js("< -60"), timeout=30_000)
    mute.click()
    page.locator('[data-testid="gemini-live-mute"][aria-pressed="true"]').wait_for()


def answer_prompt(page: Any, kind: str, button: str = "Approve") -> str:
    """Wait for the approval prompt of `kind`, click `button`; returns what it showed."""
    prompt = page.locator(f'[data-testid="gemini-live-approval"][data-kind="{kind}"]')
    prompt.wait_for(timeout=60_000)
    shown: str = prompt.inner_text()
    prompt.get_by_role("button", name=button, exact=True).click()
    prompt.wait_for(state="detached", timeout=30_000)
    return shown


def tool_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_the_model_writes_runs_and_sees_approved_cells(
    chromium: Any, scripted_lab: ScriptedLab, tmp_path: Path
) -> None:
    lab, log = scripted_lab(
        {
            "turns": [
                {
                    "calls": [
                        {"name": "read_notebook", "args": {}},
                        {"name": "insert_cell", "args": {"source": DESCRIBE, "after": 0}},
                        {"name": "run_cell", "args": {"index": 1}},
                        {"name": "insert_cell", "args": {"source": PLOT, "after": 1}},
                        {"name": "run_cell", "args": {"index": 2}},
                    ],
                    "say": "The summary and the plot are in your notebook.",
                }
            ]
        }
    )
    page = open_notebook(chromium, lab, write_notebook(lab))
    start_notebook_session(page, lab, model=ASYNC_MODEL)
    speak_once(page)

    assert DESCRIBE in answer_prompt(page, "insert_cell")
    assert "Run cell 2" in answer_prompt(page, "run_cell")
    prompt = page.locator('[data-testid="gemini-live-approval"][data-kind="insert_cell"]')
    prompt.wait_for(timeout=60_000)
    shots = Path(os.environ.get("GEMINI_LIVE_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "notebook-tools.png"))
    assert "plt.show()" in answer_prompt(page, "insert_cell")
    answer_prompt(page, "run_cell")

    entries = wait_for(
        "five tool responses logged", lambda: len(tool_log(log)) >= 5 and tool_log(log), timeout=90
    )
    names = [entry["name"] for entry in entries]
    assert names == ["read_notebook", "insert_cell", "run_cell", "insert_cell", "run_cell"]
    cells = entries[0]["response"]["cells"]
    assert [source(cell) for cell in cells] == [DATAFRAME]
    describe_run, plot_run = entries[2], entries[4]
    described = "".join(o.get("text", "") for o in describe_run["response"]["outputs"])
    assert describe_run["response"]["status"] == "ok"
    assert "count" in described
    assert "mean" in described
    assert plot_run["response"]["status"] == "ok"
    assert [describe_run["scheduling"], plot_run["scheduling"]] == ["WHEN_IDLE"] * 2
    assert [image["mime_type"] for image in plot_run["images"]] == ["image/png"]
    assert 0 < plot_run["images"][0]["size"] <= 1024 * 1024

    notebook = notebook_json(page)
    assert [source(cell) for cell in notebook["cells"]] == [DATAFRAME, DESCRIBE, PLOT]
    for cell, tool in zip(notebook["cells"][1:], ["insert_cell", "insert_cell"], strict=True):
        assert cell["metadata"]["gemini_live"]["by"] == "model"
        assert cell["metadata"]["gemini_live"]["tool"] == tool
        assert cell["outputs"]
    assert "count" in json.dumps(notebook["cells"][1]["outputs"])
    assert "image/png" in notebook["cells"][2]["outputs"][-1]["data"]
    marked = page.locator(".jp-Notebook .jp-Cell.jp-GeminiLive-modelCell")
    assert marked.count() == 2
    assert "jp-GeminiLive-modelCell" not in (
        page.locator(".jp-Notebook .jp-Cell").first.get_attribute("class") or ""
    )
    run_command(page, "gemini-live:stop")

    # The marks follow the saved metadata: they are there again after a reload.
    run_command(page, "docmanager:save")
    saved = lab.root / "data.ipynb"
    wait_for("the notebook saved", lambda: "gemini_live" in saved.read_text())
    page.reload()
    page.locator(".jp-Notebook .jp-Cell").nth(2).wait_for(timeout=60_000)
    wait_for("the marks after a reload", lambda: marked.count() == 2)
    page.context.close()


def test_a_declined_cell_changes_nothing(chromium: Any, scripted_lab: ScriptedLab) -> None:
    lab, log = scripted_lab(
        {
            "turns": [
                {
                    "calls": [
                        {"name": "read_notebook", "args": {}},
                        {"name": "insert_cell", "args": {"source": DESCRIBE, "after": 0}},
                    ],
                    "say": "Inserted.",
                }
            ]
        }
    )
    page = open_notebook(chromium, lab, write_notebook(lab))
    start_notebook_session(page, lab)
    before = notebook_json(page)["cells"]
    speak_once(page)
    answer_prompt(page, "insert_cell", "Decline")

    entries = wait_for(
        "two tool responses logged", lambda: len(tool_log(log)) >= 2 and tool_log(log), timeout=60
    )
    assert entries[1]["name"] == "insert_cell"
    assert "declined" in entries[1]["response"]["error"]
    after = notebook_json(page)["cells"]
    assert [source(c) for c in after] == [source(c) for c in before] == [DATAFRAME]
    assert page.locator(".jp-GeminiLive-modelCell").count() == 0
    run_command(page, "gemini-live:stop")
    page.context.close()


def test_barge_in_interrupts_the_cell_the_model_runs(
    chromium: Any, scripted_lab: ScriptedLab
) -> None:
    lab, log = scripted_lab(
        {
            "turns": [
                {
                    "calls": [
                        {"name": "insert_cell", "args": {"source": SLEEP, "after": 0}},
                        {"name": "run_cell", "args": {"index": 1}},
                    ],
                    "say": "It ran.",
                }
            ]
        }
    )
    page = open_notebook(chromium, lab, write_notebook(lab))
    start_notebook_session(page, lab, model=BLOCKING_MODEL)
    speak_once(page)
    answer_prompt(page, "insert_cell")
    answer_prompt(page, "run_cell")
    wait_for("the cell to run", lambda: page.evaluate(KERNEL_STATUS_JS) == "busy")
    speak_once(page)  # talking over the model cancels its pending run_cell

    def interrupted() -> list[dict[str, Any]]:
        outputs: list[dict[str, Any]] = notebook_json(page)["cells"][1]["outputs"]
        return [o for o in outputs if o.get("ename") == "KeyboardInterrupt"]

    wait_for("KeyboardInterrupt in the cell", interrupted, timeout=30)
    # Nothing is answered for a cancelled call.
    assert [entry["name"] for entry in tool_log(log)] == ["insert_cell"]
    run_command(page, "gemini-live:stop")
    page.context.close()


@pytest.mark.parametrize(("app", "pages"), [("lab", "lab/tree"), ("notebook", "notebooks")])
def test_typed_calls_reach_the_notebook_tools_with_no_key(
    chromium: Any, start_lab: Callable[..., Lab], app: str, pages: str
) -> None:
    """The echo's `call NAME {json}`: the notebook tools answer, an SVG output goes along
    rasterised (a 3000 px drawing, scaled down to fit), an approved cell is inserted with
    its mark and run. In JupyterLab and in Notebook 7's notebook page alike."""
    lab = start_lab(app=app)
    drawing = {
        "output_type": "display_data", "metadata": {},
        "data": {"image/svg+xml": SVG, "text/plain": "<drawing>"},
    }  # fmt: skip
    svg_cell = code_cell("drawing", "show()", [drawing], count=2)
    name = write_notebook(lab, more=(svg_cell,))
    page = open_notebook(chromium, lab, name, run=False, pages=pages)
    if app == "notebook":
        show_from_right_sidebar_menu(page)
    start_notebook_session(page, lab, backend="echo")
    rows = page.locator('[data-testid="gemini-live-row"][data-role="model"]')

    def said(text: str) -> Callable[[], list[str]]:
        return lambda: [row for row in rows.all_inner_texts() if text in row]

    send(page, "call read_notebook {}")
    answered = wait_for("the notebook tools' answer", said("read_notebook returned"))
    assert "data.ipynb" in answered[0]
    assert "pandas" in answered[0]
    send(page, 'call read_cell {"index": 1}')
    seen = wait_for("the drawing read", said("read_cell returned"))
    assert "image/svg+xml" in seen[0]
    assert "(+1 image)" in seen[0]

    send(page, f"call insert_cell {json.dumps({'source': ANSWER, 'after': 0})}")
    assert ANSWER in answer_prompt(page, "insert_cell")
    inserted = wait_for("the insertion answered", said("insert_cell returned"))
    cells = notebook_json(page)["cells"]
    assert [source(cell) for cell in cells] == [DATAFRAME, ANSWER, "show()"]
    assert cells[1]["metadata"]["gemini_live"]["by"] == "model"
    assert cells[1]["metadata"]["gemini_live"]["tool"] == "insert_cell"
    assert f'"cell_id": "{cells[1]["id"]}"' in inserted[0]
    send(page, 'call run_cell {"index": 1}')
    assert "Run cell 2" in answer_prompt(page, "run_cell")
    ran = wait_for("the run answered", said("run_cell returned"), timeout=120)
    assert '"status": "ok"' in ran[0]
    assert "42" in ran[0]
    assert "42" in json.dumps(notebook_json(page)["cells"][1]["outputs"])
    marked = page.locator(".jp-Notebook .jp-Cell.jp-GeminiLive-modelCell")
    wait_for("the inserted cell marked", lambda: marked.count() == 1)
    run_command(page, "gemini-live:stop")
    page.context.close()


def show_from_right_sidebar_menu(page: Any) -> None:
    """Notebook 7's way to a right-hand panel: View → Right Sidebar → Show Gemini Live."""
    panel = page.locator('[data-testid="gemini-live-panel"]')
    assert not panel.is_visible()
    page.get_by_role("menuitem", name="View").click()
    page.locator(".lm-Menu-item", has_text="Right Sidebar").hover()
    page.locator(".lm-Menu-item", has_text="Show Gemini Live").click()
    panel.wait_for(state="visible")


@pytest.mark.parametrize(("app", "pages"), [("lab", "lab/tree"), ("notebook", "notebooks")])
def test_the_cards_notebook_session_brings_the_tools(
    chromium: Any, start_lab: Callable[..., Lab], app: str, pages: str
) -> None:
    """A session a notebook made with the notebook tools (`%gemini_live start --notebook`
    makes one like it): Talk on its card opens the panel (Notebook 7's closed sidebar
    too), and the panel answers the notebook tools."""
    from jupyter_gemini_live.client.magics import SESSION_MIME_TYPE

    lab = start_lab(app=app)
    session = lab.api("POST", "sessions", {"backend": "echo", "notebook": True})
    card = {"session_id": session["id"], "backend": "echo", "model": "m", "voice": "Puck"}
    output = {
        "output_type": "display_data", "metadata": {},
        "data": {SESSION_MIME_TYPE: card, "text/plain": "Gemini Live session"},
    }  # fmt: skip
    card_cell = code_cell("card", "%gemini_live start --notebook", [output], count=1)
    page = open_notebook(
        chromium, lab, write_notebook(lab, more=(card_cell,)), run=False, pages=pages
    )
    panel = page.locator('[data-testid="gemini-live-panel"]')
    if app == "notebook":
        assert not panel.is_visible()  # its sidebar is closed at first
    page.locator('[data-testid="gemini-live-inline-talk"]').click()
    panel.wait_for(state="visible")
    wait_for(
        "the panel in the card's session", lambda: panel.get_attribute("data-joined") == "true"
    )
    assert panel.get_attribute("data-session-id") == session["id"]
    send(page, "call read_notebook {}")
    rows = page.locator('[data-testid="gemini-live-row"][data-role="model"]')
    answered = wait_for(
        "the notebook tools' answer",
        lambda: [row for row in rows.all_inner_texts() if "read_notebook returned" in row],
    )
    assert "%gemini_live start --notebook" in answered[0]
    run_command(page, "gemini-live:stop")
    page.context.close()


def send(page: Any, text: str) -> None:
    page.locator('[data-testid="gemini-live-text-input"]').fill(text)
    page.locator('[data-testid="gemini-live-send"]').click()

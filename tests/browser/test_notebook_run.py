"""Run in sandbox: a student's notebook of a MUSCode project, run headless in the
sandbox from its toolbar; the executed copy opens read-only to the right of the
notebook, with what the cells printed, the error, and the verdict naming the failing
cell. The student's own file keeps her source and gets no outputs.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from conftest import LabServer, require_playwright

require_playwright()

from labui import LabUI, shot  # noqa: E402
from playwright.sync_api import Locator, Page, expect  # noqa: E402

pytestmark = pytest.mark.timeout(600)

#: A notebook run starts IPython in the sandbox: slow on a busy machine.
NOTEBOOK_RUN_MS = 180_000


def code(source: str) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "metadata": {},
        "source": source,
        "outputs": [],
        "execution_count": None,
    }


NOTEBOOK = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    },
    "cells": [
        code('print("draft")'),
        {"cell_type": "markdown", "metadata": {}, "source": "Now a mistake:"},
        code("total = 1 / 0"),
        code('print("never printed")'),
    ],
}


def open_notebook(page: Page, path: str) -> Locator:
    # The command resolves to the notebook widget, which cannot cross to Python: the
    # page function awaits it and returns nothing.
    page.evaluate(
        "async ([path]) => { await window.jupyterapp.commands.execute('docmanager:open', "
        "{path, factory: 'Notebook'}); }",
        [path],
    )
    name = path.rsplit("/", 1)[-1]
    expect(LabUI(page).tab(name).first).to_be_visible()
    panel = page.locator(".jp-NotebookPanel:visible").first
    expect(panel.locator(".jp-Cell").first).to_be_visible(timeout=60_000)
    # by its id: the executed copy opening beside it must not change what this names
    panel = page.locator(f"#{panel.get_attribute('id')}")
    return panel


def test_run_a_notebook_in_the_sandbox_and_see_the_executed_copy(
    page: Page, lab_server: LabServer
) -> None:
    ui = LabUI(page)
    ui.create_project("nbrun", "python")
    project = lab_server.project("nbrun")
    lab_server.api(
        "POST",
        f"projects/{project['id']}/files",
        {"path": "main.ipynb", "content": json.dumps(NOTEBOOK)},
        expect=201,
    )

    notebook = open_notebook(page, "MUSCode:nbrun/main.ipynb")
    # The student edits the first cell and does not save: Run in sandbox saves first.
    first = notebook.locator(".jp-Cell").first.locator(".cm-content")
    first.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text('print("hello from the sandbox")')
    expect(ui.tab("main.ipynb").first).to_have_class(re.compile(r"jp-mod-dirty"))

    notebook.locator(".muscode-NbRunButton").click()
    # (a narrow toolbar moves its last items into its "more" menu: not scoped to it)
    progress = page.locator(".muscode-NbRunProgress")
    expect(progress).to_be_visible()
    expect(ui.tab("main.ipynb").first).not_to_have_class(re.compile(r"jp-mod-dirty"))

    copy = page.locator(".muscode-NbRun")
    expect(copy).to_be_visible(timeout=NOTEBOOK_RUN_MS)
    expected = "Runtime error in cell 3: ZeroDivisionError: division by zero"
    expect(copy.locator(".muscode-NbRun-header .muscode-verdict")).to_have_text(expected)
    expect(copy).to_have_attribute("data-verdict", "runtime_error")
    expect(progress).to_have_text(expected)
    expect(progress).to_have_attribute("data-phase", "done")
    expect(notebook.locator(".muscode-NbRunStop")).to_be_hidden()
    expect(ui.tab("main.ipynb — run in sandbox")).to_be_visible()

    cells = copy.locator(".muscode-NbRun-cell")
    expect(cells).to_have_count(4)
    printed = cells.nth(0)
    expect(printed).to_have_attribute("data-status", "ok")
    expect(printed.locator(".muscode-NbRun-output")).to_contain_text("hello from the sandbox")
    expect(cells.nth(1)).to_contain_text("Now a mistake:")
    failed = cells.nth(2)
    expect(failed).to_have_attribute("data-status", "error")
    expect(failed).to_have_class(re.compile(r"muscode-mod-failed"))
    expect(failed.locator(".muscode-NbRun-output")).to_contain_text("ZeroDivisionError")
    expect(cells.nth(3)).to_have_attribute("data-status", "not_run")
    expect(cells.nth(3).locator(".muscode-NbRun-output")).to_have_count(0)
    # Read-only: nothing to type into, and no document (nothing to save over hers).
    expect(copy.locator(".cm-content, [contenteditable='true'], textarea")).to_have_count(0)

    # Beside the student's notebook, to its right; her notebook stays open as it was.
    mine = notebook.bounding_box()
    theirs = copy.bounding_box()
    assert mine is not None and theirs is not None
    assert theirs["x"] >= mine["x"] + mine["width"] - 2, (mine, theirs)
    expect(notebook.locator(".jp-OutputArea-output")).to_have_count(0)
    shot(page, "53-notebook-run-in-sandbox")

    # On the server her file holds her edit and no outputs of the run.
    saved = json.loads(lab_server.file("nbrun", "main.ipynb")["content"])
    sources = ["".join(c["source"]) for c in saved["cells"]]
    assert sources == [
        'print("hello from the sandbox")',
        "Now a mistake:",
        "total = 1 / 0",
        'print("never printed")',
    ]
    for cell in saved["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, cell

    # The run itself was the project's notebook, with the verdict the copy shows.
    (run,) = lab_server.api("GET", f"executions?project_id={project['id']}", expect=200)
    assert run["verdict"] == "runtime_error", run
    assert copy.get_attribute("data-execution-id") == run["id"]


def test_no_run_in_sandbox_on_a_notebook_of_the_local_file_system(
    page: Page, lab_server: LabServer
) -> None:
    (lab_server.root_dir / "local.ipynb").write_text(json.dumps(NOTEBOOK))
    notebook = open_notebook(page, "local.ipynb")
    expect(notebook.locator(".jp-NotebookPanel-toolbar")).to_be_visible()
    # the button is there (the extension is loaded) but not shown: no project to run in
    expect(notebook.locator(".muscode-NbRunButton")).to_have_count(1)
    expect(notebook.locator(".muscode-NbRunButton")).to_be_hidden()
    expect(notebook.locator(".muscode-NbRunProgress")).to_be_hidden()


def test_stop_a_notebook_run_from_the_toolbar(page: Page, lab_server: LabServer) -> None:
    ui = LabUI(page)
    ui.create_project("nbstop", "python")
    project = lab_server.project("nbstop")
    forever = {**NOTEBOOK, "cells": [code('print("started")'), code("while True:\n    pass")]}
    lab_server.api(
        "POST",
        f"projects/{project['id']}/files",
        {"path": "loop.ipynb", "content": json.dumps(forever)},
        expect=201,
    )
    notebook = open_notebook(page, "MUSCode:nbstop/loop.ipynb")
    notebook.locator(".muscode-NbRunButton").click()
    progress = notebook.locator(".muscode-NbRunProgress")
    # the toolbar names the cell that runs: the second, which never ends
    expect(progress).to_have_text("Running cell 2…", timeout=NOTEBOOK_RUN_MS)
    expect(notebook.locator(".muscode-NbRunButton")).to_have_attribute("aria-disabled", "true")
    notebook.locator(".muscode-NbRunStop").click()
    expect(progress).to_have_attribute("data-verdict", "cancelled", timeout=60_000)
    expect(progress).to_contain_text("Stopped")
    expect(notebook.locator(".muscode-NbRunStop")).to_be_hidden()
    expect(notebook.locator(".muscode-NbRunButton")).to_have_attribute("aria-disabled", "false")
    (run,) = lab_server.api("GET", f"executions?project_id={project['id']}", expect=200)
    assert run["status"] == "done" and run["verdict"] == "cancelled", run


def test_progress_and_stop_stay_in_view_beside_the_executed_copy(
    page: Page, lab_server: LabServer
) -> None:
    # With the executed copy open beside it, the notebook is half as wide: its toolbar
    # moves what does not fit into its "more" menu, but not the progress or Stop.
    ui = LabUI(page)
    ui.create_project("nbnarrow", "python")
    project = lab_server.project("nbnarrow")
    forever = {**NOTEBOOK, "cells": [code('print("started")'), code("while True:\n    pass")]}
    lab_server.api(
        "POST",
        f"projects/{project['id']}/files",
        {"path": "loop.ipynb", "content": json.dumps(forever)},
        expect=201,
    )
    page.set_viewport_size({"width": 1000, "height": 800})
    notebook = open_notebook(page, "MUSCode:nbnarrow/loop.ipynb")
    notebook.locator(".muscode-NbRunButton").click()
    progress = notebook.locator(".muscode-NbRunProgress")
    stop = notebook.locator(".muscode-NbRunStop")
    expect(progress).to_have_text("Running cell 2…", timeout=NOTEBOOK_RUN_MS)
    expect(stop).to_be_visible()
    notebook.locator(".muscode-NbRunStop").click()
    expect(progress).to_have_attribute("data-verdict", "cancelled", timeout=60_000)
    copy = page.locator(".muscode-NbRun")
    expect(copy).to_be_visible(timeout=NOTEBOOK_RUN_MS)
    mine, theirs = notebook.bounding_box(), copy.bounding_box()
    assert mine is not None and theirs is not None
    assert theirs["x"] >= mine["x"] + mine["width"] - 2, (mine, theirs)
    # The toolbar is too narrow for all its items now.
    popup = notebook.locator(".jp-Toolbar-responsive-opener")
    expect(popup).to_be_visible()

    # Run again beside the copy: the progress and Stop are in view, in the notebook.
    notebook.locator(".jp-Notebook").click()
    page.keyboard.press("Escape")
    page.evaluate(
        "async () => { await window.jupyterapp.commands.execute('muscode:run-notebook'); }"
    )
    expect(progress).to_have_text("Running cell 2…", timeout=NOTEBOOK_RUN_MS)
    for item in (progress, stop):
        expect(item).to_be_visible()
        expect(item).to_be_in_viewport()
        box = item.bounding_box()
        assert box is not None and box["x"] + box["width"] <= mine["x"] + mine["width"], box
    expect(page.locator(".jp-Toolbar-responsive-popup .muscode-NbRunProgress")).to_have_count(0)
    shot(page, "54-notebook-run-beside-its-copy")
    stop.click()
    expect(progress).to_contain_text("Stopped", timeout=60_000)
    expect(stop).to_be_hidden()

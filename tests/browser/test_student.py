"""A student in JupyterLab: projects, the MUSCode drive, Run, stale saves."""

from __future__ import annotations

import re

import pytest
from conftest import UNAVAILABLE_LANGUAGE, LabServer, require_playwright

require_playwright()

from labui import LabUI, shot  # noqa: E402
from playwright.sync_api import Page, expect  # noqa: E402

pytestmark = pytest.mark.timeout(300)

STREAM = "/executions/{execution_id}/stream"
CANCEL = "/executions/{execution_id}/cancel"

PY_PROGRAM = """\
import sys

name = input("Your name? ")
print(f"Hello, {name}!")
print("a note on stderr", file=sys.stderr)
"""

C_BROKEN = """\
#include <stdio.h>

int main(void) {
    printf("never printed\\n")
    return 0;
}
"""


def test_panel_shows_projects_and_classes_state(page: Page, lab_server: LabServer) -> None:
    ui = LabUI(page)
    panel = ui.open_panel()
    expect(panel.locator(".muscode-Header-status")).to_contain_text("Signed in as student")
    if lab_server.has("/classes"):
        expect(panel).not_to_contain_text("not available on this MUSCode server")
    else:
        expect(panel.locator(".muscode-Classes-unavailable")).to_contain_text(
            "Classes and assignments are not available on this MUSCode server yet"
        )
    shot(page, "01-panel")


def test_new_project_only_offers_available_languages(page: Page, lab_server: LabServer) -> None:
    languages = lab_server.api("GET", "languages", expect=200)
    available = sorted(lang["id"] for lang in languages if lang["available"])
    assert UNAVAILABLE_LANGUAGE not in available
    ui = LabUI(page)
    ui.open_panel()
    ui.panel.locator(".muscode-Projects-new").click()
    dialog = ui.dialog()
    offered = dialog.locator(".muscode-Form-language option").evaluate_all(
        "options => options.map(o => o.value)"
    )
    assert sorted(offered) == available
    shot(page, "02-new-project-dialog")
    dialog.get_by_role("button", name="Cancel").click()


@pytest.mark.parametrize(
    "mode",
    [
        pytest.param("live", id="live"),
        pytest.param(
            "no-stream",
            id="no-stream",
            marks=pytest.mark.hide_endpoints(STREAM, CANCEL),
        ),
    ],
)
def test_python_program_reads_input_and_runs(page: Page, lab_server: LabServer, mode: str) -> None:
    if mode == "live" and not lab_server.has(STREAM):
        pytest.skip(f"the server's OpenAPI document does not list {STREAM} yet")
    ui = LabUI(page)
    project = f"hello-py-{mode}"
    ui.create_project(project, "python")
    editor = ui.new_file(project, "main.py")
    ui.write(editor, PY_PROGRAM)
    ui.save(editor, "main.py")
    ui.wait_saved("main.py")
    assert lab_server.file(project, "main.py")["content"] == PY_PROGRAM
    shot(page, f"03-python-editor-{mode}")

    panel = ui.run_from_toolbar(editor)
    line = panel.locator(".muscode-RunPanel-stdin")
    send = panel.locator(".muscode-RunPanel-send")
    stop = panel.locator(".muscode-RunPanel-stop")
    if mode == "live":
        # The program waits for input: type it while it runs.
        expect(panel.locator(".muscode-RunPanel-output")).to_contain_text(
            "Your name?", timeout=30_000
        )
        expect(send).to_be_enabled()
        expect(stop).to_be_enabled()
        line.fill("Ada")
        line.press("Enter")
    else:
        # Without the live channel input cannot be typed while the program runs: it
        # reads EOF; Stop and the line input are off and say why.
        # a plain run that ends with a non-zero code says so (not "Runtime error")
        assert ui.wait_done(panel) == "Exited with code 1"
        assert "EOFError" in ui.output(panel, "stderr")
        expect(send).to_be_disabled()
        expect(stop).to_be_disabled()
        expect(stop).to_have_attribute("title", re.compile("live channel"))
        expect(panel.locator(".muscode-RunPanel-line")).to_have_attribute(
            "title", re.compile("live channel")
        )
        shot(page, "04-python-eof-without-stream")
        line.fill("Ada\n")
        ui.run_again(panel)
    assert ui.wait_done(panel) == "Finished · exit 0"
    assert "Hello, Ada!" in ui.output(panel, "stdout")
    assert "a note on stderr" in ui.output(panel, "stderr")
    assert "Hello, Ada!" not in ui.output(panel, "stderr")
    summary = ui.summary(panel)
    assert summary["Exit code"] == "0"
    assert re.fullmatch(r"\d+(\.\d+)? (ms|s)", summary["CPU time"]), summary
    assert re.fullmatch(r"\d+(\.\d+)? (KB|MB)", summary["Memory"]), summary
    shot(page, f"05-python-accepted-{mode}")

    # The run used the project's saved file on the server.
    runs = lab_server.api("GET", "executions", expect=200)
    assert runs[0]["project_id"] == lab_server.project(project)["id"]
    assert runs[0]["verdict"] == "accepted"
    assert runs[0]["stdout"].endswith("Hello, Ada!\n")


def test_c_compile_error_shows_compiler_message(page: Page, lab_server: LabServer) -> None:
    ui = LabUI(page)
    ui.create_project("broken-c", "c")
    editor = ui.new_file("broken-c", "main.c")
    ui.write(editor, C_BROKEN)
    # Run saves a dirty drive file first: the run and the file agree.
    panel = ui.run_from_toolbar(editor)
    assert ui.wait_done(panel) == "Compile error"
    ui.wait_saved("main.c")
    assert lab_server.file("broken-c", "main.c")["content"] == C_BROKEN
    compiler = panel.locator(".muscode-RunPanel-compile pre, .muscode-stderr").first
    expect(compiler).to_contain_text("error")
    expect(compiler).to_contain_text(re.compile(r"expected .;. before .return."))
    assert "never printed" not in ui.output(panel, "stdout")
    shot(page, "06-c-compile-error")


def test_keyboard_shortcut_runs_the_editor(page: Page, lab_server: LabServer) -> None:
    ui = LabUI(page)
    ui.create_project("shortcut-js", "javascript")
    editor = ui.new_file("shortcut-js", "main.js")
    ui.write(editor, 'console.log("from the shortcut");\n')
    page.keyboard.press("Control+Shift+Enter")
    panel = ui.run_panel()
    assert ui.wait_done(panel) == "Finished · exit 0"
    assert "from the shortcut" in ui.output(panel, "stdout")
    # the editor kept its text: Ctrl+Shift+Enter did not insert a line
    assert ui.editor_text(editor).strip() == 'console.log("from the shortcut");'


def test_normal_file_runs_its_editor_text(page: Page, lab_server: LabServer) -> None:
    (lab_server.root_dir / "plain.py").write_text('print("saved text")\n')
    ui = LabUI(page)
    if not page.locator("#filebrowser").is_visible():
        page.locator('[data-id="filebrowser"]').click()
    item = page.locator("#filebrowser .jp-DirListing-item", has_text="plain.py")
    expect(item).to_be_visible()
    item.dblclick()
    editor = ui.editor("plain.py")
    # Unsaved edits are what runs: the text goes as `source`.
    ui.write(editor, 'print("unsaved text", 6 * 7)\n')
    panel = ui.run_from_toolbar(editor)
    assert ui.wait_done(panel) == "Finished · exit 0"
    assert "unsaved text 42" in ui.output(panel, "stdout")
    assert (lab_server.root_dir / "plain.py").read_text() == 'print("saved text")\n'
    shot(page, "07-normal-file-run")


def test_runtime_errors_and_server_errors_are_readable(page: Page, lab_server: LabServer) -> None:
    ui = LabUI(page)
    ui.create_project("errors-py", "python")
    editor = ui.new_file("errors-py", "main.py")
    ui.write(editor, "print('start')\nraise SystemExit(3)\n")
    panel = ui.run_from_toolbar(editor)
    assert ui.wait_done(panel) == "Exited with code 3"
    assert ui.summary(panel)["Exit code"] == "3"
    assert "start" in ui.output(panel, "stdout")

    # A request the server refuses (a program over its source cap, 8 KiB on the test
    # server) shows the server's own sentence.
    ui.write(editor, "x = 1\n" * 2000)
    panel.locator(".muscode-RunPanel-run").click()
    error = panel.locator(".muscode-RunPanel-error")
    expect(error).to_be_visible(timeout=60_000)
    expect(error).to_contain_text("8192")
    expect(error).not_to_contain_text("HTTP")
    shot(page, "08-server-error")


def test_project_rename_delete_restore(page: Page, lab_server: LabServer) -> None:
    ui = LabUI(page)
    ui.create_project("draft", "python")
    ui.project_row("draft").locator(".muscode-Project-rename").click()
    dialog = ui.dialog()
    dialog.locator("input").fill("final")
    dialog.get_by_role("button", name="OK").click()
    expect(ui.project_row("final")).to_be_visible()
    expect(ui.project_row("draft")).to_have_count(0)
    assert lab_server.project("final")["language"] == "python"

    ui.project_row("final").locator(".muscode-Project-delete").click()
    dialog = ui.dialog()
    dialog.get_by_role("button", name="Delete").click()
    expect(ui.project_row("final")).to_have_count(0)
    names = [p["name"] for p in lab_server.api("GET", "projects", expect=200)]
    assert "final" not in names

    ui.panel.get_by_label("Show deleted").check()
    deleted = ui.panel.locator('.muscode-mod-deleted[data-project="final"]')
    expect(deleted).to_be_visible()
    shot(page, "09-deleted-project")
    deleted.locator(".muscode-Project-restore").click()
    expect(ui.project_row("final")).to_be_visible()
    assert "final" in [p["name"] for p in lab_server.api("GET", "projects", expect=200)]


def test_stale_save_asks_to_reload_or_overwrite(page: Page, lab_server: LabServer) -> None:
    ui = LabUI(page)
    ui.create_project("shared", "python")
    editor = ui.new_file("shared", "main.py")
    ui.write(editor, "print('mine v1')\n")
    ui.save(editor, "main.py")
    ui.wait_saved("main.py")
    project = lab_server.project("shared")

    def change_elsewhere(content: str) -> None:
        f = lab_server.file("shared", "main.py")
        lab_server.api(
            "PUT",
            f"projects/{project['id']}/files/{f['id']}",
            {"content": content, "version": f["version"]},
            expect=200,
        )

    # 1. Someone else saves; my save is stale: the dialog asks; I overwrite.
    change_elsewhere("print('theirs 1')\n")
    ui.write(editor, "print('mine v2')\n")
    ui.save(editor, "main.py")
    dialog = ui.dialog()
    expect(dialog).to_contain_text("File changed on the server")
    expect(dialog).to_contain_text("version 3")
    shot(page, "10-stale-save-dialog")
    dialog.get_by_role("button", name="Overwrite").click()
    ui.wait_saved("main.py")
    after = lab_server.file("shared", "main.py")
    assert after["content"] == "print('mine v2')\n"
    assert after["version"] == 4

    # 2. Again, and this time I reload: their text replaces mine, nothing is written.
    change_elsewhere("print('theirs 2')\n")
    ui.write(editor, "print('mine v3')\n")
    ui.save(editor, "main.py")
    dialog = ui.dialog()
    dialog.get_by_role("button", name="Reload").click()
    expect(editor.locator(".cm-content")).to_contain_text("theirs 2")
    ui.wait_saved("main.py")
    assert lab_server.file("shared", "main.py")["content"] == "print('theirs 2')\n"

    # 3. Cancel keeps my edit unsaved and the server's version untouched.
    change_elsewhere("print('theirs 3')\n")
    ui.write(editor, "print('mine v4')\n")
    ui.save(editor, "main.py")
    dialog = ui.dialog()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(ui.tab("main.py").first).to_have_class(re.compile("jp-mod-dirty"))
    assert lab_server.file("shared", "main.py")["content"] == "print('theirs 3')\n"
    assert "mine v4" in ui.editor_text(editor)


def test_keyboard_only_project_and_dark_theme(page: Page, lab_server: LabServer) -> None:
    ui = LabUI(page)
    ui.open_panel()
    new = ui.panel.get_by_role("button", name="New project")
    dialog = page.locator(".jp-Dialog")
    # The panel re-renders when its data arrives, and the button it replaces loses the
    # focus: focus it again and press Enter again (a person would too).
    for _ in range(3):
        new.focus()
        page.keyboard.press("Enter")
        try:
            expect(dialog).to_be_visible(timeout=10_000)
            break
        except AssertionError:
            continue
    dialog = ui.dialog()
    expect(dialog.get_by_label("Project name")).to_be_focused()
    page.keyboard.type("by-keyboard")
    page.keyboard.press("Tab")
    expect(dialog.get_by_label("Language")).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(ui.project_row("by-keyboard")).to_be_visible()
    # every action of a project is a labelled button
    for label in ("New file in by-keyboard", "Rename by-keyboard", "Delete by-keyboard"):
        expect(ui.panel.get_by_role("button", name=label)).to_be_visible()

    ui.use_theme("JupyterLab Dark")
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false")
    shot(page, "15-panel-dark-theme")
    ui.use_theme("JupyterLab Light")
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "true")

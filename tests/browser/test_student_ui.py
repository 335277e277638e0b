"""What a student meets in JupyterLab (issue 13, "Students"): Check and Submit save
what is typed first, the status line follows overrides, disabled buttons look and are
disabled, a visible test shows its input, a plain run says "Finished", the Run panel's
language follows the file, and one input box gets the focus while a program reads."""

from __future__ import annotations

import re

import pytest
from conftest import LabServer, require_playwright

require_playwright()

from labui import LabUI, shot  # noqa: E402
from playwright.sync_api import Locator, Page, Route, expect  # noqa: E402
from test_assignments import (  # noqa: E402
    HALF_RIGHT,
    RIGHT,
    make_assignment,
    make_class,
    open_class,
    view,
)

pytestmark = pytest.mark.timeout(300)

STREAM = "/executions/{execution_id}/stream"


def start_assignment(page: Page, lab_server: LabServer, who: str) -> tuple[Locator, dict, LabUI]:
    """``who`` opens the Shout assignment, starts it, and has main.py open (as started)."""
    klass = make_class(lab_server, {who: "student"})
    a = make_assignment(lab_server, klass["id"])
    ui = LabUI(page)
    expect(ui.panel.locator(".muscode-Header-status")).to_contain_text(f"Signed in as {who}")
    row = open_class(ui, klass["slug"]).locator('.muscode-Assignment[data-assignment="Shout"]')
    row.locator(".muscode-Assignment-open").click()
    v = view(page, f"muscode-assignment-{a['id']}")
    v.locator(".muscode-Assignment-start").click()
    item = ui.panel.locator(".muscode-Files .jp-DirListing-item", has_text="main.py")
    expect(item).to_be_visible()
    item.dblclick()
    ui.editor("main.py")
    return v, {**a, "class": klass}, ui


def reopen_panel(ui: LabUI) -> None:
    """After a reload: the MUSCode panel open, whatever the restored layout did meanwhile."""
    ui.page.wait_for_selector('[data-id="muscode-sidepanel"]', timeout=60_000)
    projects = ui.panel.locator(".muscode-Projects")
    for _ in range(3):
        try:
            expect(projects).to_be_visible(timeout=10_000)
            return
        except AssertionError:
            if not ui.panel.is_visible():
                ui.page.locator('[data-id="muscode-sidepanel"]').click()
    expect(projects).to_be_visible()


def saved_main(lab_server: LabServer, who: str, project_id: str) -> str:
    files = lab_server.api_as(who, "GET", f"projects/{project_id}/files").body
    main = next(f for f in files if f["path"] == "main.py")
    got = lab_server.api_as(who, "GET", f"projects/{project_id}/files/{main['id']}").body
    return str(got["content"])


@pytest.mark.as_user("cleo")
def test_check_and_submit_save_unsaved_edits_and_follow_an_override(
    page: Page, lab_server: LabServer
) -> None:
    v, a, ui = start_assignment(page, lab_server, "cleo")
    project_id = lab_server.api_as("cleo", "GET", f"assignments/{a['id']}").body["my"]["project_id"]

    # Edited, not saved: Check saves it first and checks the edit, not the starter.
    ui.write(ui.editor("main.py"), HALF_RIGHT)
    expect(ui.tab("main.py").first).to_have_class(re.compile(r"jp-mod-dirty"))
    ui.tab("Shout").click()
    v.locator(".muscode-Assignment-check").click()
    check = v.locator(".muscode-Check")
    expect(check).to_contain_text("1 of 1 visible tests pass", timeout=60_000)
    ui.wait_saved("main.py")
    assert saved_main(lab_server, "cleo", project_id) == HALF_RIGHT
    # A visible test shows its input, not only what it expects and what was printed.
    loud = check.locator('tr[data-test="already loud"]')
    loud.locator("summary").click()
    expect(loud.locator(".muscode-TestOutput-stdin")).to_have_text("HEY")

    # Submit the same way: the unsaved edit is what is graded (3/3, not HALF_RIGHT's 1/3).
    ui.write(ui.editor("main.py"), RIGHT)
    ui.tab("Shout").click()
    v.locator(".muscode-Assignment-submit").click()
    dialog = ui.dialog()
    expect(dialog).to_contain_text("saved first")
    dialog.get_by_role("button", name="Submit").click()
    latest = v.locator(".muscode-Submissions-mine .muscode-Submission")
    expect(latest).to_have_attribute("data-status", "graded", timeout=60_000)
    expect(latest.locator(".muscode-Submission-score")).to_contain_text("score 3 / 3")
    ui.wait_saved("main.py")
    assert saved_main(lab_server, "cleo", project_id) == RIGHT
    status = v.locator(".muscode-Assignment-status")
    expect(status).to_have_text("Graded: 3 / 3")
    # the visible test shows its input; the hidden one nothing but pass/fail
    visible = latest.locator('tr[data-test="already loud"]')
    visible.locator("summary").click()
    expect(visible.locator(".muscode-TestOutput-stdin")).to_have_text("HEY")
    expect(latest.locator('tr[data-test="quiet"] details')).to_have_count(0)
    expect(latest).not_to_contain_text("psst")

    # Staff override the score: the status line, best score and latest attempt agree,
    # on Refresh and after a reload of the page.
    (sub,) = lab_server.api_as("cleo", "GET", f"assignments/{a['id']}/submissions").body
    lab_server.api("PATCH", f"submissions/{sub['id']}", {"score": 2, "comment": "style"}, 200)
    v.locator(".muscode-Assignment-refresh").click()
    expect(latest.locator(".muscode-Submission-score")).to_contain_text("score 2 / 3")
    expect(status).to_have_text("Graded: 2 / 3")
    expect(v.locator(".muscode-Assignment-best")).to_have_text("2 / 3")
    shot(page, "31-assignment-override-student")
    page.reload()
    reopen_panel(ui)
    row = open_class(ui, a["class"]["slug"]).locator('.muscode-Assignment[data-assignment="Shout"]')
    row.locator(".muscode-Assignment-open").click()
    v = view(page, f"muscode-assignment-{a['id']}")
    expect(v.locator(".muscode-Assignment-status")).to_have_text("Graded: 2 / 3")
    expect(v.locator(".muscode-Assignment-best")).to_have_text("2 / 3")
    expect(v.locator(".muscode-Submission-score")).to_contain_text("score 2 / 3")
    expect(v.locator(".muscode-Assignment-attempts")).to_have_text("1 of 3 (2 left)")


@pytest.mark.as_user("dora")
def test_a_failed_save_stops_submit_and_spends_no_attempt(
    page: Page, lab_server: LabServer
) -> None:
    v, a, ui = start_assignment(page, lab_server, "dora")
    ui.write(ui.editor("main.py"), RIGHT)
    ui.tab("Shout").click()

    def refuse(route: Route) -> None:
        if route.request.method == "PUT":
            route.fulfill(
                status=503,
                content_type="application/json",
                body='{"message": "the database is down", "reason": "database"}',
            )
        else:
            route.continue_()

    files = re.compile(r".*/api/muscode/v1/projects/[^/]+/files/.+")
    page.route(files, refuse)
    v.locator(".muscode-Assignment-submit").click()
    ui.dialog().get_by_role("button", name="Submit").click()
    # JupyterLab reports the failed save in a dialog of its own too
    error_dialog = page.locator(".jp-Dialog")
    expect(error_dialog).to_contain_text("the database is down")
    error_dialog.get_by_role("button").last.click()
    expect(v.locator(".muscode-Error")).to_contain_text("Could not save main.py")
    expect(ui.tab("main.py").first).to_have_class(re.compile(r"jp-mod-dirty"))
    assert lab_server.api_as("dora", "GET", f"assignments/{a['id']}/submissions").body == []
    expect(v.locator(".muscode-Assignment-attempts")).to_have_text("0 of 3 (3 left)")
    page.unroute(files)


@pytest.mark.as_user("emil")
def test_disabled_buttons_are_disabled_and_look_it(page: Page, lab_server: LabServer) -> None:
    klass = make_class(lab_server, {"emil": "student"})
    a = make_assignment(lab_server, klass["id"])
    ui = LabUI(page)
    row = open_class(ui, klass["slug"]).locator('.muscode-Assignment[data-assignment="Shout"]')
    row.locator(".muscode-Assignment-open").click()
    v = view(page, f"muscode-assignment-{a['id']}")
    start = v.locator(".muscode-Assignment-start")
    for name in ("check", "submit"):
        button = v.locator(f".muscode-Assignment-{name}")
        expect(button).to_be_disabled()
        expect(button).to_have_attribute("disabled", "")
        look = "el => { const s = getComputedStyle(el); return [s.cursor, s.opacity, s.color]; }"
        cursor, opacity, color = button.evaluate(look)
        enabled = start.evaluate(look)
        assert cursor == "not-allowed", cursor
        assert float(opacity) < 1, opacity
        assert (opacity, color) != (enabled[1], enabled[2])
        assert enabled[0] != "not-allowed"
        # a click on it does nothing
        button.click(force=True)
    expect(v.locator(".muscode-Check")).to_have_count(0)
    assert lab_server.api_as("emil", "GET", f"assignments/{a['id']}/submissions").body == []


def test_run_panel_language_follows_the_file(page: Page, lab_server: LabServer) -> None:
    ui = LabUI(page)
    ui.create_project("which-lang", "c")
    editor = ui.new_file("which-lang", "prog.c")
    ui.write(editor, 'print("I am Python")\n')
    ui.save(editor, "prog.c")
    ui.wait_saved("prog.c")
    panel = ui.run_from_toolbar(editor)
    language = panel.locator(".muscode-RunPanel-language")
    expect(language).to_have_value("c")
    assert ui.wait_done(panel) == "Compile error"

    # Renamed to .py: the panel follows the file, and runs it as Python.
    item = ui.panel.locator(".muscode-Files .jp-DirListing-item", has_text="prog.c")
    item.click()
    page.keyboard.press("F2")
    name = ui.panel.locator(".muscode-Files .jp-DirListing-editor")
    expect(name).to_be_visible()
    name.fill("prog.py")
    name.press("Enter")
    expect(
        ui.panel.locator(".muscode-Files .jp-DirListing-item", has_text="prog.py")
    ).to_be_visible()
    panel = ui.run_panel()
    expect(language).to_have_value("python")
    ui.run_again(panel)
    assert ui.wait_done(panel) == "Finished · exit 0"
    assert "I am Python" in ui.output(panel, "stdout")

    # Chosen on purpose, the choice holds for this file (and says so).
    language.select_option("c")
    expect(panel.locator(".muscode-RunPanel-languageNote")).to_contain_text("Python")
    ui.run_again(panel)
    assert ui.wait_done(panel) == "Compile error"
    (run, *_) = lab_server.api("GET", "executions", expect=200)
    assert run["language"] == "c"


def test_plain_run_says_finished_or_its_exit_code(page: Page, lab_server: LabServer) -> None:
    ui = LabUI(page)
    ui.create_project("exit-codes", "python")
    editor = ui.new_file("exit-codes", "main.py")
    ui.write(editor, 'import sys\nprint("bye")\nsys.exit(3)\n')
    panel = ui.run_from_toolbar(editor)
    assert ui.wait_done(panel) == "Exited with code 3"
    # edited, not saved: Run saves it first
    ui.write(ui.editor("main.py"), 'print("fine")\n')
    ui.run_again(panel)
    assert ui.wait_done(panel) == "Finished · exit 0"
    expect(panel).not_to_contain_text("Accepted")


def test_one_input_box_gets_the_focus_while_the_program_reads(
    page: Page, lab_server: LabServer
) -> None:
    if not lab_server.has(STREAM):
        pytest.skip(f"the server's OpenAPI document does not list {STREAM} yet")
    ui = LabUI(page)
    ui.create_project("one-box", "python")
    editor = ui.new_file("one-box", "main.py")
    ui.write(editor, 'name = input("name? ")\nprint("Hi", name)\n')
    panel = ui.run_from_toolbar(editor)
    # one box for the program's input, no second one
    expect(panel.locator("textarea, input[type=text]")).to_have_count(1)
    box = panel.locator(".muscode-RunPanel-stdin")
    expect(panel.locator(".muscode-RunPanel-output")).to_contain_text("name?", timeout=30_000)
    expect(box).to_be_focused()
    expect(panel.locator(".muscode-RunPanel-waiting")).to_contain_text("Waiting for input")
    page.keyboard.type("Ada")
    page.keyboard.press("Enter")
    assert ui.wait_done(panel) == "Finished · exit 0"
    assert "Hi Ada" in ui.output(panel, "stdout")
    assert ui.output(panel, "stdin").strip() == "Ada"
    expect(panel.locator(".muscode-RunPanel-send")).to_be_disabled()
    expect(panel.locator(".muscode-RunPanel-waiting")).to_have_text("")

"""Interactive stdin, Stop and classes: they need server parts that came later than the
projects API, so each test first checks that the server's OpenAPI document lists what
it needs, and skips (saying what is missing) when it does not. Assignments are in
test_assignments.py."""

from __future__ import annotations

import re

import pytest
from conftest import LabServer, require_playwright

require_playwright()

from labui import LabUI, shot  # noqa: E402
from playwright.sync_api import Page, expect  # noqa: E402

pytestmark = pytest.mark.timeout(300)

STREAM = "/executions/{execution_id}/stream"
CANCEL = "/executions/{execution_id}/cancel"

ECHO_PROGRAM = """\
import sys

first = input("first? ")
print("got", first)
second = input("second? ")
print("got", second)
rest = sys.stdin.read()
print("rest has", len(rest.splitlines()), "lines")
"""

LOOP_PROGRAM = """\
import time

i = 0
while True:
    print("tick", i, flush=True)
    i += 1
    time.sleep(0.2)
"""


def require(server: LabServer, *paths: str) -> None:
    missing = [p for p in paths if p not in server.paths]
    if missing:
        pytest.skip(f"the server's OpenAPI document does not list {', '.join(missing)} yet")


def test_interactive_stdin_while_running(page: Page, lab_server: LabServer) -> None:
    require(lab_server, STREAM)
    ui = LabUI(page)
    ui.create_project("echo-live", "python")
    editor = ui.new_file("echo-live", "main.py")
    ui.write(editor, ECHO_PROGRAM)
    panel = ui.run_from_toolbar(editor)
    out = panel.locator(".muscode-RunPanel-output")
    line = panel.locator(".muscode-RunPanel-stdin")
    expect(out).to_contain_text("first?", timeout=30_000)
    expect(panel.locator(".muscode-RunPanel-phase")).to_contain_text("Running")
    line.fill("one")
    line.press("Enter")
    # input() flushes what was printed before it asks again
    expect(out).to_contain_text("got one")
    expect(out).to_contain_text("second?")
    line.fill("two")
    panel.locator(".muscode-RunPanel-send").click()
    line.fill("three")
    line.press("Enter")
    shot(page, "11-interactive-stdin")
    expect(panel.locator(".muscode-RunPanel-phase")).to_contain_text("Running")
    panel.locator(".muscode-RunPanel-eof").click()
    assert ui.wait_done(panel) == "Finished · exit 0"
    stdout = ui.output(panel, "stdout")
    assert "got two" in stdout
    assert "rest has 1 lines" in stdout
    # what was typed is echoed in the output, apart from what the program printed
    assert ui.output(panel, "stdin").split() == ["one", "two", "three"]
    expect(panel.locator(".muscode-RunPanel-send")).to_be_disabled()
    shot(page, "12-interactive-done")


def test_output_printed_before_a_blocking_read_shows_at_once(
    page: Page, lab_server: LabServer
) -> None:
    require(lab_server, STREAM)
    ui = LabUI(page)
    ui.create_project("buffered", "python")
    editor = ui.new_file("buffered", "main.py")
    ui.write(editor, 'import sys\nprint("ready")\nsys.stdin.read()\n')
    panel = ui.run_from_toolbar(editor)
    try:
        expect(panel.locator(".muscode-RunPanel-output")).to_contain_text("ready", timeout=4_000)
    finally:
        panel.locator(".muscode-RunPanel-stop").click()
        ui.wait_done(panel)


def test_stop_an_infinite_loop(page: Page, lab_server: LabServer) -> None:
    require(lab_server, STREAM)
    ui = LabUI(page)
    ui.create_project("forever", "python")
    editor = ui.new_file("forever", "main.py")
    ui.write(editor, LOOP_PROGRAM)
    panel = ui.run_from_toolbar(editor)
    out = panel.locator(".muscode-RunPanel-output")
    expect(out).to_contain_text("tick 3", timeout=30_000)
    stop = panel.locator(".muscode-RunPanel-stop")
    expect(stop).to_be_enabled()
    shot(page, "13-running-loop")
    stop.click()
    assert ui.wait_done(panel) == "Stopped"
    run = lab_server.api("GET", "executions", expect=200)[0]
    assert run["verdict"] == "cancelled"
    shot(page, "14-stopped")


def test_stop_without_live_channel_uses_cancel(page: Page, lab_server: LabServer) -> None:
    require(lab_server, CANCEL)
    # A page that does not see the live channel still stops a run through
    # POST /executions/{id}/cancel (the run is followed by polling).
    page.context.route(
        re.compile(r".*/api/muscode/v1/openapi\.yaml$"),
        lambda route: _without(route, STREAM),
    )
    page.reload()
    page.wait_for_selector('[data-id="muscode-sidepanel"]', timeout=60_000)
    ui = LabUI(page)
    ui.create_project("forever-poll", "python")
    editor = ui.new_file("forever-poll", "main.py")
    ui.write(editor, LOOP_PROGRAM)
    panel = ui.run_from_toolbar(editor)
    stop = panel.locator(".muscode-RunPanel-stop")
    expect(stop).to_be_enabled(timeout=30_000)
    stop.click()
    assert ui.wait_done(panel) == "Stopped"


def test_my_classes_and_their_assignments_state(page: Page, lab_server: LabServer) -> None:
    require(lab_server, "/classes", "/classes/{class_id}/members")
    klass = lab_server.api(
        "POST", "classes", {"slug": "cs50", "name": "Intro to CS", "term": "Fall"}, expect=201
    )
    reply = lab_server.request(
        "POST",
        f"api/muscode/v1/classes/{klass['id']}/members",
        {"members": [{"name": "student", "role": "ta"}]},
    )
    assert reply.status in (200, 201), reply
    ui = LabUI(page)
    panel = ui.open_panel()
    # the class was made after the page loaded: refresh finds it
    panel.get_by_role("button", name="Refresh the classes").click()
    toggle = panel.locator('.muscode-Class[data-class="cs50"] .muscode-Class-toggle')
    expect(toggle).to_contain_text("Intro to CS")
    expect(toggle).to_contain_text("Fall")
    expect(toggle).to_contain_text("TA")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    row = panel.locator('.muscode-Class[data-class="cs50"]')
    if lab_server.has("/classes/{class_id}/assignments"):
        expect(row).to_contain_text("No assignments yet.")
    else:
        expect(row).to_contain_text("Assignments are not available on this MUSCode server yet.")
    shot(page, "16-classes")


def _without(route: object, path: str) -> None:
    import yaml

    response = route.fetch()  # type: ignore[attr-defined]
    doc = yaml.safe_load(response.text())
    doc["paths"].pop(path, None)
    route.fulfill(response=response, body=yaml.safe_dump(doc))  # type: ignore[attr-defined]

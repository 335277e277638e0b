"""The staff's tools in JupyterLab: a submission opened exactly as graded, classes made,
renamed and archived, roles changed in place, who has not submitted, and the
assignment editor's output comparison, reference solution, its check, the regrade it
offers and per-student extensions.

The page of the lab server's own user is an admin (the single user of an embedded
server is), who becomes the instructor of each class made here.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest
from conftest import LabServer, require_playwright

require_playwright()

from labui import LabUI, shot  # noqa: E402
from playwright.sync_api import Page, expect  # noqa: E402
from test_assignments import (  # noqa: E402
    HALF_RIGHT,
    RIGHT,
    make_assignment,
    make_class,
    open_class,
    submit_as,
    view,
)

pytestmark = pytest.mark.timeout(300)

NEEDED = (
    "/submissions/{submission_id}/files",
    "/assignments/{assignment_id}/verify",
    "/assignments/{assignment_id}/extensions/{student}",
    "/assignments/{assignment_id}/missing",
    "/classes/{class_id}/members/{name}",
)


@pytest.fixture(autouse=True)
def _needs_staff_endpoints(lab_server: LabServer) -> None:
    missing = [p for p in NEEDED if p not in lab_server.paths]
    assert not missing, f"the server's OpenAPI document does not list {missing}"


def edit_as(server: LabServer, name: str, project_id: str, path: str, content: str) -> None:
    """``name`` saves ``content`` as ``path`` of their project."""
    files = server.api_as(name, "GET", f"projects/{project_id}/files").body
    meta = next(f for f in files if f["path"] == path)
    reply = server.api_as(
        name,
        "PUT",
        f"projects/{project_id}/files/{meta['id']}",
        {"content": content, "version": meta["version"]},
    )
    assert reply.status == 200, reply


def wait_for(what: Any, timeout: float = 120) -> Any:
    """Call ``what`` until it returns something true (bounded)."""
    end = time.monotonic() + timeout
    while True:
        value = what()
        if value or time.monotonic() > end:
            return value
        time.sleep(0.5)


def test_open_shows_the_graded_snapshot_read_only_and_who_has_not_submitted(
    page: Page, lab_server: LabServer
) -> None:
    klass = make_class(lab_server, {"student": "instructor", "mia": "student", "ned": "student"})
    a = make_assignment(lab_server, klass["id"])
    sub = submit_as(lab_server, "mia", a["id"], RIGHT)
    # After submitting, she goes on editing her project.
    edit_as(lab_server, "mia", sub["project_id"], "main.py", "print('changed later')\n")

    ui = LabUI(page)
    open_class(ui, klass["slug"]).get_by_role("button", name="Submissions of Shout").click()
    subs = view(page, f"muscode-submissions-{a['id']}")
    expect(subs.locator(".muscode-View-header")).to_contain_text("1 submission ·")
    table = subs.locator(".muscode-Submissions-table")
    # ned has not submitted: he has a row all the same
    ned = table.locator('tr[data-student="ned"]')
    expect(ned).to_have_attribute("data-status", "missing")
    expect(ned).to_contain_text("not submitted")

    mia = table.locator('tr[data-student="mia"]')
    mia.get_by_role("button", name="Open attempt 1 of mia as graded (read-only)").click()
    expect(ui.tab("mia — attempt 1")).to_be_visible()
    snapshot = view(page, f"muscode-snapshot-{sub['id']}")
    file = snapshot.locator('.muscode-Snapshot-file[data-path="main.py"]')
    code = file.locator(".cm-content")
    expect(code).to_contain_text("print(input().upper())")
    expect(code).not_to_contain_text("changed later")
    expect(code).to_have_attribute("aria-readonly", "true")
    code.click()
    page.keyboard.type("# mine now")
    expect(code).not_to_contain_text("# mine now")
    shot(page, "31-submission-snapshot")

    # The server's snapshot is what the page showed.
    files = lab_server.api("GET", f"submissions/{sub['id']}/files", expect=200)
    assert [f["content"] for f in files if f["path"] == "main.py"] == [RIGHT]


def test_instructor_makes_renames_and_archives_a_class(page: Page, lab_server: LabServer) -> None:
    ui = LabUI(page)
    panel = ui.open_panel()
    slug = f"algo-{secrets.token_hex(3)}"

    # A slug the server would refuse is named before anything is sent.
    panel.get_by_role("button", name="New class").click()
    dialog = ui.dialog()
    dialog.get_by_label("Title").fill("Algorithms")
    expect(dialog.get_by_label("Short name (slug; cannot change later)")).to_have_value(
        "algorithms"
    )
    dialog.get_by_label("Short name (slug; cannot change later)").fill("Bad Slug!")
    dialog.get_by_role("button", name="Create class").click()
    expect(panel.locator(".muscode-ClassesView > .muscode-Error")).to_contain_text(
        'The short name "Bad Slug!" may have only lowercase letters'
    )

    panel.get_by_role("button", name="New class").click()
    dialog = ui.dialog()
    dialog.get_by_label("Title").fill("Algorithms")
    dialog.get_by_label("Short name (slug; cannot change later)").fill(slug)
    dialog.get_by_label("Term (optional)").fill("Fall 2026")
    dialog.get_by_role("button", name="Create class").click()
    row = panel.locator(f'.muscode-Class[data-class="{slug}"]')
    expect(row.locator(".muscode-Class-toggle")).to_contain_text("Algorithms")
    expect(row.locator(".muscode-Class-toggle")).to_contain_text("Fall 2026")
    expect(row.locator(".muscode-Class-toggle")).to_contain_text("instructor")
    (made,) = [c for c in lab_server.api("GET", "classes", expect=200) if c["slug"] == slug]
    assert made["name"] == "Algorithms" and made["term"] == "Fall 2026"
    shot(page, "32-new-class")

    # Rename it and change its term.
    expect(row.locator(".muscode-Class-toggle")).to_have_attribute("aria-expanded", "true")
    row.get_by_role("button", name="Edit the class Algorithms").click()
    dialog = ui.dialog()
    expect(dialog.get_by_label("Title")).to_have_value("Algorithms")
    dialog.get_by_label("Title").fill("Algorithms II")
    dialog.get_by_label("Term (optional)").fill("Spring 2027")
    dialog.get_by_role("button", name="Save").click()
    expect(row.locator(".muscode-Class-toggle")).to_contain_text("Algorithms II")
    expect(row.locator(".muscode-Class-toggle")).to_contain_text("Spring 2027")
    changed = lab_server.api("GET", f"classes/{made['id']}", expect=200)
    assert changed["name"] == "Algorithms II" and changed["term"] == "Spring 2027"

    # Archive it: asked first; Cancel keeps it.
    row.get_by_role("button", name="Archive the class Algorithms II").click()
    ui.dialog().get_by_role("button", name="Cancel").click()
    expect(row).to_be_visible()
    assert lab_server.api("GET", f"classes/{made['id']}", expect=200)["archived"] is False
    row.get_by_role("button", name="Archive the class Algorithms II").click()
    dialog = ui.dialog()
    expect(dialog).to_contain_text("takes no new submissions")
    dialog.get_by_role("button", name="Archive").click()
    expect(row).to_have_count(0)
    expect(panel.locator(".muscode-ClassesView > .muscode-Note")).to_contain_text(
        "Archived the class Algorithms II"
    )
    assert lab_server.api("GET", f"classes/{made['id']}", expect=200)["archived"] is True


def test_roles_change_in_place(page: Page, lab_server: LabServer) -> None:
    klass = make_class(lab_server, {"student": "instructor", "olga": "student"})
    ui = LabUI(page)
    open_class(ui, klass["slug"]).get_by_role("button", name="Roster").click()
    roster = view(page, f"muscode-roster-{klass['id']}")
    role = roster.get_by_label("Role of olga")
    expect(role).to_have_value("student")
    role.select_option("ta")
    expect(roster.locator(".muscode-Note")).to_contain_text("olga is now TA.")
    members = {
        m["name"]: m["role"] for m in lab_server.api("GET", f"classes/{klass['id']}/members")
    }
    assert members["olga"] == "ta"


def test_editor_compares_checks_the_reference_offers_a_regrade_and_extends(
    page: Page, lab_server: LabServer
) -> None:
    klass = make_class(lab_server, {"student": "instructor", "pia": "student", "quin": "student"})
    a = make_assignment(lab_server, klass["id"], published=False)
    ui = LabUI(page)
    row = open_class(ui, klass["slug"])
    row.get_by_role("button", name="Edit Shout").click()
    editor = view(page, f"muscode-editor-{klass['id']}-{a['id']}")
    tests = editor.locator(".muscode-Editor-test")
    expect(tests).to_have_count(2)
    expect(editor.locator(".muscode-Editor-tests legend")).to_contain_text(
        "2 tests, 3 points in all"
    )
    # The default comparison is today's rule; numbers take a tolerance.
    compare = tests.nth(0).get_by_label("Output comparison")
    expect(compare).to_have_value("trailing_whitespace")
    compare.select_option("numbers")
    tests.nth(0).get_by_label("Tolerance (empty: 1e-6)").fill("0.01")
    tests.nth(1).get_by_label("Output comparison").select_option("exact")

    # Without a reference solution there is nothing to check against.
    verify = editor.get_by_role("button", name="Check tests against the reference")
    expect(verify).to_be_disabled()
    editor.get_by_role("button", name="Add a reference file").click()
    expect(editor.get_by_label("Reference path")).to_have_value("main.py")
    editor.get_by_label("Reference content").fill(HALF_RIGHT)
    verify.click()
    result = editor.locator(".muscode-Verify")
    expect(result).to_have_attribute("data-state", "failed", timeout=90_000)
    expect(result.locator('li[data-test="already loud"]')).to_have_attribute("data-passed", "true")
    expect(result.locator('li[data-test="quiet"]')).to_have_attribute("data-passed", "false")
    expect(result).to_contain_text("1 of 2 tests pass")

    # Publishing before the tests passed on the reference asks first.
    editor.get_by_label("Published (students see it)").check()
    editor.get_by_role("button", name="Save", exact=True).click()
    dialog = ui.dialog()
    expect(dialog).to_contain_text("have not passed on the reference solution")
    dialog.get_by_role("button", name="Cancel").click()
    assert lab_server.api("GET", f"assignments/{a['id']}", expect=200)["published"] is False

    editor.get_by_label("Reference content").fill(RIGHT)
    verify.click()
    expect(result).to_have_attribute("data-state", "passed", timeout=90_000)
    expect(result).to_contain_text("passes every test (2 tests)")
    shot(page, "33-editor-verify")
    editor.get_by_role("button", name="Save", exact=True).click()
    expect(editor.locator("form .muscode-Note")).to_contain_text("Saved and published")
    saved = lab_server.api("GET", f"assignments/{a['id']}", expect=200)
    assert saved["published"] is True
    assert [(t["compare"], t.get("tolerance")) for t in saved["tests"]] == [
        ("numbers", 0.01),
        ("exact", None),
    ]
    assert saved["reference_files"] == [{"path": "main.py", "content": RIGHT}]
    assert saved["verification"]["current"] and saved["verification"]["passed"]
    # Students never see the reference solution.
    as_student = lab_server.api_as("pia", "GET", f"assignments/{a['id']}")
    assert as_student.status == 200 and "reference_files" not in as_student.body

    # The tests change after a submission: a regrade is offered, and done.
    sub = submit_as(lab_server, "pia", a["id"], RIGHT)
    assert sub["score"] == 3
    tests.nth(1).get_by_label("Points").fill("4")
    editor.get_by_role("button", name="Save", exact=True).click()
    dialog = ui.dialog()
    expect(dialog).to_contain_text("1 submission was graded against the old ones")
    dialog.get_by_role("button", name="Regrade").click()
    expect(editor.locator("form .muscode-Note")).to_contain_text("Regrading 1 submission")

    def regraded() -> bool:
        (s,) = lab_server.api("GET", f"assignments/{a['id']}/submissions?student=pia")
        return bool(s["status"] == "graded" and s["max_score"] == 5 and s["score"] == 5)

    assert wait_for(regraded), lab_server.api("GET", f"assignments/{a['id']}/submissions")

    # A student gets their own due date, and loses it again.
    ext = editor.locator(".muscode-Extensions")
    expect(ext).to_contain_text("No student has an extension.")
    ext.get_by_label("Student").fill("quin")
    ext.get_by_label("Their due date (your local time)").fill("2031-01-01T10:00")
    ext.get_by_role("button", name="Give extension").click()
    expect(ext.locator('tr[data-student="quin"]')).to_be_visible()
    (given,) = lab_server.api("GET", f"assignments/{a['id']}/extensions", expect=200)
    assert given["student"] == "quin" and given["due_at"].startswith("2031-01-01")
    # someone who is not a student of the class: the server's sentence
    ext.get_by_label("Student").fill("nobody-here")
    ext.get_by_role("button", name="Give extension").click()
    expect(ext.locator(".muscode-Error")).to_be_visible()
    ext.get_by_role("button", name="Withdraw the extension of quin").click()
    expect(ext.locator('tr[data-student="quin"]')).to_have_count(0)
    assert lab_server.api("GET", f"assignments/{a['id']}/extensions", expect=200) == []

    # The tab follows the saved title.
    editor.get_by_label("Title", exact=True).fill("Shout louder")
    editor.get_by_role("button", name="Save", exact=True).click()
    expect(ui.tab("Edit: Shout louder")).to_be_visible()

"""Notebook (nbgrader) assignments in JupyterLab: an instructor imports an nbgrader
source notebook in the editor and publishes it; a student submits; the staff score the
manually graded cell in the submissions view (the server's refusal of a score out of
range shown, the total following); the student reads the result cell by cell.

The page of the lab server's own user is an admin, the instructor of the class; the
student's page carries a bearer token of a plain student.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import LabServer, open_lab, require_playwright

require_playwright()

from labui import LabUI, shot  # noqa: E402
from playwright.sync_api import Page, expect  # noqa: E402
from test_assignments import make_class, open_class, view  # noqa: E402

pytestmark = pytest.mark.timeout(600)

DATA = Path(__file__).resolve().parents[1] / "notebooks" / "data"
SOURCE = DATA / "source" / "squares.ipynb"
#: Fails test_squares (visible) and test_squares_hidden: 3 of the 7 autograded points.
WRONG = DATA / "submitted" / "wrong.ipynb"
AUTOGRADED = {"test_squares": 1, "test_squares_hidden": 2, "test_mean": 1, "test_partial": 2}
AUTOGRADED |= {"test_quiet": 1}
MANUAL = {"explain": 2, "describe": 1, "task_style": 1}
#: Grading a notebook starts IPython in the sandbox: slow on a busy machine.
GRADING_MS = 180_000


def write_notebook(server: LabServer, name: str, assignment_id: str, content: str) -> None:
    """``name`` starts the assignment and saves ``content`` as its notebook."""
    project = server.api_as(name, "POST", f"assignments/{assignment_id}/start")
    assert project.status in (200, 201), project
    meta = next(f for f in project.body["files"] if f["path"] == SOURCE.name)
    reply = server.api_as(
        name,
        "PUT",
        f"projects/{project.body['id']}/files/{meta['id']}",
        {"content": content, "version": meta["version"]},
    )
    assert reply.status == 200, reply


def test_import_submit_and_grade_a_notebook_by_hand(
    page: Page, lab_server: LabServer, browser: object
) -> None:
    klass = make_class(lab_server, {"student": "instructor", "nell": "student"})
    ui = LabUI(page)
    row = open_class(ui, klass["slug"])

    # The instructor imports the source notebook in the editor and publishes it.
    row.get_by_role("button", name="New assignment").click()
    editor = view(page, f"muscode-editor-{klass['id']}-new")
    editor.get_by_label("Title").fill("Squares")
    editor.get_by_label("Graded by").select_option("nbgrader")
    # a notebook's tests are its graded cells: no test table, no reference solution
    expect(editor.locator(".muscode-Editor-tests")).to_have_count(0)
    expect(editor.locator(".muscode-Editor-reference")).to_have_count(0)
    editor.get_by_label("Source notebooks (nbgrader; each becomes a starter file)").set_input_files(
        str(SOURCE)
    )
    expect(editor.locator(".muscode-Editor-filePath")).to_have_value(SOURCE.name)
    editor.get_by_label("Published (students see it)").check()
    editor.get_by_role("button", name="Create").click()
    expect(editor.locator(".muscode-Note")).to_contain_text(
        'Saved and published: students see "Squares"', timeout=60_000
    )
    cells = editor.locator(".muscode-Editor-cells")
    expect(cells).to_contain_text("11 points in all")
    for name, points in AUTOGRADED.items():
        expect(cells.locator(f'tr[data-cell="{name}"][data-kind="auto"]')).to_contain_text(
            str(points)
        )
    expect(cells.locator('tr[data-cell="test_squares_hidden"]')).to_contain_text("hidden")
    for name, points in MANUAL.items():
        expect(cells.locator(f'tr[data-cell="{name}"][data-kind="manual"]')).to_contain_text(
            str(points)
        )
    expect(editor.get_by_label("Graded by")).to_be_disabled()
    shot(page, "50-notebook-editor")

    (saved,) = lab_server.api("GET", f"classes/{klass['id']}/assignments", expect=200)
    assert saved["format"] == "nbgrader" and saved["published"] is True
    assert saved["max_score"] == 11
    assert saved["starter_files"] == [{"path": SOURCE.name, "content": SOURCE.read_text()}]
    assert [m["name"] for m in saved["manual"]] == list(MANUAL)
    aid = saved["id"]

    # The student's notebook (written through the API), submitted from her page.
    write_notebook(lab_server, "nell", aid, WRONG.read_text())
    context, student = open_lab(browser, lab_server, "nell", "nb-nell")
    try:
        sui = LabUI(student)
        srow = open_class(sui, klass["slug"]).locator(
            '.muscode-Assignment[data-assignment="Squares"]'
        )
        expect(srow).to_have_attribute("data-status", "started")
        srow.locator(".muscode-Assignment-open").click()
        mine = view(student, f"muscode-assignment-{aid}")
        # A notebook's tests are its graded cells, and the facts line says so.
        expect(mine.locator(".muscode-Facts")).to_contain_text("Graded cells")
        expect(mine.locator(".muscode-Assignment-tests")).to_have_text(
            "5 test cells (4 visible, 1 hidden), 3 graded by your teacher; 11 points"
        )
        # Check runs her notebook with the visible test cells only.
        mine.locator(".muscode-Assignment-check").click()
        check = mine.locator(".muscode-Check")
        expect(check).to_contain_text(
            "Check: 3 of 4 visible test cells ran without errors", timeout=GRADING_MS
        )
        expect(check.locator('tr[data-test="test_squares"]')).to_contain_text(
            "Failed: AssertionError"
        )
        expect(check.locator('tr[data-test="test_mean"]')).to_contain_text("Passed")
        expect(check.locator('tr[data-test="test_squares_hidden"]')).to_have_count(0)
        mine.locator(".muscode-Assignment-submit").click()
        sui.dialog().get_by_role("button", name="Submit").click()
        latest = mine.locator(".muscode-Submissions-mine .muscode-Submission")
        expect(latest).to_have_attribute("data-status", "graded", timeout=GRADING_MS)
        expect(latest.locator(".muscode-Submission-score")).to_contain_text(
            "Attempt 1: score 3 / 11"
        )

        # The staff score the manual cells: out of range first (the server says why).
        row.get_by_role("button", name="Submissions of Squares").click()
        subs = view(page, f"muscode-submissions-{aid}")
        nell = subs.locator('.muscode-Submissions-table tr[data-student="nell"]')
        expect(nell.locator(".muscode-Submissions-score")).to_contain_text("3 / 11")
        nell.get_by_role("button", name="Tests of nell, attempt 1").click()
        grading = subs.get_by_role("region", name="Manually graded cells of nell")
        explain = grading.get_by_label("Points for explain (0 to 2)")
        expect(explain).to_have_value("")
        grading.locator('tr[data-cell="explain"] summary').click()
        expect(grading.locator('tr[data-cell="explain"] pre')).to_contain_text("Because")
        explain.fill("3")
        grading.get_by_role("button", name="Save scores").click()
        expect(grading.locator(".muscode-Error")).to_contain_text("between 0 and 2")
        expect(nell.locator(".muscode-Submissions-score")).to_contain_text("3 / 11")
        explain.fill("2")
        grading.get_by_label("Points for describe (0 to 1)").fill("0.5")
        grading.get_by_role("button", name="Save scores").click()
        expect(grading.locator(".muscode-Note")).to_contain_text("total 5.5 / 11")
        expect(grading.locator(".muscode-Error")).to_have_count(0)
        expect(nell.locator(".muscode-Submissions-score")).to_contain_text("5.5 / 11")
        shot(page, "51-notebook-manual-grading")
        (sub,) = lab_server.api("GET", f"assignments/{aid}/submissions?student=nell")
        assert sub["score"] == 5.5
        scored = {m["name"]: (m["score"], m["scored_by_staff"]) for m in sub["manual"]}
        assert scored == {
            "explain": (2, True),
            "describe": (0.5, True),
            "task_style": (None, False),
        }

        # The student reads her result cell by cell; hidden ones as name, points, failed.
        mine.locator(".muscode-Assignment-refresh").click()
        expect(latest.locator(".muscode-Submission-score")).to_contain_text(
            "Attempt 1: score 5.5 / 11"
        )
        # Refresh drops the note of the first grade and updates the class list too.
        expect(mine.locator(".muscode-Note")).to_have_count(0)
        expect(student.locator(".muscode-Assignment-score").first).to_have_text("score 5.5 / 11")
        tests = latest.locator(".muscode-Submission-tests")
        for name, points in AUTOGRADED.items():
            expect(tests.locator(f'tr[data-test="{name}"]')).to_contain_text(f"/ {points}")
        visible = tests.locator('tr[data-test="test_squares"]')
        expect(visible).to_contain_text("Failed")
        visible.locator("summary").click()
        expect(visible).to_contain_text("AssertionError")
        hidden = tests.locator('tr[data-test="test_squares_hidden"]')
        expect(hidden).to_have_attribute("data-hidden", "true")
        expect(hidden.locator(".muscode-Submission-result")).to_have_text("Failed")
        expect(hidden).to_contain_text("0 / 2")
        expect(hidden.locator("details")).to_have_count(0)
        expect(tests.locator('tr[data-test="test_mean"]')).to_contain_text("Passed")
        manual = latest.locator(".muscode-Submission-manual")
        expect(manual.locator('tr[data-cell="explain"]')).to_contain_text("graded by your teacher")
        expect(manual.locator('tr[data-cell="explain"]')).to_contain_text("2 / 2")
        expect(manual.locator('tr[data-cell="describe"]')).to_contain_text("0.5 / 1")
        expect(manual.locator('tr[data-cell="task_style"]')).to_contain_text("not graded yet")
        shot(student, "52-notebook-student-results")
        # Nothing of the source's solutions or hidden tests reached her page.
        text = student.content()
        for secret in ("BEGIN SOLUTION", "HIDDEN TESTS", "squares(10)"):
            assert secret not in text, secret
    finally:
        context.close()

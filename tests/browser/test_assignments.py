"""Assignments in JupyterLab: a student starts, checks and submits one; an instructor
writes one in the editor, imports a roster, reads the submissions, overrides a score,
downloads the grades and regrades.

The page of the lab server's own user is an admin (the single user of an embedded
server is); the student's page carries a bearer token of ``alice``, a plain student, so
that what the server hides from students is hidden from her here too.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import LabServer, require_playwright

require_playwright()

from labui import LabUI, shot  # noqa: E402
from playwright.sync_api import Locator, Page, WebSocketRoute, expect  # noqa: E402

pytestmark = pytest.mark.timeout(300)

NEEDED = (
    "/classes/{class_id}/assignments",
    "/assignments/{assignment_id}/start",
    "/assignments/{assignment_id}/check",
    "/assignments/{assignment_id}/submissions",
    "/assignments/{assignment_id}/regrade",
    "/assignments/{assignment_id}/grades.csv",
    "/classes/{class_id}/grades.csv",
    "/submissions/{submission_id}",
)

DESCRIPTION = """\
# Shout

Read a line and print it **in capitals**: `hello` becomes `HELLO`.

<script>window.__muscodeXss = 1</script>
"""

#: Passes the visible test (already in capitals) and fails the hidden one.
HALF_RIGHT = "print(input())\n"
RIGHT = "print(input().upper())\n"


@pytest.fixture(autouse=True)
def _needs_assignments(lab_server: LabServer) -> None:
    missing = [p for p in NEEDED if p not in lab_server.paths]
    assert not missing, f"the server's OpenAPI document does not list {missing}"


def make_class(server: LabServer, members: dict[str, str]) -> dict[str, Any]:
    slug = f"c{secrets.token_hex(3)}"
    klass = server.api("POST", "classes", {"slug": slug, "name": f"Class {slug}"}, expect=201)
    server.api(
        "POST",
        f"classes/{klass['id']}/members",
        {"members": [{"name": n, "role": r} for n, r in members.items()]},
        expect=200,
    )
    return dict(klass)


def make_assignment(server: LabServer, class_id: str, **extra: Any) -> dict[str, Any]:
    body = {
        "title": "Shout",
        "description": DESCRIPTION,
        "language": "python",
        "starter_files": [{"path": "main.py", "content": "# read a line, print it in capitals\n"}],
        "tests": [
            {
                "name": "already loud",
                "stdin": "HEY\n",
                "expected_output": "HEY\n",
                "points": 1,
                "hidden": False,
            },
            {
                "name": "quiet",
                "stdin": "psst\n",
                "expected_output": "PSST\n",
                "points": 2,
                "hidden": True,
            },
        ],
        "max_attempts": 3,
        "published": True,
        **extra,
    }
    return dict(server.api("POST", f"classes/{class_id}/assignments", body, expect=201))


def submit_as(server: LabServer, name: str, assignment_id: str, code: str) -> dict[str, Any]:
    """``name`` starts the assignment, writes main.py and submits (graded before it returns)."""
    project = server.api_as(name, "POST", f"assignments/{assignment_id}/start")
    assert project.status in (200, 201), project
    files = project.body["files"]
    main = next(f for f in files if f["path"] == "main.py")
    reply = server.api_as(
        name,
        "PUT",
        f"projects/{project.body['id']}/files/{main['id']}",
        {"content": code, "version": main["version"]},
    )
    assert reply.status == 200, reply
    sub = server.api_as(
        name,
        "POST",
        f"assignments/{assignment_id}/submissions?wait=true",
        {"project_id": project.body["id"]},
    )
    assert sub.status == 200 and sub.body["status"] == "graded", sub
    return dict(sub.body)


def open_class(ui: LabUI, slug: str) -> Locator:
    panel = ui.open_panel()
    panel.get_by_role("button", name="Refresh the classes").click()
    row = panel.locator(f'.muscode-Class[data-class="{slug}"]')
    toggle = row.locator(".muscode-Class-toggle")
    expect(toggle).to_be_visible()
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    return row


def view(page: Page, widget_id: str) -> Locator:
    v = page.locator(f"#{widget_id}")
    expect(v).to_be_visible()
    return v


def student_flow(page: Page, lab_server: LabServer, who: str) -> tuple[Locator, dict[str, Any]]:
    """``who`` opens the assignment, starts it and writes HALF_RIGHT into main.py."""
    klass = make_class(lab_server, {who: "student"})
    a = make_assignment(lab_server, klass["id"])
    ui = LabUI(page)
    expect(ui.panel.locator(".muscode-Header-status")).to_contain_text(f"Signed in as {who}")
    row = open_class(ui, klass["slug"]).locator('.muscode-Assignment[data-assignment="Shout"]')
    expect(row).to_have_attribute("data-status", "not_started")
    expect(row).to_contain_text("Not started")
    row.locator(".muscode-Assignment-open").click()
    v = view(page, f"muscode-assignment-{a['id']}")
    # The description is Markdown, rendered and sanitized.
    expect(v.locator(".muscode-Markdown").get_by_role("heading", name="Shout")).to_be_visible()
    expect(v.locator(".muscode-Markdown strong")).to_have_text("in capitals")
    expect(v.locator(".muscode-Markdown script")).to_have_count(0)
    expect(v.locator(".muscode-Assignment-attempts")).to_have_text("0 of 3 (3 left)")
    expect(v.locator(".muscode-Assignment-check")).to_be_disabled()
    expect(v.locator(".muscode-Assignment-submit")).to_be_disabled()
    shot(page, "18-assignment-student")

    v.locator(".muscode-Assignment-start").click()
    item = ui.panel.locator(".muscode-Files .jp-DirListing-item", has_text="main.py")
    expect(item).to_be_visible()
    # the project made from the starter files is in my projects too
    expect(ui.project_row("Shout")).to_be_visible()
    expect(row).to_have_attribute("data-status", "started")
    item.dblclick()
    editor = ui.editor("main.py")
    ui.write(editor, HALF_RIGHT)
    ui.save(editor, "main.py")
    ui.wait_saved("main.py")
    ui.tab("Shout").click()
    return v, a


@pytest.mark.as_user("alice")
def test_student_checks_submits_and_sees_hidden_tests_as_pass_fail(
    page: Page, lab_server: LabServer
) -> None:
    requests: list[str] = []
    page.on("request", lambda r: requests.append(f"{r.method} {r.url.split('?')[0]}"))
    # grades come as notices on GET /events, whose websocket is open
    expect(LabUI(page).open_panel()).to_have_attribute("data-events", "live")
    v, a = student_flow(page, lab_server, "alice")

    # Check runs the visible tests only, and does not count as an attempt.
    v.locator(".muscode-Assignment-check").click()
    check = v.locator(".muscode-Check")
    expect(check).to_contain_text("1 of 1 visible tests pass", timeout=60_000)
    expect(check.locator('tr[data-test="already loud"]')).to_contain_text("Accepted")
    expect(check.locator('tr[data-test="quiet"]')).to_have_count(0)
    shot(page, "19-assignment-check")

    v.locator(".muscode-Assignment-submit").click()
    dialog = LabUI(page).dialog()
    expect(dialog).to_contain_text("You have 3 attempts left")
    dialog.get_by_role("button", name="Submit").click()
    latest = v.locator(".muscode-Submissions-mine .muscode-Submission")
    expect(latest).to_have_attribute("data-status", "graded", timeout=60_000)
    expect(latest.locator(".muscode-Submission-score")).to_contain_text("Attempt 1: score 1 / 3")
    expect(v.locator(".muscode-Assignment-best")).to_have_text("1 / 3")
    expect(v.locator(".muscode-Assignment-attempts")).to_have_text("1 of 3 (2 left)")
    visible = latest.locator('tr[data-test="already loud"]')
    expect(visible).to_contain_text("Passed")
    expect(visible).to_contain_text("1 / 1")
    hidden = latest.locator('tr[data-test="quiet"]')
    expect(hidden).to_have_attribute("data-hidden", "true")
    expect(hidden.locator(".muscode-Submission-result")).to_have_text("Failed")
    expect(hidden).to_contain_text("0 / 2")
    # nothing of the hidden test's run: no verdict, no output, no expected text
    expect(hidden).not_to_contain_text("Wrong answer")
    expect(hidden.locator("details")).to_have_count(0)
    expect(latest).not_to_contain_text("PSST")
    shot(page, "20-assignment-submitted")

    # The server hides the same from her.
    mine = lab_server.api_as("alice", "GET", f"assignments/{a['id']}/submissions").body
    assert set(next(t for t in mine[0]["tests"] if t["hidden"])) == {
        "name",
        "hidden",
        "points",
        "points_awarded",
        "passed",
    }
    # The grade came as a notice: the page asked for the submission once when it was
    # made and once when the notice came, and did not poll.
    (sub,) = mine
    polls = [
        r for r in requests if r == f"GET {lab_server.url}api/muscode/v1/submissions/{sub['id']}"
    ]
    assert 1 <= len(polls) <= 2, polls
    row = LabUI(page).panel.locator('.muscode-Assignment[data-assignment="Shout"]')
    expect(row).to_have_attribute("data-status", "submitted")
    expect(row.locator(".muscode-Assignment-score")).to_have_text("score 1 / 3")
    assert page.evaluate("() => window.__muscodeXss === undefined")


@pytest.mark.as_user("bea")
def test_grade_arrives_by_polling_when_the_events_socket_fails(
    page: Page, lab_server: LabServer
) -> None:
    refused: list[str] = []

    def refuse(ws: WebSocketRoute) -> None:
        refused.append(ws.url)
        ws.close(code=1011, reason="events down for this test")

    page.route_web_socket(re.compile(r".*/api/muscode/v1/events.*"), refuse)
    page.reload()
    page.wait_for_selector('[data-id="muscode-sidepanel"]', timeout=60_000)
    v, _ = student_flow(page, lab_server, "bea")
    editor = LabUI(page).editor("main.py")
    LabUI(page).write(editor, RIGHT)
    LabUI(page).save(editor, "main.py")
    LabUI(page).wait_saved("main.py")
    LabUI(page).tab("Shout").click()
    v.locator(".muscode-Assignment-submit").click()
    LabUI(page).dialog().get_by_role("button", name="Submit").click()
    latest = v.locator(".muscode-Submissions-mine .muscode-Submission")
    expect(latest).to_have_attribute("data-status", "graded", timeout=60_000)
    expect(latest.locator(".muscode-Submission-score")).to_contain_text("score 3 / 3")
    expect(latest.locator('tr[data-test="quiet"] .muscode-Submission-result')).to_have_text(
        "Passed"
    )
    assert refused, "the page never tried the events websocket"
    expect(LabUI(page).panel).not_to_have_attribute("data-events", "live")


def test_instructor_writes_an_assignment_in_the_editor(page: Page, lab_server: LabServer) -> None:
    klass = make_class(lab_server, {"student": "instructor"})
    ui = LabUI(page)
    row = open_class(ui, klass["slug"])
    row.get_by_role("button", name="New assignment").click()
    editor = view(page, f"muscode-editor-{klass['id']}-new")
    editor.get_by_label("Title").fill("Sum two numbers")
    editor.get_by_label("Description (Markdown)").fill("Read *a* and *b*, print `a + b`.")
    options = editor.get_by_label("Language").locator("option")
    expect(options).not_to_have_count(0)  # the list comes with the languages, async
    offered = options.evaluate_all("options => options.map(o => o.value)")
    languages = lab_server.api("GET", "languages", expect=200)
    assert sorted(offered) == sorted(lang["id"] for lang in languages if lang["available"])
    editor.get_by_label("Language").select_option("python")
    editor.get_by_label("Due (your local time; empty: none)").fill("2031-06-01T23:59")
    editor.get_by_label("Max attempts (empty: no limit)").fill("0")
    editor.get_by_label("Late submissions").select_option("penalty")
    editor.get_by_label("Penalty per day (%)").fill("25")
    editor.get_by_role("button", name="Add a starter file").click()
    editor.locator(".muscode-Editor-fileContent").fill("a = int(input())\n")
    for _ in range(2):
        editor.get_by_role("button", name="Add a test").click()
    tests = editor.locator(".muscode-Editor-test")
    tests.nth(0).get_by_label("Test name").fill("small")
    tests.nth(0).get_by_label("Input (stdin)").fill("1\n2\n")
    tests.nth(0).get_by_label("Expected output").fill("3\n")
    tests.nth(1).get_by_label("Test name").fill("big")
    tests.nth(1).get_by_label("Input (stdin)").fill("1000000\n2000000\n")
    tests.nth(1).get_by_label("Expected output").fill("3000000\n")
    tests.nth(1).get_by_label("Points").fill("2")
    tests.nth(1).get_by_label("Hidden (students see pass/fail only)").check()
    editor.get_by_label("Published (students see it)").check()
    expect(editor.locator(".muscode-Editor-tests legend")).to_contain_text("3 points in all")

    # A field the form catches before sending.
    editor.get_by_role("button", name="Create").click()
    attempts = editor.get_by_label("Max attempts (empty: no limit)")
    expect(attempts).to_have_attribute("aria-invalid", "true")
    expect(editor.locator(".muscode-Field-problem")).to_contain_text("A whole number, 1 or more")
    attempts.fill("2")
    editor.get_by_role("button", name="Create").click()
    # Published with no reference solution to check the tests against: asked first.
    dialog = ui.dialog()
    expect(dialog).to_contain_text("no reference solution")
    dialog.get_by_role("button", name="Publish anyway").click()
    expect(editor.locator(".muscode-Note")).to_contain_text(
        'Saved and published: students see "Sum two numbers"'
    )
    shot(page, "21-assignment-editor")

    (saved,) = lab_server.api("GET", f"classes/{klass['id']}/assignments", expect=200)
    assert saved["title"] == "Sum two numbers"
    assert saved["description"] == "Read *a* and *b*, print `a + b`."
    assert saved["language"] == "python"
    assert saved["max_attempts"] == 2
    assert saved["late_policy"] == {"mode": "penalty", "penalty_per_day": 25}
    assert saved["published"] is True
    assert saved["starter_files"] == [{"path": "main.py", "content": "a = int(input())\n"}]
    assert [(t["name"], t["points"], t["hidden"]) for t in saved["tests"]] == [
        ("small", 1, False),
        ("big", 2, True),
    ]
    assert saved["tests"][1]["expected_output"] == "3000000\n"
    assert saved["due_at"].startswith("2031-06-0")
    assert saved["max_score"] == 3
    # the panel lists it for the staff, with its tools
    listed = row.locator('.muscode-Assignment[data-assignment="Sum two numbers"]')
    expect(listed.get_by_role("button", name="Edit Sum two numbers")).to_be_visible()

    # Unpublish from the editor; the change reaches the server.
    editor.get_by_label("Published (students see it)").uncheck()
    editor.get_by_role("button", name="Save").click()
    expect(editor.locator(".muscode-Note")).to_contain_text("Saved as a draft")
    assert lab_server.api("GET", f"assignments/{saved['id']}", expect=200)["published"] is False


def test_instructor_imports_a_roster_with_line_errors(page: Page, lab_server: LabServer) -> None:
    klass = make_class(lab_server, {"student": "instructor"})
    ui = LabUI(page)
    open_class(ui, klass["slug"]).get_by_role("button", name="Roster").click()
    roster = view(page, f"muscode-roster-{klass['id']}")
    expect(roster.get_by_label("Role of student")).to_have_value("instructor")
    box = roster.get_by_label("Or paste the CSV here")
    box.fill("name,role\ncarl,student\ndana,boss\nerin,ta\n,student\n")
    roster.get_by_role("button", name="Import", exact=True).click()
    errors = roster.locator(".muscode-Roster-errors li")
    expect(errors.first).to_be_visible()
    lines = [e.get_attribute("data-line") for e in errors.all()]
    assert "3" in lines and "5" in lines, errors.all_inner_texts()
    expect(roster.locator('.muscode-Roster-errors li[data-line="3"]')).to_contain_text("Line 3:")
    # The good lines are applied all the same, and the note says what changed.
    expect(roster.locator(".muscode-Note")).to_contain_text("Imported: 2 added")
    shot(page, "22-roster-import-errors")
    names = {m["name"] for m in lab_server.api("GET", f"classes/{klass['id']}/members")}
    assert {"carl", "erin"} <= names and "dana" not in names

    box.fill("name,role\ncarl,student\ndana,\nerin,ta\n")
    roster.get_by_role("button", name="Import", exact=True).click()
    expect(roster.locator(".muscode-Note")).to_contain_text(
        "Imported: 1 added, 0 changed, 2 unchanged"
    )
    expect(roster.locator(".muscode-Roster-errors")).to_have_count(0)
    expect(roster.get_by_label("Role of dana")).to_have_value("student")
    expect(roster.get_by_label("Role of erin")).to_have_value("ta")

    roster.get_by_label("User name").fill("fay")
    roster.get_by_role("button", name="Add", exact=True).click()
    expect(roster.locator('tr[data-member="fay"]')).to_be_visible()
    roster.get_by_role("button", name="Remove carl").click()
    ui.dialog().get_by_role("button", name="Remove").click()
    expect(roster.locator('tr[data-member="carl"]')).to_have_count(0)
    members = {
        m["name"]: m["role"] for m in lab_server.api("GET", f"classes/{klass['id']}/members")
    }
    assert members == {
        "student": "instructor",
        "dana": "student",
        "erin": "ta",
        "fay": "student",
    }


def read_download(page: Page, button: Locator) -> tuple[str, str]:
    with page.expect_download() as info:
        button.click()
    download = info.value
    path = download.path()
    assert path is not None
    with open(path, encoding="utf-8") as f:
        return download.suggested_filename, f.read()


def test_submissions_table_override_grades_csv_and_regrade(
    page: Page, lab_server: LabServer
) -> None:
    klass = make_class(
        lab_server, {"student": "instructor", "gus": "student", "hal": "student", "ivy": "student"}
    )
    a = make_assignment(lab_server, klass["id"])
    submit_as(lab_server, "gus", a["id"], HALF_RIGHT)
    submit_as(lab_server, "gus", a["id"], RIGHT)
    submit_as(lab_server, "hal", a["id"], "print('no')\n")
    submit_as(lab_server, "ivy", a["id"], RIGHT)

    ui = LabUI(page)
    row = open_class(ui, klass["slug"])
    row.get_by_role("button", name="Submissions of Shout").click()
    subs = view(page, f"muscode-submissions-{a['id']}")
    table = subs.locator(".muscode-Submissions-table")
    gus = table.locator('tr[data-student="gus"]')
    expect(gus).to_contain_text("2 of 2")
    expect(gus.locator(".muscode-Submissions-score")).to_contain_text("3 / 3")
    hal = table.locator('tr[data-student="hal"]')
    expect(hal.locator(".muscode-Submissions-score")).to_contain_text("0 / 3")
    expect(hal).to_contain_text("0/2")

    # Per-test detail: staff see the hidden test's verdict and output.
    hal.get_by_role("button", name="Tests of hal, attempt 1").click()
    detail = table.locator(".muscode-Submissions-detail")
    quiet = detail.locator('tr[data-test="quiet"]')
    expect(quiet).to_contain_text("Failed (Wrong answer)")
    quiet.locator("summary").click()
    # its input first, then what was expected
    expect(quiet.locator(".muscode-TestOutput-stdin")).to_have_text("psst")
    expect(quiet.locator("pre").nth(1)).to_contain_text("PSST")
    shot(page, "23-submissions-table")

    # A student's project opens read-only in JupyterLab's editor.
    gus.get_by_role("button", name="Open the project of gus (read-only)").click()
    code = page.locator(".jp-FileEditor:visible .cm-content").first
    expect(code).to_contain_text("print(input().upper())")
    expect(code).to_have_attribute("aria-readonly", "true")
    code.click()
    page.keyboard.type("# mine now")
    expect(code).not_to_contain_text("# mine now")
    expect(ui.tab("main.py").first).to_be_visible()
    ui.tab("Submissions: Shout").click()

    # Override hal's score with a comment.
    hal.get_by_role("button", name="Override the score of hal").click()
    dialog = ui.dialog()
    dialog.get_by_label("Score (points)").fill("1.5")
    dialog.get_by_label("Comment for the student").fill("Right idea, see the hints.")
    dialog.get_by_role("button", name="Set score").click()
    expect(hal.locator(".muscode-Submissions-score")).to_contain_text("1.5 / 3")
    expect(hal.locator(".muscode-Submissions-score")).to_contain_text("override")
    (hals,) = lab_server.api("GET", f"assignments/{a['id']}/submissions?student=hal")
    assert hals["score"] == 1.5
    assert hals["override"]["comment"] == "Right idea, see the hints."

    # The grades as CSV, for the assignment and for the class.
    name, text = read_download(page, subs.get_by_role("button", name="Download grades (CSV)"))
    assert name == f"grades-{klass['slug']}-shout.csv"
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(text))}
    assert {"gus", "hal", "ivy"} <= set(rows)
    assert float(rows["gus"]["best_score"]) == 3
    assert float(rows["hal"]["latest_score"]) == 1.5

    row.get_by_role("button", name="Grades").click()
    book = view(page, f"muscode-gradebook-{klass['id']}")
    expect(book.locator(".muscode-Gradebook-table")).to_contain_text("ivy")
    name, text = read_download(page, book.get_by_role("button", name="Download grades (CSV)"))
    assert name == f"grades-{klass['slug']}.csv"
    assert "ivy" in text and "Shout" in text
    shot(page, "25-gradebook")

    # Regrade: the progress bar follows the regrade notices to the end.
    ui.tab("Submissions: Shout").click()
    subs.get_by_role("button", name="Regrade all").click()
    ui.dialog().get_by_role("button", name="Regrade").click()
    progress = subs.locator(".muscode-Progress")
    expect(progress).to_have_attribute("data-state", "done", timeout=120_000)
    # every submission (gus submitted twice) was graded again
    expect(progress).to_contain_text("Regraded 4 of 4 submissions.")
    expect(progress.locator("progress")).to_have_attribute("value", "4")
    shot(page, "24-regrade-done")
    grading = lab_server.api("GET", f"assignments/{a['id']}", expect=200).get("grading")
    assert grading is None or grading["pending"] == 0, grading
    # the override survives the regrade
    (hals,) = lab_server.api("GET", f"assignments/{a['id']}/submissions?student=hal")
    assert hals["score"] == 1.5


# -- keyboard, labels, dark theme ------------------------------------------------------

#: The controls of ``root`` that have no accessible name (a screen reader says nothing).
UNNAMED_CONTROLS = """(root) => {
  const text = (s) => (s || '').replace(/\\s+/g, ' ').trim();
  const unnamed = [];
  let seen = 0;
  const controls = root.querySelectorAll(
    'button, input, select, textarea, summary, a[href], [role="button"], [tabindex]'
  );
  for (const el of controls) {
    if (el.offsetParent === null || el.getAttribute('aria-hidden') === 'true') continue;
    seen += 1;
    const labelledBy = (el.getAttribute('aria-labelledby') || '').split(/\\s+/)
      .map((id) => document.getElementById(id)?.textContent).join(' ');
    const byContent = ['BUTTON', 'A', 'SUMMARY'].includes(el.tagName)
      || el.getAttribute('role') === 'button';
    const name = text(el.getAttribute('aria-label')) || text(labelledBy)
      || text([...(el.labels || [])].map((l) => l.textContent).join(' '))
      || (byContent ? text(el.textContent) : '') || text(el.getAttribute('title'));
    if (!name && el.tagName !== 'DIV') unnamed.push(el.outerHTML.slice(0, 160));
  }
  return { seen, unnamed };
}"""

#: Relative luminance of an element's text and of the first background behind it.
CONTRAST = """(el) => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  let bg = el;
  while (bg && rgb(getComputedStyle(bg).backgroundColor)[3] === 0) bg = bg.parentElement;
  return {
    text: lum(rgb(getComputedStyle(el).color)),
    background: lum(rgb(getComputedStyle(bg || document.body).backgroundColor)),
  };
}"""


def assert_named_and_dark(view: Locator) -> None:
    """Every control of ``view`` has a name, and its text is light on dark."""
    controls = view.evaluate(UNNAMED_CONTROLS)
    assert controls["seen"] > 0 and controls["unnamed"] == [], controls
    seen = view.evaluate(CONTRAST)
    assert seen["background"] < 0.2 < seen["text"], seen
    # WCAG's contrast ratio for body text: at least 4.5:1.
    assert (seen["text"] + 0.05) / (seen["background"] + 0.05) >= 4.5, seen


@pytest.fixture
def dark(page: Page) -> Iterator[LabUI]:
    """The page in JupyterLab Dark; Light again afterwards (the setting is the server's)."""
    ui = LabUI(page)
    ui.use_theme("JupyterLab Dark")
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false")
    yield ui
    if not page.locator(".jp-Dialog").is_visible():
        ui.use_theme("JupyterLab Light")
        expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "true")


def press_until_focused(page: Page, key: str, target: Locator, most: int = 12) -> None:
    """Press ``key`` until ``target`` has the focus, as a keyboard user tabs along."""
    for _ in range(most):
        if target.evaluate("el => el === document.activeElement"):
            return
        page.keyboard.press(key)
    expect(target).to_be_focused()


@pytest.mark.as_user("kim")
def test_student_starts_and_submits_by_keyboard_in_the_dark_theme(
    page: Page, lab_server: LabServer, dark: LabUI
) -> None:
    klass = make_class(lab_server, {"kim": "student"})
    a = make_assignment(lab_server, klass["id"])
    ui = dark
    panel = ui.open_panel()
    expect(panel.locator(".muscode-Header-status")).to_contain_text("Signed in as kim")
    refresh = panel.get_by_role("button", name="Refresh the classes")
    refresh.focus()
    page.keyboard.press("Enter")
    row = panel.locator(f'.muscode-Class[data-class="{klass["slug"]}"]')
    toggle = row.locator(".muscode-Class-toggle")
    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    assignment = row.locator('.muscode-Assignment[data-assignment="Shout"]')
    assignment.locator(".muscode-Assignment-open").focus()
    page.keyboard.press("Enter")
    v = view(page, f"muscode-assignment-{a['id']}")
    assert_named_and_dark(panel)

    start = v.locator(".muscode-Assignment-start")
    start.focus()
    page.keyboard.press("Enter")
    expect(assignment).to_have_attribute("data-status", "started")
    ui.tab("Shout").click()
    # Check, then Tab to Submit: the actions are in the tab order, in reading order.
    check = v.locator(".muscode-Assignment-check")
    expect(check).to_be_enabled()
    check.focus()
    page.keyboard.press("Enter")
    expect(v.locator(".muscode-Check")).to_contain_text("visible tests pass", timeout=60_000)
    submit = v.locator(".muscode-Assignment-submit")
    check.focus()
    press_until_focused(page, "Tab", submit, most=3)
    page.keyboard.press("Enter")
    dialog = ui.dialog()
    expect(dialog.get_by_role("button", name="Submit")).to_be_focused()
    page.keyboard.press("Enter")
    latest = v.locator(".muscode-Submissions-mine .muscode-Submission")
    expect(latest).to_have_attribute("data-status", "graded", timeout=60_000)
    # The starter prints nothing: both tests fail, the hidden one as "Failed" only.
    expect(latest.locator(".muscode-Submission-score")).to_contain_text("Attempt 1: score 0 / 3")
    expect(latest.locator('tr[data-test="quiet"] .muscode-Submission-result')).to_have_text(
        "Failed"
    )
    assert_named_and_dark(v)
    shot(page, "29-assignment-dark-keyboard")
    (mine,) = lab_server.api_as("kim", "GET", f"assignments/{a['id']}/submissions").body
    assert mine["attempt"] == 1 and mine["score"] == 0


def test_staff_views_by_keyboard_in_the_dark_theme(
    page: Page, lab_server: LabServer, dark: LabUI
) -> None:
    klass = make_class(lab_server, {"student": "instructor", "lee": "student"})
    a = make_assignment(lab_server, klass["id"])
    submit_as(lab_server, "lee", a["id"], HALF_RIGHT)
    ui = dark
    row = open_class(ui, klass["slug"])

    # Each staff view opens from the keyboard, names every control and follows the theme.
    for button, widget_id in (
        ("Roster", f"muscode-roster-{klass['id']}"),
        ("Grades", f"muscode-gradebook-{klass['id']}"),
        ("Edit Shout", f"muscode-editor-{klass['id']}-{a['id']}"),
        ("Submissions of Shout", f"muscode-submissions-{a['id']}"),
    ):
        row.get_by_role("button", name=button).focus()
        page.keyboard.press("Enter")
        assert_named_and_dark(view(page, widget_id))
    subs = view(page, f"muscode-submissions-{a['id']}")

    # Override lee's score without the mouse: Enter opens the form with the score
    # focused, Tab moves to the comment, then on to "Set score".
    lee = subs.locator('tr[data-student="lee"]')
    expect(lee.locator(".muscode-Submissions-score")).to_contain_text("1 / 3")
    lee.get_by_role("button", name="Override the score of lee").focus()
    page.keyboard.press("Enter")
    dialog = ui.dialog()
    score = dialog.get_by_label("Score (points)")
    expect(score).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type("2")
    page.keyboard.press("Tab")
    expect(dialog.get_by_label("Comment for the student")).to_be_focused()
    page.keyboard.type("Typed, not clicked.")
    press_until_focused(page, "Tab", dialog.get_by_role("button", name="Set score"), most=4)
    assert_named_and_dark(dialog)
    shot(page, "30-override-dark-keyboard")
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(lee.locator(".muscode-Submissions-score")).to_contain_text("2 / 3")
    (lees,) = lab_server.api("GET", f"assignments/{a['id']}/submissions?student=lee")
    assert lees["score"] == 2 and lees["override"]["comment"] == "Typed, not clicked."

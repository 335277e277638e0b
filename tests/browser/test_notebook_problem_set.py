"""A problem set of two notebooks in JupyterLab: an instructor imports two nbgrader
source notebooks at once in the editor (both with a ``q1`` and a manual ``explain``),
names them ``ps1/…`` and publishes; a student finds both release notebooks in her
project, answers one right and one wrong, checks the notebook she chooses and submits;
her results come grouped by notebook; the staff score the ``explain`` of each notebook
(qualified keys, both scores kept), and the student reads the final total with no
solution or hidden test of either notebook in her page.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import LabServer, open_lab, require_playwright

require_playwright()

from labui import LabUI, shot  # noqa: E402
from playwright.sync_api import Locator, Page, expect  # noqa: E402
from test_assignments import make_class, open_class, view  # noqa: E402
from test_notebook_assignments import GRADING_MS  # noqa: E402

from tests.nbsets import problem_notebook  # noqa: E402

pytestmark = pytest.mark.timeout(900)

ONE, TWO = "ps1/problem1.ipynb", "ps1/problem2.ipynb"
TITLE = "Problem set 1"
SECRET_ONE, SECRET_TWO = 70913, 52361
#: Text of the sources only the staff may see: solutions, hidden tests, model answers.
SECRETS = (
    str(SECRET_ONE),
    str(SECRET_TWO),
    "BEGIN SOLUTION",
    "HIDDEN TESTS",
    "return 2 * n",
    "return 3 * n",
    "Doubling is adding",
    "Tripling is adding",
)
#: Her answers: problem 1 right (all its autograded points, 3), problem 2 wrong (none).
ANSWERS = {ONE: "def double(n):\n    return n + n\n", TWO: "def triple(n):\n    return n + 1\n"}


SOURCES = {
    ONE: problem_notebook("double", 2, SECRET_ONE, "Doubling is adding the number to itself."),
    TWO: problem_notebook("triple", 3, SECRET_TWO, "Tripling is adding it twice."),
}


def answer(server: LabServer, name: str, project_id: str, path: str, code: str) -> None:
    """``name`` answers the release notebook ``path`` of her project: ``code`` in its
    solution cell and a sentence of her own in its written answer."""
    files = server.api_as(name, "GET", f"projects/{project_id}/files").body
    meta = next(f for f in files if f["path"] == path)
    got = server.api_as(name, "GET", f"projects/{project_id}/files/{meta['id']}").body
    release = json.loads(got["content"])
    # what she got is the release: no solution, no hidden test, no model answer
    for secret in SECRETS:
        assert secret not in got["content"], (path, secret)
    release["cells"][0]["source"] = code
    for cell in release["cells"]:
        if cell["cell_type"] == "markdown" and "YOUR ANSWER HERE" in "".join(cell["source"]):
            cell["source"] = f"Because {path} says so."
    reply = server.api_as(
        name,
        "PUT",
        f"projects/{project_id}/files/{meta['id']}",
        {"content": json.dumps(release), "version": got["version"]},
    )
    assert reply.status == 200, reply


def group(table: Locator, notebook: str) -> Locator:
    """The rows of ``notebook`` in a table of cells grouped by notebook."""
    body = table.locator(f'tbody[data-notebook="{notebook}"]')
    expect(body.locator(".muscode-NotebookGroup")).to_have_text(notebook)
    return body


def test_a_problem_set_of_two_notebooks_imported_submitted_and_graded(
    page: Page, lab_server: LabServer, browser: object, tmp_path: Path
) -> None:
    klass = make_class(lab_server, {"student": "instructor", "nell": "student"})
    ui = LabUI(page)
    row = open_class(ui, klass["slug"])

    # The instructor chooses both source notebooks at once and puts them in ps1/.
    chosen = []
    for path, notebook in SOURCES.items():
        file = tmp_path / Path(path).name
        file.write_text(json.dumps(notebook))
        chosen.append(str(file))
    row.get_by_role("button", name="New assignment").click()
    editor = view(page, f"muscode-editor-{klass['id']}-new")
    editor.get_by_label("Title").fill(TITLE)
    editor.get_by_label("Graded by").select_option("nbgrader")
    editor.get_by_label("Source notebooks (nbgrader; each becomes a starter file)").set_input_files(
        chosen
    )
    paths = editor.locator(".muscode-Editor-filePath")
    expect(paths).to_have_count(2)
    expect(paths.nth(0)).to_have_value("problem1.ipynb")
    expect(paths.nth(1)).to_have_value("problem2.ipynb")
    paths.nth(0).fill(ONE)
    paths.nth(1).fill(TWO)
    editor.get_by_label("Published (students see it)").check()
    editor.get_by_role("button", name="Create").click()
    expect(editor.locator(".muscode-Note")).to_contain_text(
        f'Saved and published: students see "{TITLE}"', timeout=60_000
    )
    # The graded cells, read-only and grouped by notebook: q1 twice, explain twice.
    cells = editor.locator(".muscode-Editor-cells")
    expect(cells).to_contain_text("10 points in all")
    for path in (ONE, TWO):
        mine = group(cells, path)
        expect(mine.locator('tr[data-cell="q1"][data-kind="auto"]')).to_contain_text("1")
        expect(mine.locator('tr[data-cell="q2"][data-kind="auto"]')).to_contain_text("hidden")
        expect(mine.locator('tr[data-cell="explain"][data-kind="manual"]')).to_contain_text("2")
    shot(page, "55-notebook-problem-set-editor")

    (saved,) = lab_server.api("GET", f"classes/{klass['id']}/assignments", expect=200)
    assert saved["format"] == "nbgrader" and saved["published"] is True
    assert saved["max_score"] == 10
    assert [f["path"] for f in saved["starter_files"]] == [ONE, TWO]
    assert [(t["notebook"], t["name"]) for t in saved["tests"]] == [
        (ONE, "q1"),
        (ONE, "q2"),
        (TWO, "q1"),
        (TWO, "q2"),
    ]
    assert [(m["notebook"], m["name"]) for m in saved["manual"]] == [
        (ONE, "explain"),
        (TWO, "explain"),
    ]
    aid = saved["id"]

    context, student = open_lab(browser, lab_server, "nell", "nb-ps-nell")
    try:
        # She starts it and finds both release notebooks in her project, in ps1/.
        sui = LabUI(student)
        srow = open_class(sui, klass["slug"]).locator(
            f'.muscode-Assignment[data-assignment="{TITLE}"]'
        )
        expect(srow).to_have_attribute("data-status", "not_started")
        srow.locator(".muscode-Assignment-open").click()
        mine = view(student, f"muscode-assignment-{aid}")
        expect(mine.locator(".muscode-Assignment-tests")).to_have_text(
            "4 test cells (2 visible, 2 hidden), 2 graded by your teacher; 10 points"
        )
        mine.locator(".muscode-Assignment-start").click()
        files = sui.panel.locator(".muscode-Files")
        folder = files.locator(".jp-DirListing-item", has_text="ps1")
        expect(folder).to_be_visible()
        folder.dblclick()
        for path in (ONE, TWO):
            name = Path(path).name
            expect(files.locator(".jp-DirListing-item", has_text=name)).to_be_visible()
        expect(srow).to_have_attribute("data-status", "started")

        # Her answers (written through the API): problem 1 right, problem 2 wrong.
        project_id = lab_server.api_as("nell", "GET", f"assignments/{aid}").body["my"]["project_id"]
        for path, code in ANSWERS.items():
            answer(lab_server, "nell", project_id, path, code)
        # Check runs the notebook she chooses: problem 2, with its visible q1 only.
        choice = mine.get_by_label("Notebook to check")
        expect(choice).to_have_value(ONE)
        choice.select_option(TWO)
        with student.expect_request(
            lambda r: r.method == "POST" and r.url.split("?")[0].endswith("/check")
        ) as sent:
            mine.locator(".muscode-Assignment-check").click()
        assert sent.value.post_data_json == {"project_id": project_id, "notebook": TWO}
        check = mine.locator(f'.muscode-Check[data-notebook="{TWO}"]')
        expect(check).to_contain_text(
            f"Check of {TWO}: 0 of 1 visible test cells ran without errors", timeout=GRADING_MS
        )
        expect(check.locator('tr[data-test="q1"]')).to_contain_text("Failed: AssertionError")
        expect(check.locator("tr[data-test]")).to_have_count(1)
        mine.locator(".muscode-Assignment-submit").click()
        sui.dialog().get_by_role("button", name="Submit").click()
        latest = mine.locator(".muscode-Submissions-mine .muscode-Submission")
        # one grading run per notebook, one after the other
        expect(latest).to_have_attribute("data-status", "graded", timeout=2 * GRADING_MS)
        expect(latest.locator(".muscode-Submission-score")).to_contain_text(
            "Attempt 1: score 3 / 10"
        )
        # Her results, grouped by notebook: the two q1 apart.
        tests = latest.locator(".muscode-Submission-tests")
        right, wrong = group(tests, ONE), group(tests, TWO)
        expect(right.locator('tr[data-test="q1"]')).to_contain_text("Passed")
        expect(right.locator('tr[data-test="q1"]')).to_contain_text("1 / 1")
        expect(right.locator('tr[data-test="q2"]')).to_have_attribute("data-hidden", "true")
        expect(right.locator('tr[data-test="q2"]')).to_contain_text("2 / 2")
        expect(wrong.locator('tr[data-test="q1"]')).to_contain_text("Failed")
        expect(wrong.locator('tr[data-test="q1"]')).to_contain_text("0 / 1")
        hidden = wrong.locator('tr[data-test="q2"]')
        expect(hidden.locator(".muscode-Submission-result")).to_have_text("Failed")
        expect(hidden).to_contain_text("0 / 2")
        expect(hidden.locator("details")).to_have_count(0)
        manual = latest.locator(".muscode-Submission-manual")
        for path in (ONE, TWO):
            expect(group(manual, path).locator('tr[data-cell="explain"]')).to_contain_text(
                "not graded yet"
            )

        # The staff score the explain of each notebook, one save after the other.
        row.get_by_role("button", name=f"Submissions of {TITLE}").click()
        subs = view(page, f"muscode-submissions-{aid}")
        nell = subs.locator('.muscode-Submissions-table tr[data-student="nell"]')
        expect(nell.locator(".muscode-Submissions-score")).to_contain_text("3 / 10")
        nell.get_by_role("button", name="Tests of nell, attempt 1").click()
        grading = subs.get_by_role("region", name="Manually graded cells of nell")
        group(grading, ONE).locator('tr[data-cell="explain"] summary').click()
        expect(group(grading, ONE).locator('tr[data-cell="explain"] pre')).to_have_text(
            f"Because {ONE} says so."
        )
        first = grading.get_by_label(f"Points for {ONE}:explain (0 to 2)")
        second = grading.get_by_label(f"Points for {TWO}:explain (0 to 2)")
        expect(first).to_have_value("")
        expect(second).to_have_value("")
        saves: list[Any] = []

        def save() -> Any:
            with page.expect_request(
                lambda r: r.method == "PATCH" and "/submissions/" in r.url
            ) as sent:
                grading.get_by_role("button", name="Save scores").click()
            saves.append(sent.value.post_data_json)
            return saves[-1]

        first.fill("2")
        assert save() == {"manual_scores": {f"{ONE}:explain": 2}}
        expect(grading.locator(".muscode-Note")).to_contain_text("total 5 / 10")
        expect(nell.locator(".muscode-Submissions-score")).to_contain_text("5 / 10")
        second.fill("1.5")
        assert save() == {"manual_scores": {f"{ONE}:explain": 2, f"{TWO}:explain": 1.5}}
        expect(grading.locator(".muscode-Note")).to_contain_text("total 6.5 / 10")
        expect(grading.locator(".muscode-Error")).to_have_count(0)
        expect(nell.locator(".muscode-Submissions-score")).to_contain_text("6.5 / 10")
        expect(first).to_have_value("2")
        expect(second).to_have_value("1.5")
        shot(page, "56-notebook-problem-set-grading")
        (sub,) = lab_server.api("GET", f"assignments/{aid}/submissions?student=nell")
        assert sub["score"] == 6.5
        scored = {
            (m["notebook"], m["name"]): (m["score"], m["scored_by_staff"]) for m in sub["manual"]
        }
        assert scored == {(ONE, "explain"): (2, True), (TWO, "explain"): (1.5, True)}

        # She reads the final total, each explain's score in its notebook's group.
        mine.locator(".muscode-Assignment-refresh").click()
        expect(latest.locator(".muscode-Submission-score")).to_contain_text(
            "Attempt 1: score 6.5 / 10"
        )
        expect(student.locator(".muscode-Assignment-score").first).to_have_text("score 6.5 / 10")
        expect(group(manual, ONE).locator('tr[data-cell="explain"]')).to_contain_text("2 / 2")
        expect(group(manual, TWO).locator('tr[data-cell="explain"]')).to_contain_text("1.5 / 2")
        shot(student, "57-notebook-problem-set-student")
        # Nothing of either source's solutions, hidden tests or model answers.
        text = student.content()
        for secret in SECRETS:
            assert secret not in text, secret
    finally:
        context.close()

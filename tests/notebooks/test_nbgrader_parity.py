"""Same release, same scores as nbgrader itself.

nbgrader 0.9 (the ``test`` extra) runs ``generate_assignment`` and ``autograde`` on the
fixture notebooks in a temporary course directory, in a subprocess of its own. MUSCode
grades the same submissions in the local sandbox. The submissions cover solution
regions, hidden tests, a student who edited test cells, deleted test cells, an infinite
loop (stopped by the per-cell timeout), a cell that raises, a kernel that crashes and an
unanswered manually graded cell.

nbgrader puts deleted test cells back only with ``OverwriteCells.add_missing_cells``,
which MUSCode always does; the course here turns it on.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from muscode_ext.execution import DEFAULT_LANGUAGES, Limits, LocalSandbox
from muscode_ext.notebooks.autograde import NotebookScore
from muscode_ext.notebooks.jobs import grade_notebook
from muscode_ext.notebooks.nbevents import source_of
from muscode_ext.notebooks.release import make_release, source_record

from ..conftest import need_bubblewrap, need_service
from .conftest import DATA, STUDENTS, load

pytestmark = [pytest.mark.usefixtures("system_python"), pytest.mark.timeout(900)]

CELL_TIMEOUT_S = 5
LIMITS = Limits(cpu_time_ms=30_000, wall_time_ms=60_000, memory_mb=256, processes=32)
#: What the fixture set must cover (the issue's list).
CASES = {
    "perfect",
    "blank",
    "wrong",
    "hidden_only",
    "edited_tests",
    "deleted_tests",
    "infinite_loop",
    "raises",
    "kernel_crash",
    "manual_unanswered",
}

_DUMP = textwrap.dedent(
    """
    import json, sys, warnings
    warnings.simplefilter("ignore")
    from nbgrader.api import Gradebook
    out = {}
    with Gradebook(sys.argv[1]) as gb:
        for student in sys.argv[2:]:
            nb = gb.find_submission_notebook("squares", "ps1", student)
            out[student] = {g.name: g.auto_score for g in nb.grades}
    print(json.dumps(out))
    """
)


def _nbgrader(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run(
        [sys.executable, *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=800,
        check=False,
    )


@pytest.fixture(scope="module")
def nbgrader_course(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """nbgrader's release of the source and its autograde scores of every student."""
    root = tmp_path_factory.mktemp("course")
    (root / "source" / "ps1").mkdir(parents=True)
    (root / "source" / "ps1" / "squares.ipynb").write_bytes(
        (DATA / "source" / "squares.ipynb").read_bytes()
    )
    (root / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(root)!r}\n"
        f"c.Execute.timeout = {CELL_TIMEOUT_S}\n"
        "c.OverwriteCells.add_missing_cells = True\n"
    )
    for student in STUDENTS:
        dest = root / "submitted" / student / "ps1"
        dest.mkdir(parents=True)
        (dest / "squares.ipynb").write_bytes((DATA / "submitted" / f"{student}.ipynb").read_bytes())
    made = _nbgrader(root, "-m", "nbgrader", "generate_assignment", "ps1", "--force")
    assert made.returncode == 0, made.stderr[-3000:]
    # autograde fails (exit 1) for the notebook whose kernel crashes; the rest is graded
    graded = _nbgrader(root, "-m", "nbgrader", "autograde", "ps1", "--force")
    assert "Kernel died" in graded.stderr, graded.stderr[-3000:]
    dump = _nbgrader(root, "-c", _DUMP, f"sqlite:///{root}/gradebook.db", *STUDENTS)
    assert dump.returncode == 0, dump.stderr[-3000:]
    release = json.loads((root / "release" / "ps1" / "squares.ipynb").read_text())
    return {"scores": json.loads(dump.stdout), "release": release}


@pytest.fixture(scope="module")
def muscode_scores() -> dict[str, NotebookScore]:
    need_bubblewrap()
    record = source_record(load("source/squares.ipynb"))

    async def grade_all() -> dict[str, NotebookScore]:
        sandbox = LocalSandbox(work_dir_mb=32)
        await sandbox.start()
        try:
            problem = await sandbox.check()
            if problem is not None:
                need_service("the local sandbox (bubblewrap)", problem)
            out = {}
            for student in STUDENTS:
                out[student], _ = await grade_notebook(
                    sandbox,
                    DEFAULT_LANGUAGES["python"],
                    record,
                    load(f"submitted/{student}.ipynb"),
                    limits=LIMITS,
                    path="squares.ipynb",
                    cell_timeout_s=CELL_TIMEOUT_S,
                )
            return out
        finally:
            await sandbox.stop()

    return asyncio.run(grade_all())


def test_the_fixtures_cover_every_case() -> None:
    assert set(STUDENTS) == CASES


def test_the_release_is_the_one_nbgrader_makes_now(nbgrader_course: dict[str, Any]) -> None:
    def normal(nb: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(nb)
        for cell in out["cells"]:
            cell["source"] = source_of(cell)
        return out

    ours, _ = make_release(load("source/squares.ipynb"))
    assert normal(ours) == normal(nbgrader_course["release"])


@pytest.mark.parametrize("student", sorted(CASES))
def test_autograded_points_are_nbgraders(
    nbgrader_course: dict[str, Any], muscode_scores: dict[str, NotebookScore], student: str
) -> None:
    theirs = nbgrader_course["scores"][student]
    ours = muscode_scores[student]
    # nbgrader leaves a notebook it could not run unscored (None): nothing, as here
    assert {t.grade_id: t.points_awarded for t in ours.tests} == {
        t.grade_id: theirs[t.grade_id] or 0.0 for t in ours.tests
    }
    # manually graded cells: 0 for an unchanged answer, else left to staff (None)
    assert {m.grade_id: m.points_awarded for m in ours.manual} == {
        m.grade_id: theirs[m.grade_id] for m in ours.manual
    }
    assert set(theirs) == {c.grade_id for c in (*ours.tests, *ours.manual)}


def test_the_scores_differ_between_students(muscode_scores: dict[str, NotebookScore]) -> None:
    totals = {s: score.auto_points for s, score in muscode_scores.items()}
    assert totals["perfect"] == 7.0
    assert totals["blank"] == 0.0
    assert totals["edited_tests"] == totals["wrong"] < totals["hidden_only"] < 7.0
    assert totals["deleted_tests"] == 7.0
    assert muscode_scores["kernel_crash"].failure is not None

"""Write the fixture notebooks of ``tests/notebooks/data/`` (run by hand, not by pytest).

    .venv/bin/python tests/notebooks/make_fixtures.py

``source/squares.ipynb`` is an nbgrader source notebook; ``release/squares.ipynb`` is
what nbgrader's own ``generate_assignment`` makes of it; each ``submitted/<student>.ipynb``
is that release as a student might hand it in. Cell ids are fixed so that the files
do not change from one run of this script to the next.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"


def cell(
    kind: str, cid: str, source: str, nbgrader: dict[str, Any] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"cell_type": kind, "id": cid, "metadata": {}, "source": source}
    if kind == "code":
        out["execution_count"] = None
        out["outputs"] = []
    if nbgrader is not None:
        out["metadata"]["nbgrader"] = {"schema_version": 3, "task": False, **nbgrader}
    return out


def test(grade_id: str, points: float) -> dict[str, Any]:
    return {
        "grade": True,
        "solution": False,
        "locked": True,
        "grade_id": grade_id,
        "points": points,
    }


def answer(grade_id: str, points: float | None = None) -> dict[str, Any]:
    meta = {"grade": points is not None, "solution": True, "locked": False, "grade_id": grade_id}
    return meta if points is None else {**meta, "points": points}


SOURCE_CELLS = [
    cell("markdown", "intro", "# Squares\n\nFill in the functions below."),
    cell(
        "code",
        "setup",
        "import math\n\nLIMIT = 10",
        {"grade": False, "solution": False, "locked": True, "grade_id": "setup"},
    ),
    cell(
        "code",
        "squares",
        'def squares(n):\n    """Return the squares of 1..n, in a list."""\n'
        "    ### BEGIN SOLUTION\n    return [i * i for i in range(1, n + 1)]\n"
        "    ### END SOLUTION",
        answer("squares"),
    ),
    cell(
        "code",
        "test-squares",
        '"""Check that squares returns the right answers."""\n'
        "assert squares(1) == [1]\nassert squares(3) == [1, 4, 9]",
        test("test_squares", 1),
    ),
    cell(
        "code",
        "test-squares-hidden",
        "assert squares(2) == [1, 4]\n### BEGIN HIDDEN TESTS\n"
        "assert squares(10) == [i * i for i in range(1, 11)]\n"
        "assert squares(LIMIT)[-1] == 100\n### END HIDDEN TESTS",
        test("test_squares_hidden", 2),
    ),
    cell(
        "code",
        "mean",
        'def mean(xs):\n    """Return the mean of xs."""\n    """ BEGIN SOLUTION """\n'
        '    return sum(xs) / len(xs)\n    """ END SOLUTION """',
        answer("mean"),
    ),
    cell(
        "code",
        "test-mean",
        "assert mean([1, 2, 3]) == 2\nassert math.isclose(mean([0.1, 0.2]), 0.15)",
        test("test_mean", 1),
    ),
    cell(
        "code",
        "test-partial",
        "score = 0.0\n"
        "for check in (lambda: squares(4) == [1, 4, 9, 16], lambda: mean([4, 6]) == 5):\n"
        "    try:\n        score += 1.0 if check() else 0.0\n    except NotImplementedError:\n"
        "        pass\nscore",
        test("test_partial", 2),
    ),
    cell(
        "code",
        "test-quiet",
        "import sys\n\nif squares(0) != []:\n"
        '    print("squares(0) should be an empty list", file=sys.stderr)',
        test("test_quiet", 1),
    ),
    cell(
        "markdown",
        "explain",
        "Why do squares grow faster than the numbers themselves?\n\n"
        "### BEGIN SOLUTION\nEach square multiplies the number by itself.\n### END SOLUTION",
        answer("explain", 2),
    ),
    cell(
        "code",
        "describe",
        'def describe():\n    ### BEGIN SOLUTION\n    return "squares"\n    ### END SOLUTION',
        answer("describe", 1),
    ),
    cell(
        "markdown",
        "task-style",
        "Is the code easy to read? (graded by hand)\n\n"
        "### BEGIN MARK SCHEME\nFull marks for clear names.\n### END MARK SCHEME",
        {
            "grade": False,
            "solution": False,
            "locked": True,
            "task": True,
            "grade_id": "task_style",
            "points": 1,
        },
    ),
]

SOURCE = {
    "cells": SOURCE_CELLS,
    "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}

GOOD = {
    "squares": 'def squares(n):\n    """Return the squares of 1..n, in a list."""\n'
    "    return [i * i for i in range(1, n + 1)]",
    "mean": 'def mean(xs):\n    """Return the mean of xs."""\n    return sum(xs) / len(xs)',
    "describe": 'def describe():\n    return "numbers times themselves"',
    "explain": "Why do squares grow faster than the numbers themselves?\n\n"
    "Because n*n > n for n > 1.",
}
OFF_BY_ONE = "def squares(n):\n    return [i * i for i in range(n)]"


def by_id(nb: dict[str, Any], cid: str) -> dict[str, Any]:
    return next(c for c in nb["cells"] if c["id"] == cid)


def student(release: dict[str, Any], answers: dict[str, str]) -> dict[str, Any]:
    nb = copy.deepcopy(release)
    for cid, source in answers.items():
        by_id(nb, cid)["source"] = source
    return nb


def students(release: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {"blank": copy.deepcopy(release), "perfect": student(release, GOOD)}
    out["wrong"] = student(release, {**GOOD, "squares": OFF_BY_ONE})
    out["hidden_only"] = student(
        release,
        {**GOOD, "squares": "def squares(n):\n    return [i * i for i in range(1, min(n, 9) + 1)]"},
    )
    edited = student(release, {**GOOD, "squares": OFF_BY_ONE})
    by_id(edited, "test-squares")["source"] = "pass  # nothing to see"
    by_id(edited, "test-squares")["metadata"]["nbgrader"]["points"] = 100
    by_id(edited, "test-squares-hidden")["source"] = "assert True"
    by_id(edited, "test-quiet")["cell_type"] = "markdown"
    by_id(edited, "test-quiet").pop("outputs")
    by_id(edited, "test-quiet").pop("execution_count")
    out["edited_tests"] = edited
    deleted = student(release, GOOD)
    deleted["cells"] = [
        c for c in deleted["cells"] if c["id"] not in ("test-squares-hidden", "test-mean")
    ]
    out["deleted_tests"] = deleted
    out["infinite_loop"] = student(
        release, {**GOOD, "squares": "while True:\n    pass\n\n" + GOOD["squares"]}
    )
    out["raises"] = student(
        release, {**GOOD, "mean": 'raise RuntimeError("not today")\n' + GOOD["mean"]}
    )
    out["kernel_crash"] = student(release, {**GOOD, "mean": "import os\n\nos._exit(1)"})
    manual = student(release, GOOD)
    by_id(manual, "explain")["source"] = by_id(release, "explain")["source"]
    out["manual_unanswered"] = manual
    return out


def nbgrader_release(source: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "source" / "ps1").mkdir(parents=True)
        (root / "source" / "ps1" / "squares.ipynb").write_text(json.dumps(source))
        (root / "nbgrader_config.py").write_text(f"c.CourseDirectory.root = {str(root)!r}\n")
        subprocess.run(
            [sys.executable, "-m", "nbgrader", "generate_assignment", "ps1", "--force"],
            cwd=root,
            check=True,
            capture_output=True,
            # nbgrader runs the ``alembic`` command of its own environment
            env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
        )
        return dict(json.loads((root / "release" / "ps1" / "squares.ipynb").read_text()))


def write(path: Path, nb: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def main() -> None:
    write(DATA / "source" / "squares.ipynb", SOURCE)
    release = nbgrader_release(SOURCE)
    write(DATA / "release" / "squares.ipynb", release)
    for name, nb in students(release).items():
        write(DATA / "submitted" / f"{name}.ipynb", nb)


if __name__ == "__main__":
    main()
